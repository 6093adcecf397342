"""Pull jobs in the database (this module owns the OllamaJob table), so every process and every page reload
sees the same progress, any process can ask for a cancel, and the concurrent-pull limit holds across
processes: a slot is claimed in one serialised transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory
transaction lock)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text, update
from sqlmodel import Session, col, func, select

from core.storage.db import session
from core.storage.tables import OllamaJob, aware, utcnow

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
STALE_AFTER = timedelta(seconds=30)  # the owner heartbeats every few seconds; silence this long means it died
_PG_LOCK_KEY = 0x5B_0111  # one advisory lock serialises slot claims across PostgreSQL clients


def holder_id() -> str:
    """Who runs a job: host and pid, for diagnosis and for telling a live owner from a dead one."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class LayerProgress:
    digest: str
    total: int
    completed: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.completed / self.total if self.total else None


@dataclass(frozen=True)
class JobView:
    """A pull as everyone sees it."""

    id: int
    provider: str
    model: str
    action: str  # pull | update
    status: str  # queued | running | done | failed | cancelled
    detail: str
    total_bytes: int
    completed_bytes: int
    layers: tuple[LayerProgress, ...]
    speed_bps: float | None
    eta_s: float | None
    error: str | None
    cancel_requested: bool
    requested_by: str | None
    holder: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def percent(self) -> float | None:
        if self.status == "done":
            return 100.0
        return min(100.0, 100.0 * self.completed_bytes / self.total_bytes) if self.total_bytes else None


def _view(row: OllamaJob) -> JobView:
    raw = row.layers or {}
    layers = sorted(raw.items(), key=lambda kv: int(kv[1].get("n", 0)))
    return JobView(
        id=row.id or 0,
        provider=row.provider,
        model=row.model,
        action=row.action,
        status=row.status,
        detail=row.detail,
        total_bytes=row.total_bytes,
        completed_bytes=row.completed_bytes,
        layers=tuple(LayerProgress(d, int(v.get("total", 0)), int(v.get("completed", 0))) for d, v in layers),
        speed_bps=row.speed_bps,
        eta_s=row.eta_s,
        error=row.error,
        cancel_requested=row.cancel_requested,
        requested_by=row.requested_by,
        holder=row.holder,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
        finished_at=aware(row.finished_at) if row.finished_at else None,
    )


def _clip(value: str | None, n: int) -> str | None:
    return value if value is None or len(value) <= n else value[: n - 1] + "…"


def create_job(
    provider: str, model: str, *, action: str, requested_by: str | None, detail: str, total_bytes: int
) -> tuple[JobView, bool]:
    """A queued job, or the active one already pulling this model on this server (then False)."""
    with session(write=True) as s:
        _lock_for_claims(s)
        existing = s.exec(
            select(OllamaJob).where(
                OllamaJob.provider == provider, OllamaJob.model == model, col(OllamaJob.status).in_(ACTIVE)
            )
        ).first()
        if existing is not None:
            return _view(existing), False
        row = OllamaJob(
            provider=provider,
            model=model,
            action=action,
            requested_by=requested_by,
            detail=_clip(detail, 200) or "",
            total_bytes=total_bytes,
            holder=holder_id(),
        )
        s.add(row)
        s.flush()
        return _view(row), True


def get_job(job_id: int) -> JobView | None:
    with session() as s:
        row = s.get(OllamaJob, job_id)
        return _view(row) if row else None


def list_jobs(*, active_only: bool = False, provider: str | None = None, limit: int = 50) -> list[JobView]:
    """Newest first."""
    query = select(OllamaJob).order_by(col(OllamaJob.id).desc()).limit(limit)
    if active_only:
        query = query.where(col(OllamaJob.status).in_(ACTIVE))
    if provider:
        query = query.where(OllamaJob.provider == provider)
    with session() as s:
        return [_view(r) for r in s.exec(query).all()]


def active_job_for(provider: str, model: str) -> JobView | None:
    with session() as s:
        row = s.exec(
            select(OllamaJob).where(
                OllamaJob.provider == provider, OllamaJob.model == model, col(OllamaJob.status).in_(ACTIVE)
            )
        ).first()
        return _view(row) if row else None


