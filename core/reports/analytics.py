"""Usage analytics over stored replies: spend and tokens by day, model, provider, workspace, channel or user,
and the top threads by cost. Read-only; the CLI and the admin's Usage page are thin layers over it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from core.budgets.periods import zone
from core.errors import UserError
from core.settings import get_settings
from core.storage.db import connection
from core.storage.tables import Conversation, Message

GROUPS = ("day", "model", "provider", "workspace", "channel", "user")
COSTED = ("assistant", "compare", "tool")  # every model call: a reply's tool rounds are rows of their own
REPLIES = ("assistant", "compare")
ANSWERED = ("ok", "partial", "interrupted")
_M = Message.__table__  # type: ignore[attr-defined]
_C = Conversation.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UsageRow:
    key: str
    replies: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    unknown_cost: int  # replies whose price is unknown: their cost is not in cost_usd
    tool_rounds: int = 0  # model calls of those replies that ended in tool calls (their tokens and cost are above)
    tool_ms: float = 0.0  # how long those replies' tools ran

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _measures() -> list[Any]:
    """Replies are counted once; tokens and cost are every model call's, a reply's tool rounds included."""
    answered = _M.c.status.in_(ANSWERED) & _M.c.role.in_(REPLIES)
    return [
        func.sum(case((answered, 1), else_=0)).label("replies"),
        func.coalesce(func.sum(_M.c.prompt_tokens), 0).label("prompt"),
        func.coalesce(func.sum(_M.c.completion_tokens), 0).label("completion"),
        func.coalesce(func.sum(_M.c.cost_usd), 0.0).label("cost"),
        func.sum(case((answered & _M.c.cost_usd.is_(None), 1), else_=0)).label("unknown"),
        func.coalesce(func.sum(_M.c.tool_rounds), 0).label("tool_rounds"),
        func.coalesce(func.sum(_M.c.tool_ms), 0.0).label("tool_ms"),
    ]


def _window(stmt: Any, since: datetime | None, until: datetime | None) -> Any:
    where = [_M.c.role.in_(COSTED), _M.c.status != "pending"]
    if since is not None:
        where.append(_M.c.created_at >= since)
    if until is not None:
        where.append(_M.c.created_at < until)
    return stmt.where(*where)


def _hour(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return func.date_trunc("hour", _M.c.created_at)
    return func.strftime("%Y-%m-%d %H:00:00", _M.c.created_at)


def usage_by(group_by: str, *, since: datetime | None = None, until: datetime | None = None) -> list[UsageRow]:
    """Spend and tokens grouped by `group_by` (see GROUPS); days follow the configured time zone."""
    if group_by not in GROUPS:
        raise UserError(f"Group by one of: {', '.join(GROUPS)}.")
    with connection() as conn:
        if group_by == "day":
            return _by_day(conn, since, until)
        column = {
            "model": _M.c.model,
            "provider": _M.c.provider,
            "user": _M.c.user_id,
            "workspace": _C.c.workspace,
            "channel": _C.c.channel,
        }[group_by]
        stmt = _window(
            select(column.label("key"), *_measures()).select_from(_M.join(_C, _C.c.id == _M.c.conversation_id)),
            since,
            until,
        )
        rows = conn.execute(stmt.group_by(column)).all()
    out = [
        UsageRow(
            str(r.key or "(none)"),
            int(r.replies or 0),
            int(r.prompt),
            int(r.completion),
            float(r.cost),
            int(r.unknown or 0),
            int(r.tool_rounds or 0),
            float(r.tool_ms or 0.0),
        )
        for r in rows
    ]
    return sorted(out, key=lambda r: (-r.cost_usd, -r.tokens, r.key))


def _by_day(conn: Connection, since: datetime | None, until: datetime | None) -> list[UsageRow]:
    # SQLite has no time zones: sum by UTC hour in SQL, then put each hour into its local day.
    hour = _hour(conn)
    stmt = _window(select(hour.label("hour"), *_measures()), since, until)
    rows = conn.execute(stmt.group_by(hour)).all()
    tz = zone(get_settings().timezone)
    days: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0, 0, 0, 0.0])
    for r in rows:
        at = r.hour if isinstance(r.hour, datetime) else datetime.fromisoformat(str(r.hour))
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        acc = days[at.astimezone(tz).strftime("%Y-%m-%d")]
        for i, value in enumerate((r.replies, r.prompt, r.completion, r.cost, r.unknown, r.tool_rounds, r.tool_ms)):
            acc[i] += value or 0
    return [
        UsageRow(day, int(v[0]), int(v[1]), int(v[2]), float(v[3]), int(v[4]), int(v[5]), float(v[6]))
        for day, v in sorted(days.items())
    ]
