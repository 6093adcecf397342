"""Alerts for admins (budget thresholds, provider health, platform problems): owns the Alert table.

An alert is stored once per `dedupe_key` (a unique column), so every process can raise the same alert and
only one row results. Delivery is retried until every configured destination has it; a row is claimed with a
lease before sending, so two schedulers never send it twice. `alert_routes` reads which Slack and Discord
channels the settings name (the scheduler and the admin pages share that rule); the caller turns them into
Notifiers, so core uses no chat platform's API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import SecretStr
from sqlalchemy import or_, select, update
from sqlmodel import col

from core.logs import redact
from core.settings import Settings
from core.storage.db import connection, insert_ignoring_conflicts, session
from core.storage.tables import Alert, utcnow

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=1)
_A = Alert.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AlertView:
    id: int
    kind: str
    severity: str
    text: str
    created_at: datetime
    delivered_at: datetime | None
    deliveries: dict[str, str]
    attempts: int
    last_error: str | None
    resolved_at: datetime | None = None
    resolution: str | None = None  # why it was closed, e.g. "provider 'x' was removed"

    @property
    def open(self) -> bool:
        return self.resolved_at is None


def _view(a: Alert) -> AlertView:
    return AlertView(
        a.id or 0,
        a.kind,
        a.severity,
        a.text,
        a.created_at,
        a.delivered_at,
        dict(a.deliveries or {}),
        a.attempts,
        a.last_error,
        a.resolved_at,
        a.resolution,
    )


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
    with connection(write=True) as conn:
        created = conn.execute(
            insert_ignoring_conflicts(_A, conn)
            .values(
                dedupe_key=dedupe_key[:300],
                kind=kind,
                severity=severity,
                text=text,
                budget_id=budget_id,
                provider=provider,
                created_at=utcnow(),
                attempts=0,
                deliveries={},
            )
            .returning(_A.c.id)
        ).scalar()
    return created is not None


def report_platform_problem(platform: str, workspace: str, text: str, *, day_key: str) -> bool:
    """A chat platform refused us something (e.g. missing permissions): shown in the admin's health view.
    Deduplicated per platform, workspace, problem and `day_key` (e.g. the date)."""
    return raise_alert(
        "platform", f"platform:{platform}:{workspace}:{text[:120]}:{day_key}", f"{platform} {workspace}: {text}"
    )


def provider_turned_bad(provider: str, reason: str, at: datetime) -> bool:
    """A provider's health check started failing: one alert per incident (keyed on when it turned bad)."""
    return raise_alert(
        "health",
        f"health:{provider}:{at.strftime('%Y-%m-%dT%H:%M')}",
        f"Provider '{provider}' is failing: {reason}",
        severity="critical",
        provider=provider,
    )


def resolve_provider_alerts(provider: str, resolution: str) -> int:
    """Close every open alert about `provider` (it was removed: nothing is left to fix). Closed alerts are not
    delivered any more, and the admin shows them as closed. Returns how many were closed."""
    with connection(write=True) as conn:
        closed = conn.execute(
            update(_A)
            .where(_A.c.provider == provider, _A.c.resolved_at.is_(None))
            .values(resolved_at=utcnow(), resolution=resolution[:200], next_attempt_at=None)
        ).rowcount
    return int(closed or 0)


def recent_alerts(limit: int = 100, kind: str | None = None) -> list[AlertView]:
    with session() as s:
        stmt = select(Alert).order_by(col(Alert.id).desc()).limit(limit)
        if kind:
            stmt = stmt.where(col(Alert.kind) == kind)
        return [_view(a) for a in s.execute(stmt).scalars().all()]


# ---------------------------------------------------------------- delivery


@dataclass(frozen=True)
class AlertRoute:
    """A platform channel that alerts go to: its channel setting, and the bot token that platform needs."""

    platform: str
    channel_setting: str
    channel: str
    token_setting: str
    token: SecretStr | None  # stays wrapped, so a logged or printed route shows no secret

    @property
    def active(self) -> bool:
        return bool(self.channel) and bool(self.token)  # an empty SecretStr is falsy

    @property
    def status(self) -> str:
        if not self.channel:
            return f"not set up ({self.channel_setting} is empty)"
        if not self.token:
            return f"not sent: {self.token_setting} is missing"
        return "alerts are sent here"