def _lock_for_claims(s: Session) -> None:
    # SQLite: session(write=True) already holds the database write lock. PostgreSQL: READ COMMITTED would let
    # two claims count the same running jobs, so take one transaction-scoped advisory lock first.
    if s.get_bind().dialect.name == "postgresql":
        s.connection().execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def claim_slot(job_id: int, limit: int) -> tuple[str, int]:
    """Try to start a queued job: ("claimed", n) when it got a slot (n jobs now running), ("queued", running)
    when all `limit` slots are busy or older jobs wait first, ("cancelled", 0) when a cancel arrived, else
    (its status, 0): someone else runs or ran it."""
    now = utcnow()
    with session(write=True) as s:
        _lock_for_claims(s)
        _reap(s, now)
        row = s.get(OllamaJob, job_id)
        if row is None:
            return "missing", 0
        if row.status != "queued":
            return row.status, 0
        if row.cancel_requested:
            _finish(row, "cancelled", "Cancelled before the download started.", None, now)
            s.add(row)
            return "cancelled", 0
        running = s.exec(select(func.count()).where(OllamaJob.status == "running")).one()
        ahead = s.exec(select(func.count()).where(OllamaJob.status == "queued", col(OllamaJob.id) < job_id)).one()
        row.updated_at = now
        row.holder = holder_id()
        if int(running) + int(ahead) < max(1, limit):
            row.status = "running"
            row.detail = "starting"
            s.add(row)
            return "claimed", int(running) + 1
        queue = f", {ahead} ahead in the queue" if ahead else ""
        row.detail = f"waiting for a download slot: {running} running{queue}, at most {limit} at once"
        s.add(row)
        return "queued", int(running)


def save_progress(job_id: int, values: dict[str, Any]) -> bool:
    """Store progress (and heartbeat); returns whether a cancel was requested meanwhile."""
    values = dict(values, updated_at=utcnow())
    if "detail" in values:
        values["detail"] = _clip(values["detail"], 200)
    with session(write=True) as s:
        s.exec(update(OllamaJob).where(col(OllamaJob.id) == job_id).values(**values))
        flag = s.exec(select(OllamaJob.cancel_requested).where(OllamaJob.id == job_id)).first()
    return bool(flag)


def cancel_requested(job_id: int) -> bool:
    with session() as s:
        return bool(s.exec(select(OllamaJob.cancel_requested).where(OllamaJob.id == job_id)).first())


def request_cancel(job_id: int) -> JobView | None:
    """Ask the job's owner (any process) to stop. Returns the job; a finished job is left alone."""
    with session(write=True) as s:
        row = s.get(OllamaJob, job_id)
        if row is None:
            return None
        if row.status in ACTIVE:
            row.cancel_requested = True
            s.add(row)
        return _view(row)


def dismiss_job(job_id: int) -> bool:
    """Forget a finished pull (a failed or cancelled one an admin has read). A running or queued job is kept:
    cancel it first. True when a job was removed."""
    with session(write=True) as s:
        row = s.get(OllamaJob, job_id)
        if row is None or row.status not in FINISHED:
            return False
        s.delete(row)
        return True


def finish(job_id: int, status: str, detail: str, error: str | None = None, **values: Any) -> JobView | None:
    """Put a job in its final state."""
    with session(write=True) as s:
        row = s.get(OllamaJob, job_id)
        if row is None:
            return None
        for key, value in values.items():
            setattr(row, key, value)
        _finish(row, status, detail, error, utcnow())
        s.add(row)
        return _view(row)


def _finish(row: OllamaJob, status: str, detail: str, error: str | None, now: datetime) -> None:
    row.status = status
    row.detail = _clip(detail, 200) or ""
    row.error = _clip(error, 500)
    row.speed_bps = row.eta_s = None
    row.updated_at = row.finished_at = now


def _reap(s: Session, now: datetime) -> list[OllamaJob]:
    stale = s.exec(
        select(OllamaJob).where(col(OllamaJob.status).in_(ACTIVE), col(OllamaJob.updated_at) < now - STALE_AFTER)
    ).all()
    for row in stale:
        if row.cancel_requested:
            _finish(row, "cancelled", "Cancelled (the process running it had already stopped).", None, now)
        else:
            _finish(
                row,
                "failed",
                "interrupted",
                f"The process running this download ({row.holder}) stopped before it finished. "
                "Pull the model again: Ollama resumes where it stopped.",
                now,
            )
        s.add(row)
    return list(stale)


def reap_stale() -> list[JobView]:
    """Mark jobs whose owner stopped heartbeating as failed (or cancelled, if a cancel was pending)."""
    with session(write=True) as s:
        _lock_for_claims(s)
        return [_view(r) for r in _reap(s, utcnow())]
