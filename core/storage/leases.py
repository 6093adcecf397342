"""Leases: a role that one process at a time may hold, across every process sharing the database.

APScheduler 3 has no distributed lock, so two scheduler processes started by mistake (or one per machine, for
availability) would both run every job. Each renews a lease row instead: `hold` succeeds for the process that
holds it now, or for anyone once it has expired, in one conditional UPDATE (or the INSERT of a first holder),
so the database decides and exactly one process wins. The holder renews well before expiry; if it dies, another
takes over once the lease expires. Expiry is compared with the processes' own clocks: machines sharing a
database keep their clocks in sync (NTP), and the holder stops acting as one a margin before its lease ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from core.storage.db import connection, insert_ignoring_conflicts
from core.storage.tables import Lease, aware, utcnow


@dataclass(frozen=True)
class LeaseView:
    name: str
    holder: str
    expires_at: datetime


def hold(name: str, holder: str, ttl_s: float) -> bool:
    """Take or renew the lease `name` for `ttl_s` seconds. True when `holder` holds it now."""
    now = utcnow()
    until = now + timedelta(seconds=ttl_s)
    table = Lease.__table__  # type: ignore[attr-defined]
    with connection(write=True) as conn:
        taken = conn.execute(
            insert_ignoring_conflicts(table, conn).values(name=name, holder=holder, expires_at=until, acquired_at=now)
        ).rowcount
        if taken == 1:
            return True
        renewed = conn.execute(
            update(table)
            .where(table.c.name == name, or_(table.c.holder == holder, table.c.expires_at < now))
            .values(holder=holder, expires_at=until)
        ).rowcount
        return renewed == 1


def let_go(name: str, holder: str) -> None:
    """Give the lease up now (a clean shutdown), so another process takes over at its next try."""
    table = Lease.__table__  # type: ignore[attr-defined]
    with connection(write=True) as conn:
        conn.execute(update(table).where(table.c.name == name, table.c.holder == holder).values(expires_at=utcnow()))


def current(name: str) -> LeaseView | None:
    """Who holds `name`, and until when (it may have expired)."""
    table = Lease.__table__  # type: ignore[attr-defined]
    with connection() as conn:
        row = conn.execute(select(table.c.holder, table.c.expires_at).where(table.c.name == name)).first()
    return LeaseView(name, row.holder, aware(row.expires_at)) if row else None
