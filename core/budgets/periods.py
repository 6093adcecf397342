"""Budget periods aligned to the calendar in the configured time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import UserError

PERIODS = ("day", "week", "month", "total")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(
            f"Unknown time zone '{name}' (SWITCHBOARD_TIMEZONE): use a name like UTC or Europe/Paris."
        ) from None


def bounds(period: str, now: datetime, tz_name: str) -> tuple[datetime, datetime | None]:
    """(start, end) in UTC of the period containing `now`; `total` has no end."""
    if period == "total":
        return EPOCH, None
    local = now.astimezone(zone(tz_name))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start, end = midnight, midnight + timedelta(days=1)
    elif period == "week":  # weeks start on Monday
        start = midnight - timedelta(days=midnight.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = midnight.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    else:
        raise UserError(f"Unknown period '{period}': use one of {', '.join(PERIODS)}.")
    # Re-localise: a DST change inside the period shifts the wall-clock offset.
    tz = zone(tz_name)
    start = start.replace(tzinfo=None).replace(tzinfo=tz)
    end = end.replace(tzinfo=None).replace(tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def describe_reset(end: datetime | None, tz_name: str) -> str:
    if end is None:
        return "never (a total budget)"
    return end.astimezone(zone(tz_name)).strftime("%Y-%m-%d %H:%M %Z")
