"""Measured performance per model: rolling p50/p95 latency, TTFT, tokens/s and error rate over its last
replies, kept in the Model table's stats columns (the registry shows them; nothing here bumps config)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select

from core.storage.db import session
from core.storage.tables import Message, Model, utcnow

STATS_WINDOW = 200


@dataclass(frozen=True)
class Measured:
    """A model's rolling figures as routing reads them (core.routing.strategy): over its last `samples` replies."""

    samples: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    error_rate: float | None


def measured() -> dict[str, Measured]:
    """Every measured model's figures by name, in one query (the snapshot reloads them every half minute)."""
    with session() as s:
        rows = s.exec(select(Model).where(Model.stats_samples > 0)).all()
        return {
            r.name: Measured(r.stats_samples, r.latency_p50_ms, r.latency_p95_ms, r.ttft_p50_ms, r.error_rate)
            for r in rows
        }


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values. The analytics pages use it too, so their figures match."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def update_stats(names: list[str] | None = None) -> int:
    """Roll p50/p95 latency, TTFT, tokens/s and error rate per model over its last replies. Returns models
    updated. Reads Message rows; writes only the Model stats columns (no config version bump)."""
    with session() as s:
        rows = s.exec(
            select(Model.id, Model.name).where(col(Model.name).in_(names)) if names else select(Model.id, Model.name)
        ).all()
    updated = 0
    for model_id, name in rows:
        with session() as s:
            recent = s.exec(
                select(Message.status, Message.latency_ms, Message.ttft_ms, Message.completion_tokens)
                .where(
                    Message.model == name,
                    col(Message.role).in_(("assistant", "compare", "tool")),  # a tool round is a model call too
                    col(Message.status).in_(("ok", "error", "partial")),
                )
                .order_by(col(Message.id).desc())
                .limit(STATS_WINDOW)
            ).all()
        if not recent:
            continue
        ok = [r for r in recent if r[0] == "ok" and r[1] is not None]
        speeds = [c / ((lat - (t or 0)) / 1000) for _, lat, t, c in ok if c and lat and lat - (t or 0) > 0]
        with session(write=True) as s:
            row = s.get(Model, model_id)
            if row is None:
                continue
            row.latency_p50_ms = percentile([r[1] for r in ok], 50)
            row.latency_p95_ms = percentile([r[1] for r in ok], 95)
            row.ttft_p50_ms = percentile([r[2] for r in ok if r[2] is not None], 50)
            row.tokens_per_s = percentile(speeds, 50)
            row.error_rate = sum(1 for r in recent if r[0] == "error") / len(recent)
            row.stats_samples = len(recent)
            row.stats_updated_at = utcnow()
            s.add(row)
        updated += 1
    return updated