def alert_routes(settings: Settings) -> list[AlertRoute]:
    """Every alert channel the settings can name, set up or not: the scheduler sends to the active ones, the
    admin pages show all of them with their status."""
    return [
        AlertRoute(
            "Slack",
            "SWITCHBOARD_ALERT_SLACK_CHANNEL",
            settings.alert_slack_channel,
            "SLACK_BOT_TOKEN",
            settings.slack_bot_token,
        ),
        AlertRoute(
            "Discord",
            "SWITCHBOARD_ALERT_DISCORD_CHANNEL",
            settings.alert_discord_channel,
            "DISCORD_BOT_TOKEN",
            settings.discord_bot_token,
        ),
    ]


class Notifier(Protocol):
    """A destination for alerts. `name` identifies it in the delivery record, e.g. 'slack:C0123'."""

    name: str

    async def send(self, text: str, severity: str) -> None:
        """Deliver or raise."""


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0


def _claim(now: datetime, limit: int) -> list[AlertView]:
    """Take a lease on due, undelivered alerts so no other scheduler sends them meanwhile."""
    claimed = []
    with connection(write=True) as conn:
        due = (
            conn.execute(
                select(_A.c.id)
                .where(
                    _A.c.delivered_at.is_(None),
                    _A.c.resolved_at.is_(None),
                    or_(_A.c.next_attempt_at.is_(None), _A.c.next_attempt_at <= now),
                )
                .order_by(_A.c.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
        for aid in due:
            got = conn.execute(
                update(_A)
                .where(
                    _A.c.id == aid,
                    _A.c.resolved_at.is_(None),
                    or_(_A.c.next_attempt_at.is_(None), _A.c.next_attempt_at <= now),
                )
                .values(next_attempt_at=now + LEASE)
            ).rowcount
            if got:
                row = conn.execute(select(_A).where(_A.c.id == aid)).one()
                claimed.append(
                    AlertView(
                        row.id,
                        row.kind,
                        row.severity,
                        row.text,
                        row.created_at,
                        row.delivered_at,
                        dict(row.deliveries or {}),
                        row.attempts,
                        row.last_error,
                        row.resolved_at,
                        row.resolution,
                    )
                )
    return claimed


async def deliver_pending(notifiers: list[Notifier], *, limit: int = 50) -> DeliveryReport:
    """Send every due alert to every destination that does not have it yet; failures retry with backoff."""
    import asyncio

    report = DeliveryReport()
    if not notifiers:
        return report
    now = utcnow()
    for alert in await asyncio.to_thread(_claim, now, limit):
        deliveries = dict(alert.deliveries)
        errors = []
        for n in notifiers:
            if n.name in deliveries:
                continue
            try:
                await n.send(alert.text, alert.severity)
                deliveries[n.name] = utcnow().isoformat()
            except Exception as exc:  # any destination failure is recorded and retried, never lost
                errors.append(f"{n.name}: {redact(str(exc))[:200] or type(exc).__name__}")
        done = all(n.name in deliveries for n in notifiers)
        attempts = alert.attempts + (1 if errors else 0)
        backoff = min(timedelta(seconds=30 * 2 ** min(attempts, 10)), MAX_BACKOFF)
        await asyncio.to_thread(
            _record,
            alert.id,
            deliveries,
            done,
            attempts,
            "; ".join(errors) or None,
            None if done else utcnow() + backoff,
        )
        report.delivered += int(done)
        report.failed += int(bool(errors))
        if errors:
            log.warning("alert %s not delivered everywhere yet (attempt %d): %s", alert.id, attempts, errors)
    return report


def _record(
    alert_id: int, deliveries: dict[str, str], done: bool, attempts: int, error: str | None, retry_at: datetime | None
) -> None:
    with connection(write=True) as conn:
        conn.execute(
            update(_A)
            .where(_A.c.id == alert_id)
            .values(
                deliveries=deliveries,
                delivered_at=utcnow() if done else None,
                attempts=attempts,
                last_error=error,
                next_attempt_at=retry_at,
            )
        )
