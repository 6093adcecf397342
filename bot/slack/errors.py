"""Slack API errors: what Slack refused, how long it asked us to wait, and which refusals reach an admin."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from slack_sdk.errors import SlackApiError

from core.alerts import report_platform_problem

log = logging.getLogger(__name__)

# Errors that mean the app lacks a permission or a place to write: worth an admin's attention.
PERMISSION_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "missing_scope",
        "not_allowed_token_type",
        "restricted_action",
        "no_permission",
        "team_access_not_granted",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
    }
)


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or exc.response.status_code)


def retry_after(exc: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait (HTTP 429), or None when this is another error."""
    if exc.response.status_code != 429:
        return None
    try:
        return max(1.0, float(exc.response.headers.get("Retry-After", 1)))
    except (TypeError, ValueError):
        return 1.0


async def report(workspace: str, method: str, exc: SlackApiError) -> None:
    """Log a refused call; permission problems also reach the admin's health view (once a day each)."""
    error = slack_error(exc)
    log.warning("slack %s failed in %s: %s", method, workspace, error)
    if error in PERMISSION_ERRORS:
        text = f"Slack refused {method}: {error}. Check the app's scopes and that it is in the channel."
        day = dt.date.today().isoformat()
        await asyncio.to_thread(report_platform_problem, "slack", workspace, text, day_key=day)
