"""A person's own settings (`!prefs`): the model their new threads start on. Owns the UserPreference table.

A preference belongs to a person in one workspace of one platform (Slack user ids are per workspace). It is read
when a thread starts (not kept in the config snapshot: it changes with every reply when "start where I left off"
is on) and the last model used is written in the transaction that stores a reply, one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection

from core.storage.db import connection, off_loop
from core.storage.tables import UserPreference, utcnow

_TABLE = UserPreference.__table__  # type: ignore[attr-defined]
_KEY = ("platform", "workspace", "user_id")


@dataclass(frozen=True)
class Person:
    platform: str
    workspace: str
    user_id: str


@dataclass(frozen=True)
class Preference:
    person: Person
    default_model: str | None = None
    follow_last: bool = False  # "start where I left off"
    last_model: str | None = None
    updated_at: datetime | None = None

    @property
    def start_models(self) -> list[tuple[str, str]]:
        """The models this person's new threads start on, first one allowed wins, each with why ("last" or
        "personal"): with "start where I left off" on, the model they used last, then their default."""
        picks = [(self.last_model, "last")] if self.follow_last and self.last_model else []
        picks += [(self.default_model, "personal")] if self.default_model else []
        return list(dict.fromkeys(picks))

    @property
    def is_set(self) -> bool:
        return bool(self.default_model or self.follow_last)


def _insert(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(_TABLE)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(_TABLE)


def _upsert(conn: Connection, person: Person, **values: object) -> None:
    """Create the person's row or change `values` in it, race-safe on the unique (platform, workspace, user)."""
    row = {"platform": person.platform, "workspace": person.workspace, "user_id": person.user_id}
    stmt = _insert(conn).values({**row, "follow_last": False, **values, "updated_at": utcnow()})
    changed = {name: stmt.excluded[name] for name in (*values, "updated_at")}
    conn.execute(stmt.on_conflict_do_update(index_elements=list(_KEY), set_=changed))


_remember_last: dict[str, Any] = {}


def remember_last_model(conn: Connection, person: Person, model: str) -> None:
    """Note the model a person just used, inside the caller's transaction (the one storing the reply): a single
    prebuilt upsert that writes nothing when it is the model already noted."""
    if len(person.user_id) > 64 or len(person.workspace) > 64 or len(model) > 300:
        return  # not a key this table holds (the columns' sizes): never fail the reply's transaction over it
    stmt = _remember_last.get(conn.dialect.name)
    if stmt is None:
        ins = _insert(conn).values(
            platform=bindparam("platform"),
            workspace=bindparam("workspace"),
            user_id=bindparam("user_id"),
            follow_last=False,
            last_model=bindparam("model"),
            updated_at=bindparam("now"),
        )
        stmt = _remember_last[conn.dialect.name] = ins.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={"last_model": ins.excluded.last_model, "updated_at": ins.excluded.updated_at},
            where=_TABLE.c.last_model.is_distinct_from(ins.excluded.last_model),
        )
    conn.execute(
        stmt,
        {
            "platform": person.platform,
            "workspace": person.workspace,
            "user_id": person.user_id,
            "model": model,
            "now": utcnow(),
        },
    )


def _of(person: Person, row: Any) -> Preference:
    return Preference(person, row.default_model, bool(row.follow_last), row.last_model, row.updated_at)


def preference(person: Person) -> Preference:
    """The person's settings (all unset when they have none)."""
    with connection() as conn:
        row = conn.execute(
            select(_TABLE).where(
                _TABLE.c.platform == person.platform,
                _TABLE.c.workspace == person.workspace,
                _TABLE.c.user_id == person.user_id,
            )
        ).first()
    return _of(person, row) if row is not None else Preference(person)


def set_default(person: Person, model: str | None) -> Preference:
    """Set (or with None, forget) the model the person's new threads start on."""
    with connection(write=True) as conn:
        _upsert(conn, person, default_model=model)
    return preference(person)


def set_follow_last(person: Person, on: bool) -> Preference:
    """Turn "start where I left off" on or off."""
    with connection(write=True) as conn:
        _upsert(conn, person, follow_last=on)
    return preference(person)


def clear(person: Person) -> None:
    """Forget everything about the person's preferences (the last model is noted again as they use one)."""
    with connection(write=True) as conn:
        conn.execute(
            delete(_TABLE).where(
                _TABLE.c.platform == person.platform,
                _TABLE.c.workspace == person.workspace,
                _TABLE.c.user_id == person.user_id,
            )
        )


def everyone(*, only_set: bool = False) -> list[Preference]:
    """Every person's settings, for admins (`only_set`: those who chose a default or "start where I left off")."""
    stmt = select(_TABLE).order_by(_TABLE.c.platform, _TABLE.c.workspace, _TABLE.c.user_id)
    if only_set:
        stmt = stmt.where((_TABLE.c.default_model.is_not(None)) | _TABLE.c.follow_last)
    with connection() as conn:
        rows = conn.execute(stmt).all()
    return [_of(Person(r.platform, r.workspace, r.user_id), r) for r in rows]


preference_async = off_loop(preference)
set_default_async = off_loop(set_default)
set_follow_last_async = off_loop(set_follow_last)
clear_async = off_loop(clear)
