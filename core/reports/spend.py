"""Spend as an admin reads it: totals for today and this month, each budget against its limit, and the costliest
threads between two dates. Days and months follow the configured time zone. Read-only: built on analytics
(replies) and the budget ledger (what budgets counted)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from core.budgets import ledger
from core.budgets.periods import bounds, describe_reset, zone
from core.budgets.store import MICROS, BudgetView, list_budgets
from core.reports.analytics import _measures, _window, usage_by  # the same measures as usage_by, so the figures agree
from core.settings import get_settings
from core.storage.db import connection
from core.storage.tables import Conversation, Message, utcnow

_M = Message.__table__  # type: ignore[attr-defined]
_C = Conversation.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Totals:
    replies: int
    tokens: int
    cost_usd: float  # replies of known price only
    unknown_cost: int  # replies whose price is unknown: not in cost_usd, never counted as free


def totals(since: datetime, until: datetime | None = None) -> Totals:
    """Replies, tokens and cost from `since` (UTC) to `until`, the same figures the Usage page sums."""
    rows = usage_by("day", since=since, until=until)
    return Totals(
        sum(r.replies for r in rows),
        sum(r.tokens for r in rows),
        sum(r.cost_usd for r in rows),
        sum(r.unknown_cost for r in rows),
    )


@dataclass(frozen=True)
class SpendNow:
    today: Totals
    month: Totals
    day_start: datetime
    month_start: datetime


def spend_now(now: datetime | None = None) -> SpendNow:
    """Spend since midnight and since the first of the month, in the configured time zone."""
    now = now or utcnow()
    tz = get_settings().timezone
    day_start, _ = bounds("day", now, tz)
    month_start, _ = bounds("month", now, tz)
    return SpendNow(totals(day_start), totals(month_start), day_start, month_start)


def local_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(zone(get_settings().timezone)).date()


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """UTC bounds of the local days `first` through `last` (both included)."""
    tz = zone(get_settings().timezone)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return start, end


@dataclass(frozen=True)
class DaySpend:
    day: date  # a local day (SWITCHBOARD_TIMEZONE)
    replies: int
    tokens: int
    cost_usd: float  # replies of known price only
    unknown_cost: int


def daily_spend(days: int = 30, now: datetime | None = None) -> list[DaySpend]:
    """Spend per local day for the last `days` days (today included), oldest first; days without replies are
    there with zeros, so a chart shows the quiet days too."""
    last = local_today(now)
    first = last - timedelta(days=max(1, days) - 1)
    since, until = day_range(first, last)
    found = {r.key: r for r in usage_by("day", since=since, until=until)}
    out = []
    for i in range((last - first).days + 1):
        day = first + timedelta(days=i)
        r = found.get(day.isoformat())
        out.append(DaySpend(day, r.replies, r.tokens, r.cost_usd, r.unknown_cost) if r else DaySpend(day, 0, 0, 0.0, 0))
    return out


@dataclass(frozen=True)
class BudgetStatus:
    budget: BudgetView
    spent_units: int  # micro-dollars (usd) or tokens, like the budget's limit_units
    reserved_units: int  # held by replies still being written
    period_end: datetime | None
    resets: str

    @property
    def spent(self) -> float:
        """USD (usd budgets) or tokens."""
        return self._value(self.spent_units)

    @property
    def reserved(self) -> float:
        return self._value(self.reserved_units)

    @property
    def used(self) -> float:
        """Spent as a fraction of the limit (above 1 when a warn-only budget went over)."""
        return self.spent_units / self.budget.limit_units

    def _value(self, units: int) -> float:
        return units / MICROS if self.budget.metric == "usd" else float(units)


def budget_statuses(
    budgets: list[BudgetView] | None = None, *, enabled_only: bool = False, now: datetime | None = None
) -> list[BudgetStatus]:
    """Each budget's spend in its current period, as the budget gate counts it, and when that period resets."""
    found = list_budgets() if budgets is None else budgets
    if enabled_only:
        found = [b for b in found if b.enabled]
    if not found:
        return []
    tz = get_settings().timezone
    states = ledger.current(found, tz=tz, now=now)
    return [
        BudgetStatus(
            b,
            states[b.id].spent,
            states[b.id].reserved,
            states[b.id].period_end,
            describe_reset(states[b.id].period_end, tz),
        )
        for b in found
    ]


@dataclass(frozen=True)
class ThreadCost:
    conversation_id: int
    platform: str
    workspace: str
    channel: str
    thread: str
    title: str
    replies: int
    tokens: int
    cost_usd: float
    unknown_cost: int


def costliest_threads(since: datetime | None, until: datetime | None = None, *, limit: int = 10) -> list[ThreadCost]:
    """The threads that cost the most between `since` and `until` (then used the most tokens). Counted with the
    same measures as `analytics.usage_by`, so the numbers agree with the breakdowns."""
    stmt = _window(
        select(_C.c.id, _C.c.platform, _C.c.workspace, _C.c.channel, _C.c.thread, _C.c.title, *_measures()).select_from(
            _M.join(_C, _C.c.id == _M.c.conversation_id)
        ),
        since,
        until,
    )
    with connection() as conn:
        rows = conn.execute(
            stmt.group_by(_C.c.id, _C.c.platform, _C.c.workspace, _C.c.channel, _C.c.thread, _C.c.title)
            .order_by(
                func.coalesce(func.sum(_M.c.cost_usd), 0.0).desc(),
                (
                    func.coalesce(func.sum(_M.c.prompt_tokens), 0) + func.coalesce(func.sum(_M.c.completion_tokens), 0)
                ).desc(),
                _C.c.id,
            )
            .limit(limit)
        ).all()
    return [
        ThreadCost(
            r.id,
            r.platform,
            r.workspace,
            r.channel,
            r.thread,
            r.title,
            int(r.replies or 0),
            int(r.prompt) + int(r.completion),
            float(r.cost),
            int(r.unknown or 0),
        )
        for r in rows
    ]
