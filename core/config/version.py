"""The config version: every admin change bumps it, and running bots rebuild what depends on config."""

from __future__ import annotations

from sqlalchemy import Integer, String, cast, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.storage.db import session
from core.storage.tables import Meta, utcnow

CONFIG_VERSION = "config.version"


def bump_config_version(s: Session | None = None) -> None:
    """Mark the configuration changed; pass the session of the change so both commit together."""
    if s is None:
        with session(write=True) as own:
            bump_config_version(own)
        return
    bumped = s.exec(
        update(Meta)
        .where(Meta.key == CONFIG_VERSION)  # type: ignore[arg-type]
        .values(value=cast(cast(Meta.value, Integer) + 1, String), updated_at=utcnow())
    )
    if bumped.rowcount == 0:
        try:
            with s.begin_nested():
                s.add(Meta(key=CONFIG_VERSION, value="1"))
        except IntegrityError:  # another process created it first: bump theirs
            bump_config_version(s)


def config_version() -> int:
    """The current config version (0 before any change)."""
    with session() as s:
        row = s.get(Meta, CONFIG_VERSION)
        return int(row.value) if row and row.value else 0
