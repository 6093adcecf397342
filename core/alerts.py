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
from sqlalchemy import delete, func, or_, select, update
from sqlmodel import col

from core.errors import UserError
from core.logs import redact
from core.settings import Settings
from core.storage.db import connection, insert_ignoring_conflicts, session
from core.storage.tables import Alert, Meta, utcnow

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
    resolved_by: str | None = None  # "admin:<user>"; None when Switchboard closed it
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

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
        a.resolved_by,
        a.acknowledged_at,
        a.acknowledged_by,
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


def mcp_server_down(server: str, reason: str, at: datetime) -> bool:
    """An MCP server's check started failing: one alert per incident (keyed on when it went down). Its tools are
    not offered meanwhile; `resolve_mcp_alerts` closes the alert when it answers again or is removed."""
    return raise_alert(
        "mcp",
        f"mcp:{server}:{at.strftime('%Y-%m-%dT%H:%M:%S')}",
        f"MCP server '{server}' is down: {reason}. Threads are not offered its tools until it answers again.",
        severity="critical",
    )


def resolve_mcp_alerts(server: str, resolution: str) -> int:
    """Close every open alert about MCP server `server` (it answers again, or was removed). Returns how many."""
    with connection(write=True) as conn:
        closed = conn.execute(
            update(_A)
            .where(
                _A.c.kind == "mcp",
                _A.c.dedupe_key.startswith(f"mcp:{server}:", autoescape=True),
                _A.c.resolved_at.is_(None),
            )
            .values(resolved_at=utcnow(), resolution=resolution[:200], next_attempt_at=None)
        ).rowcount
    return int(closed or 0)


def resolve_alerts_of_missing_providers(existing: set[str], resolution: str = "its provider was removed") -> int:
    """Close open alerts about a provider that no longer exists (e.g. removed before removal closed its alerts).
    The caller names the providers there are (core.alerts sits below the provider store). Returns how many."""
    with connection(write=True) as conn:
        stmt = update(_A).where(_A.c.provider.is_not(None), _A.c.resolved_at.is_(None))
        if existing:
            stmt = stmt.where(_A.c.provider.not_in(sorted(existing)))
        closed = conn.execute(stmt.values(resolved_at=utcnow(), resolution=resolution[:200], next_attempt_at=None))
    return int(closed.rowcount or 0)


def acknowledge_alert(alert_id: int, by: str) -> AlertView:
    """An admin has seen the alert: it stays open (and is still delivered) but is marked as being looked at.
    Acknowledging again keeps the first acknowledgement. Raises UserError for an alert that does not exist."""
    with connection(write=True) as conn:
        conn.execute(
            update(_A)
            .where(_A.c.id == alert_id, _A.c.acknowledged_at.is_(None))
            .values(acknowledged_at=utcnow(), acknowledged_by=by[:64])
        )
    return _require(alert_id)


def resolve_alert(alert_id: int, by: str, resolution: str = "") -> AlertView:
    """An admin closes the alert: it is no longer sent or shown as open. An alert already closed keeps who closed
    it first. Raises UserError for an alert that does not exist."""
    note = resolution.strip()[:200] or "resolved"
    now = utcnow()
    with connection(write=True) as conn:
        conn.execute(
            update(_A)
            .where(_A.c.id == alert_id, _A.c.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by=by[:64], resolution=note, next_attempt_at=None)
        )
        conn.execute(  # resolving implies it was seen
            update(_A)
            .where(_A.c.id == alert_id, _A.c.acknowledged_at.is_(None))
            .values(acknowledged_at=now, acknowledged_by=by[:64])
        )
    return _require(alert_id)


def get_alert(alert_id: int) -> AlertView | None:
    with session() as s:
        found = s.get(Alert, alert_id)
        return _view(found) if found is not None else None


def _require(alert_id: int) -> AlertView:
    found = get_alert(alert_id)
    if found is None:
        raise UserError(f"There is no alert #{alert_id} (it may have been removed).")
    return found


