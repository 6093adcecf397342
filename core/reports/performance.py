"""Read-only per-model performance over time for the admin: latency, time to first token, tokens/s and error
rate per time bucket, from the stored replies. Nothing here writes; `core.threads.conversations` owns the tables
and every write to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from core.models.stats import percentile
from core.reports.threads import (
    REPLY_ROLES,
    TOOL_ROLE,
    MessageRow,
    ThreadSummary,
    message_row,
    thread_summary,
    tool_round,
)
from core.storage.db import session
from core.storage.tables import Message, aware, utcnow

REQUEST_ROLES = (*REPLY_ROLES, TOOL_ROLE)  # every request to a model: a reply, or a tool round of one

MEASURED_STATUSES = ("ok", "error", "partial")  # what the performance figures count (not pending/interrupted)


@dataclass(frozen=True)
class PerfPoint:
    """One model's measured performance in one time bucket."""

    model: str
    bucket_start: datetime
    replies: int
    errors: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    tokens_per_s: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.replies if self.replies else 0.0


def _bucket(at: datetime, size: timedelta, origin: datetime) -> datetime:
    steps = (at - origin) // size
    return origin + steps * size


def performance_series(
    since: timedelta,
    bucket: timedelta,
    *,
    models: list[str] | None = None,
    now: datetime | None = None,
) -> list[PerfPoint]:
    """Latency p50/p95, time to first token (p50), tokens/s (p50) and error rate per model and time bucket,
    from the replies of the last `since`. Buckets are aligned to whole multiples of `bucket` since the epoch."""
    if bucket <= timedelta(0):
        raise ValueError("bucket must be positive")
    end = now or utcnow()
    start = end - since
    query = select(
        col(Message.model),
        col(Message.created_at),
        col(Message.status),
        col(Message.latency_ms),
        col(Message.ttft_ms),
        col(Message.completion_tokens),
    ).where(
        col(Message.role).in_(REQUEST_ROLES),
        col(Message.status).in_(MEASURED_STATUSES),
        col(Message.model).is_not(None),
        col(Message.created_at) >= start,
        col(Message.created_at) <= end,
    )
    if models:
        query = query.where(col(Message.model).in_(models))
    with session() as s:
        rows = s.execute(query.order_by(col(Message.created_at))).all()
    origin = datetime(1970, 1, 1, tzinfo=UTC)
    groups: dict[tuple[str, datetime], list[tuple[str, float | None, float | None, int | None]]] = {}
    for model, created, status, latency, ttft, completion in rows:
        key = (str(model), _bucket(aware(created), bucket, origin))
        groups.setdefault(key, []).append((status, latency, ttft, completion))
    points = []
    for (model, at), items in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        ok = [(lat, t, c) for status, lat, t, c in items if status == "ok" and lat is not None]
        speeds = [c / ((lat - (t or 0)) / 1000) for lat, t, c in ok if c and lat - (t or 0) > 0]
        points.append(
            PerfPoint(
                model=model,
                bucket_start=at,
                replies=len(items),
                errors=sum(1 for status, *_ in items if status == "error"),
                latency_p50_ms=percentile([lat for lat, _, _ in ok], 50),
                latency_p95_ms=percentile([lat for lat, _, _ in ok], 95),
                ttft_p50_ms=percentile([t for _, t, _ in ok if t is not None], 50),
                tokens_per_s=percentile(speeds, 50),
            )
        )
    return points


# ---------------------------------------------------------------- the per-request log

LOG_STATUSES = ("ok", "error", "partial", "interrupted", "pending")
MAX_LOG_ROWS = 500


@dataclass(frozen=True)
class RequestRow:
    """One reply as the request log shows it."""

    id: int
    at: datetime
    model: str
    provider: str | None
    status: str
    error: str | None
    latency_ms: float | None
    ttft_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    fallback_from: str | None
    conversation_id: int


def request_log(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    models: list[str] | None = None,
    statuses: list[str] | None = None,
    limit: int = 100,
) -> list[RequestRow]:
    """The newest replies (one row per request to a model), newest first, at most `limit` (capped at
    MAX_LOG_ROWS): read through the created_at index with a LIMIT, so a large table costs no more than a page."""
    limit = max(1, min(limit, MAX_LOG_ROWS))
    query = select(
        col(Message.id),
        col(Message.created_at),
        col(Message.model),
        col(Message.provider),
        col(Message.status),
        col(Message.error),
        col(Message.latency_ms),
        col(Message.ttft_ms),
        col(Message.prompt_tokens),
        col(Message.completion_tokens),
        col(Message.cost_usd),
        col(Message.fallback_from),
        col(Message.conversation_id),
    ).where(col(Message.role).in_(REQUEST_ROLES), col(Message.model).is_not(None))
    if since is not None:
        query = query.where(col(Message.created_at) >= since)
    if until is not None:
        query = query.where(col(Message.created_at) < until)
    if models:
        query = query.where(col(Message.model).in_(models))
    if statuses:
        query = query.where(col(Message.status).in_(statuses))
    with session() as s:
        rows = s.execute(query.order_by(col(Message.created_at).desc(), col(Message.id).desc()).limit(limit)).all()
    return [
        RequestRow(
            id=int(r[0]),
            at=aware(r[1]),
            model=str(r[2]),
            provider=r[3],
            status=str(r[4]),
            error=r[5],
            latency_ms=r[6],
            ttft_ms=r[7],
            prompt_tokens=r[8],
            completion_tokens=r[9],
            cost_usd=r[10],
            fallback_from=r[11],
            conversation_id=int(r[12]),
        )
        for r in rows
    ]


def logged_models(since: datetime | None = None) -> list[str]:
    """The models that have replies (since `since`), for the log's model filter."""
    query = select(col(Message.model)).where(col(Message.role).in_(REQUEST_ROLES), col(Message.model).is_not(None))
    if since is not None:
        query = query.where(col(Message.created_at) >= since)
    with session() as s:
        return sorted(str(m) for m in s.execute(query.distinct()).scalars().all())


@dataclass(frozen=True)
class RequestDetail:
    """One request opened from the log: the reply as stored, the message it answered, and its thread."""

    reply: MessageRow
    answered: MessageRow | None  # the user's message before it in its thread (None: not stored, or a command)
    thread: ThreadSummary | None


def request_detail(reply_id: int) -> RequestDetail | None:
    """The request log's row `reply_id` in full, or None when it is not a reply (any more)."""
    with session() as s:
        reply = s.get(Message, reply_id)
        if reply is None or reply.role not in REQUEST_ROLES:
            return None
        before = reply.parent_id or reply_id  # a tool round answers what its reply answers
        asked = s.execute(
            select(Message)
            .where(
                col(Message.conversation_id) == reply.conversation_id,
                col(Message.role) == "user",
                col(Message.id) < before,
            )
            .order_by(col(Message.id).desc())
            .limit(1)
        ).scalar_one_or_none()
        own = (tool_round(reply),) if reply.role == TOOL_ROLE else ()  # a tool round: the calls it asked for
        rows = message_row(reply, rounds=own), message_row(asked) if asked is not None else None
    return RequestDetail(rows[0], rows[1], thread_summary(reply.conversation_id))
