"""Reserve, settle, release: budget money moved by atomic conditional UPDATEs in the database.

This module owns the BudgetUsage and BudgetReservation tables. A hard budget admits a reservation only through
`UPDATE ... SET reserved = reserved + :amount WHERE spent + reserved + :amount <= limit`: on SQLite the write
transaction holds the database lock (BEGIN IMMEDIATE); on PostgreSQL the row lock serialises concurrent
updates and the WHERE is re-checked on the latest row. Process memory decides nothing, so any number of
processes share one budget safely. Rows are updated in id order so two multi-budget transactions never
deadlock.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from core.budgets.periods import bounds
from core.budgets.store import BudgetView
from core.storage.db import connection, insert_ignoring_conflicts
from core.storage.tables import Budget, BudgetReservation, BudgetUsage, utcnow

HOLDER = f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Held:
    reservation_id: int
    usage_id: int
    budget_id: int
    amount: int


@dataclass
class Hold:
    """What one request holds against its budgets."""

    items: list[Held] = field(default_factory=list)


@dataclass(frozen=True)
class UsageState:
    usage_id: int
    budget_id: int
    period_start: datetime
    period_end: datetime | None
    spent: int
    reserved: int


class Exceeded(Exception):
    """A hard budget would go over; nothing was reserved anywhere."""

    def __init__(self, budget: BudgetView, state: UsageState, amount: int) -> None:
        super().__init__(budget.label)
        self.budget, self.state, self.amount = budget, state, amount


_U = BudgetUsage.__table__  # type: ignore[attr-defined]
_R = BudgetReservation.__table__  # type: ignore[attr-defined]
_B = Budget.__table__  # type: ignore[attr-defined]


def _usage_id(conn: Connection, budget: BudgetView, now: datetime, tz: str) -> int:
    start, end = bounds(budget.period, now, tz)
    conn.execute(
        insert_ignoring_conflicts(_U, conn).values(
            budget_id=budget.id, period_start=start, period_end=end, spent_micros=0, reserved_micros=0
        )
    )
    found = conn.execute(select(_U.c.id).where(_U.c.budget_id == budget.id, _U.c.period_start == start)).scalar_one()
    return int(found)


def _state(conn: Connection, usage_id: int) -> UsageState:
    row = conn.execute(select(_U).where(_U.c.id == usage_id)).one()
    return UsageState(row.id, row.budget_id, row.period_start, row.period_end, row.spent_micros, row.reserved_micros)


_ADMIT = (
    update(_U)
    .where(
        _U.c.id == bindparam("uid"),
        _U.c.spent_micros + _U.c.reserved_micros + bindparam("amount") <= bindparam("limit"),
    )
    .values(reserved_micros=_U.c.reserved_micros + bindparam("amount"))
)
_ADD_RESERVED = (
    update(_U).where(_U.c.id == bindparam("uid")).values(reserved_micros=_U.c.reserved_micros + bindparam("amount"))
)
_MOVE = (
    update(_U)
    .where(_U.c.id == bindparam("uid"))
    .values(
        reserved_micros=_U.c.reserved_micros - bindparam("held"),
        spent_micros=_U.c.spent_micros + bindparam("actual"),
    )
)
_EXTEND = (
    update(_R)
    .where(_R.c.id.in_(bindparam("rids", expanding=True)), _R.c.status == "held")
    .values(expires_at=bindparam("until"))
)
_CLOSE = update(_R).where(_R.c.id == bindparam("rid"), _R.c.status == "held").values(status=bindparam("status"))


def reserve(amounts: list[tuple[BudgetView, int]], *, tz: str, ttl_s: float, message_key: str | None = None) -> Hold:
    """Reserve `amount` against every budget, all or nothing. Raises Exceeded for the first hard budget that
    would go over (and then nothing is held)."""
    now = utcnow()
    hold = Hold()
    if not amounts:
        return hold
    with connection(write=True) as conn:
        ids = sorted(((_usage_id(conn, b, now, tz), b, amount) for b, amount in amounts), key=lambda t: t[0])
        for usage_id, budget, amount in ids:
            if budget.hard:
                admitted = conn.execute(_ADMIT, {"uid": usage_id, "amount": amount, "limit": budget.limit_units})
                if admitted.rowcount == 0:
                    raise Exceeded(budget, _state(conn, usage_id), amount)  # rolls the whole transaction back
            else:
                conn.execute(_ADD_RESERVED, {"uid": usage_id, "amount": amount})
            rid = conn.execute(
                _R.insert()
                .values(
                    usage_id=usage_id,
                    amount_micros=amount,
                    holder=HOLDER,
                    message_key=message_key,
                    status="held",
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_s),
                )
                .returning(_R.c.id)
            ).scalar_one()
            hold.items.append(Held(int(rid), usage_id, budget.id, amount))
    return hold


_GROW_HOLD = (
    update(_R)
    .where(_R.c.id == bindparam("rid"), _R.c.status == "held")
    .values(amount_micros=_R.c.amount_micros + bindparam("amount"))
)


class _NoRoom(Exception):
    """Raised inside a transaction to roll it back."""


def grow(hold: Hold, extra: dict[int, int], budgets: dict[int, BudgetView]) -> bool:
    """Reserve `extra` more (per budget id) for a request already holding: all or nothing, under the same atomic
    rule as `reserve`. False when a hard budget cannot cover it, or the hold expired (then nothing changed)."""
    grown: list[Held] = []
    try:
        with connection(write=True) as conn:
            for item in sorted(hold.items, key=lambda h: h.usage_id):
                amount = extra.get(item.budget_id, 0)
                budget = budgets.get(item.budget_id)
                if amount <= 0 or budget is None:
                    grown.append(item)
                    continue
                if not conn.execute(_GROW_HOLD, {"rid": item.reservation_id, "amount": amount}).rowcount:
                    raise _NoRoom
                stmt, params = (_ADMIT, {"limit": budget.limit_units}) if budget.hard else (_ADD_RESERVED, {})
                if not conn.execute(stmt, {"uid": item.usage_id, "amount": amount, **params}).rowcount:
                    raise _NoRoom
                grown.append(Held(item.reservation_id, item.usage_id, item.budget_id, item.amount + amount))
    except _NoRoom:
        return False
    hold.items = grown
    return True


def extend(hold: Hold, ttl_s: float) -> None:
    """Keep a live request's reservations from expiring: its holder is alive and still streaming. A reservation
    already expired (its holder looked dead) stays expired; settling still records the spend."""
    if hold.items:
        with connection(write=True) as conn:
            conn.execute(
                _EXTEND,
                {"rids": [i.reservation_id for i in hold.items], "until": utcnow() + timedelta(seconds=ttl_s)},
            )


def settle(hold: Hold, actual: dict[int, int]) -> list[UsageState]:
    """Turn each reservation into real spend (`actual` per budget id). Spend is recorded even when the
    reservation had already expired, because the money was spent. Returns the budgets' new state."""
    if not hold.items:
        return []
    with connection(write=True) as conn:
        for item in sorted(hold.items, key=lambda h: h.usage_id):
            still_held = conn.execute(_CLOSE, {"rid": item.reservation_id, "status": "settled"}).rowcount
            conn.execute(
                _MOVE,
                {
                    "uid": item.usage_id,
                    "held": item.amount if still_held else 0,
                    "actual": actual.get(item.budget_id, 0),
                },
            )
        return [_state(conn, item.usage_id) for item in hold.items]


