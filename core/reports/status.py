"""What an operator checks: whether each part of a deployment is doing its job, read from the database that every
process shares (`switchboard status`; its exit code suits a monitoring probe).

The bots and the admin answer their own liveness probes (Slack's `/healthz`, Streamlit's `/_stcore/health`); what
no single process can say is whether the work between them gets done: a scheduler leads, crashed replies are
settled, reservations of dead processes are released, notices and alerts go out, providers answer. Each check
reads a few indexed rows, never a whole table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from core.formatting import ago
from core.providers.store import list_providers
from core.settings import get_settings
from core.storage import leases
from core.storage.db import connection, get_engine
from core.storage.migrate import alembic_config, current_revision
from core.storage.tables import (
    PENDING_NOTICE,
    PENDING_REPLY,
    Alert,
    BudgetReservation,
    Conversation,
    Message,
    aware,
    utcnow,
)

SCHEDULER_LEASE = "scheduler"  # core.jobs.LEASE
_A = Alert.__table__  # type: ignore[attr-defined]
_R = BudgetReservation.__table__  # type: ignore[attr-defined]
_M = Message.__table__  # type: ignore[attr-defined]
_C = Conversation.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _schema() -> Check:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    at = current_revision(get_engine())
    if at == head:
        return Check("database", True, f"reachable, schema at {head}")
    return Check("database", False, f"schema at {at}, code expects {head}: run `switchboard db upgrade`")


def _scheduler(now: datetime) -> Check:
    lease = leases.current(SCHEDULER_LEASE)
    if lease is None:
        return Check("scheduler", False, "no scheduler has ever run: start `switchboard scheduler`")
    if lease.expires_at < now:
        return Check(
            "scheduler",
            False,
            f"no scheduler leads: {lease.holder}'s lease ran out {ago(lease.expires_at, now)}; start one",
        )
    left = int((lease.expires_at - now).total_seconds())
    return Check("scheduler", True, f"{lease.holder} leads (its lease runs out in {left} s unless renewed)")


def _replies(now: datetime) -> Check:
    stale = timedelta(minutes=get_settings().stale_reply_minutes)
    # A live reply's process renews its claim (alive_at); a claim left unrenewed that long is a dead process's.
    claimed = func.coalesce(_M.c.alive_at, _M.c.created_at)
    with connection() as conn:
        count, oldest, unrenewed = conn.execute(
            select(func.count(), func.min(_M.c.created_at), func.min(claimed)).where(PENDING_REPLY)
        ).one()
    if not count:
        return Check("replies being written", True, "none")
    detail = f"{count}, the oldest started {ago(aware(oldest), now)}"
    if now - aware(unrenewed) > 2 * stale:
        return Check(
            "replies being written",
            False,
            f"{detail}; one was last renewed {ago(aware(unrenewed), now)}: its process stopped, and the scheduler "
            "settles such replies; is one running?",
        )
    return Check("replies being written", True, detail)


def _reservations(now: datetime) -> Check:
    grace = timedelta(minutes=2)  # the scheduler's upkeep runs every minute
    with connection() as conn:
        held, overdue = conn.execute(
            select(func.count(), func.count().filter(_R.c.expires_at < now - grace)).where(_R.c.status == "held")
        ).one()
    if overdue:
        return Check(
            "budget reservations",
            False,
            f"{held} held, {overdue} past their expiry: the scheduler releases those; is one running?",
        )
    return Check("budget reservations", True, f"{held} held by replies being written")


def _notices() -> Check:
    with connection() as conn:
        waiting = conn.execute(select(func.count()).select_from(_C).where(PENDING_NOTICE)).scalar_one()
    detail = f"{waiting} waiting to be posted" if waiting else "none waiting"
    return Check("thread notices", True, detail + " (each bot posts its platform's within seconds)")


def _alerts() -> Check:
    with connection() as conn:
        waiting, failing = conn.execute(
            select(func.count(), func.count().filter(_A.c.attempts > 0)).where(
                _A.c.delivered_at.is_(None), _A.c.resolved_at.is_(None)
            )
        ).one()
        last_error = conn.execute(
            select(_A.c.last_error).where(_A.c.last_error.is_not(None)).order_by(_A.c.id.desc()).limit(1)
        ).scalar()
    if failing:
        return Check("alerts", False, f"{failing} could not be delivered yet; last error: {last_error}")
    return Check("alerts", True, f"{waiting} waiting to be sent" if waiting else "none waiting")


def _providers() -> Check:
    providers = [p for p in list_providers() if p.enabled]
    down = [p for p in providers if p.last_check_ok is False]
    if not providers:
        return Check("providers", False, "none enabled: add one with `switchboard providers add`")
    if down:
        named = "; ".join(f"{p.name}: {p.last_check_error or 'failed its check'}" for p in down)
        return Check("providers", False, f"{len(down)} of {len(providers)} down ({named})")
    unchecked = sum(1 for p in providers if p.last_check_ok is None)
    later = f" ({unchecked} not checked yet)" if unchecked else ""
    return Check("providers", True, f"{len(providers)} enabled, all answered their last check{later}")


def checks(now: datetime | None = None) -> list[Check]:
    """Every check, in the order an operator reads them. A database that cannot be reached raises."""
    now = now or utcnow()
    return [
        _schema(),
        _scheduler(now),
        _replies(now),
        _reservations(now),
        _notices(),
        _alerts(),
        _providers(),
    ]
