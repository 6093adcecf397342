"""Alerts for admins (budget thresholds, provider health, platform problems): owns the Alert table.

An alert is stored once per `dedupe_key` (a unique column), so every process can raise the same alert and
only one row (and one delivery) results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from core.db import session
from core.tables import Alert


@dataclass(frozen=True)
class AlertView:
    id: int
    kind: str
    severity: str
    text: str
    created_at: datetime
    delivered_at: datetime | None
    attempts: int
    last_error: str | None


def _view(a: Alert) -> AlertView:
    return AlertView(a.id or 0, a.kind, a.severity, a.text, a.created_at, a.delivered_at, a.attempts, a.last_error)


def raise_alert(
    kind: str,
    dedupe_key: str,
    text: str,
    *,
    severity: str = "warning",
    budget_id: int | None = None,
    provider: str | None = None,
) -> bool:
    """Store an alert unless one with this key exists. True when this call created it."""
    try:
        with session(write=True) as s:
            s.add(
                Alert(
                    dedupe_key=dedupe_key[:300],
                    kind=kind,
                    severity=severity,
                    text=text,
                    budget_id=budget_id,
                    provider=provider,
                )
            )
        return True
    except IntegrityError:
        return False


def report_platform_problem(platform: str, workspace: str, text: str, *, day_key: str) -> bool:
    """A chat platform refused us something (e.g. missing permissions): shown in the admin's health view.
    Deduplicated per platform, workspace, problem and `day_key` (e.g. the date)."""
    return raise_alert(
        "platform", f"platform:{platform}:{workspace}:{text[:120]}:{day_key}", f"{platform} {workspace}: {text}"
    )


def recent_alerts(limit: int = 100, kind: str | None = None) -> list[AlertView]:
    with session() as s:
        stmt = select(Alert).order_by(col(Alert.id).desc()).limit(limit)
        if kind:
            stmt = stmt.where(Alert.kind == kind)
        return [_view(a) for a in s.exec(stmt).all()]