def release(hold: Hold) -> None:
    """Give back a reservation whose request failed before costing anything."""
    if not hold.items:
        return
    with connection(write=True) as conn:
        for item in sorted(hold.items, key=lambda h: h.usage_id):
            if conn.execute(_CLOSE, {"rid": item.reservation_id, "status": "released"}).rowcount:
                conn.execute(_MOVE, {"uid": item.usage_id, "held": item.amount, "actual": 0})


def settle_orphaned(message_key: str, *, usd_micros: int, tokens: int) -> list[UsageState]:
    """Charge what a dead process's reply cost to the budgets it reserved against, whether its reservation is
    still held or has already expired (then it was released with nothing charged). Each reservation is charged
    once, by whichever process gets to it first. Returns the budgets' new state."""
    with connection(write=True) as conn:
        rows = conn.execute(
            select(_R.c.id, _R.c.usage_id, _R.c.amount_micros, _R.c.status, _B.c.metric)
            .join(_U, _U.c.id == _R.c.usage_id)
            .join(_B, _B.c.id == _U.c.budget_id)
            .where(_R.c.message_key == message_key, _R.c.status.in_(("held", "expired")))
            .order_by(_R.c.usage_id)
        ).all()
        charged = []
        for rid, usage_id, amount, status, metric in rows:
            closed = conn.execute(
                update(_R).where(_R.c.id == rid, _R.c.status == status).values(status="settled")
            ).rowcount
            if closed:
                actual = tokens if metric == "tokens" else usd_micros
                conn.execute(_MOVE, {"uid": usage_id, "held": amount if status == "held" else 0, "actual": actual})
                charged.append(usage_id)
        return [_state(conn, usage_id) for usage_id in charged]


def expire_stale(now: datetime | None = None) -> int:
    """Release reservations whose holder died (past their expiry). Returns how many."""
    now = now or utcnow()
    count = 0
    with connection(write=True) as conn:
        stale = conn.execute(
            select(_R.c.id, _R.c.usage_id, _R.c.amount_micros)
            .where(_R.c.status == "held", _R.c.expires_at < now)
            .order_by(_R.c.usage_id)
        ).all()
        for rid, usage_id, amount in stale:
            if conn.execute(_CLOSE, {"rid": rid, "status": "expired"}).rowcount:
                conn.execute(_MOVE, {"uid": usage_id, "held": amount, "actual": 0})
                count += 1
    return count


def current(budgets: list[BudgetView], *, tz: str, now: datetime | None = None) -> dict[int, UsageState]:
    """Each budget's usage in its current period (rows are created on first look, so a new period shows 0)."""
    now = now or utcnow()
    with connection(write=True) as conn:
        return {b.id: _state(conn, _usage_id(conn, b, now, tz)) for b in budgets}


def would_exceed(amounts: list[tuple[BudgetView, int]], *, tz: str) -> Exceeded | None:
    """A read-only look: the hard budget that would refuse these amounts right now (no reservation made)."""
    now = utcnow()
    with connection(write=True) as conn:
        for budget, amount in amounts:
            if not budget.hard:
                continue
            state = _state(conn, _usage_id(conn, budget, now, tz))
            if state.spent + state.reserved + amount > budget.limit_units:
                return Exceeded(budget, state, amount)
    return None