def recent_alerts(limit: int = 100, kind: str | None = None, *, open_only: bool = False) -> list[AlertView]:
    with session() as s:
        stmt = select(Alert).order_by(col(Alert.id).desc()).limit(limit)
        if kind:
            stmt = stmt.where(col(Alert.kind) == kind)
        if open_only:
            stmt = stmt.where(col(Alert.resolved_at).is_(None))
        return [_view(a) for a in s.execute(stmt).scalars().all()]


def count_open_alerts() -> int:
    with connection() as conn:
        return int(conn.execute(select(func.count()).select_from(_A).where(_A.c.resolved_at.is_(None))).scalar() or 0)


# ---------------------------------------------------------------- delivery


@dataclass(frozen=True)
class AlertRoute:
    """A platform channel that alerts go to: its channel setting, and the bot token that platform needs.
    `source` says where the channel came from: "admin" (set in the admin, stored in the database) or "env"
    (the .env default, used while the admin has set nothing)."""

    platform: str
    channel_setting: str
    channel: str
    token_setting: str
    token: SecretStr | None  # stays wrapped, so a logged or printed route shows no secret
    source: str = "env"

    @property
    def active(self) -> bool:
        return bool(self.channel) and bool(self.token)  # an empty SecretStr is falsy

    @property
    def status(self) -> str:
        if not self.channel:
            if self.source == "admin":
                return "off (turned off in the admin)"
            return f"not set up ({self.channel_setting} is empty)"
        if not self.token:
            return f"not sent: {self.token_setting} is missing"
        return "alerts are sent here"


PLATFORMS = ("Slack", "Discord")
_DESTINATION_KEY = "alerts.destination.{}"  # Meta key per platform; its value is the channel ("" = off)


def stored_destinations() -> dict[str, str]:
    """The channels set in the admin, by platform; a platform missing here falls back to its .env setting."""
    keys = {_DESTINATION_KEY.format(p.lower()): p for p in PLATFORMS}
    with connection() as conn:
        rows = conn.execute(select(col(Meta.key), col(Meta.value)).where(col(Meta.key).in_(keys))).all()
    return {keys[k]: v for k, v in rows}


def set_alert_destination(platform: str, channel: str | None) -> None:
    """Store the channel alerts go to on `platform` ("" turns it off), or with None forget the admin's choice so
    the .env default applies again."""
    if platform not in PLATFORMS:
        raise UserError(f"Alerts go to {' or '.join(PLATFORMS)}, not '{platform}'.")
    key = _DESTINATION_KEY.format(platform.lower())
    with connection(write=True) as conn:
        conn.execute(delete(Meta).where(col(Meta.key) == key))
        if channel is not None:
            value = channel.strip()
            if len(value) > 100 or any(c.isspace() for c in value):
                raise UserError(f"'{value[:40]}' is not a {platform} channel id: ids have no spaces, like C0123ABCD.")
            conn.execute(Meta.__table__.insert().values(key=key, value=value, updated_at=utcnow()))  # type: ignore[attr-defined]


def alert_routes(settings: Settings) -> list[AlertRoute]:
    """Every alert channel, set up or not: the channel the admin set (stored in the database), else the .env
    default. The scheduler sends to the active ones, the admin pages show all of them with their status."""
    stored = stored_destinations()
    wanted = [
        ("Slack", "SWITCHBOARD_ALERT_SLACK_CHANNEL", settings.alert_slack_channel, "SLACK_BOT_TOKEN"),
        ("Discord", "SWITCHBOARD_ALERT_DISCORD_CHANNEL", settings.alert_discord_channel, "DISCORD_BOT_TOKEN"),
    ]
    tokens = {"Slack": settings.slack_bot_token, "Discord": settings.discord_bot_token}
    return [
        AlertRoute(
            platform,
            setting,
            stored.get(platform, default),
            token_setting,
            tokens[platform],
            "admin" if platform in stored else "env",
        )
        for platform, setting, default, token_setting in wanted
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
                        row.resolved_by,
                        row.acknowledged_at,
                        row.acknowledged_by,
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
