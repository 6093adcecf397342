"""Who is talking: display names and admin flags from users.info, cached per workspace and user."""

from __future__ import annotations

import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.errors import report

TTL_S = 600.0
FAILED_TTL_S = 60.0
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class Person:
    name: str
    is_admin: bool  # a workspace admin or owner


_cache: dict[tuple[str, str], tuple[float, Person]] = {}


async def person(client: AsyncWebClient, workspace: str, user_id: str) -> Person:
    """The user's display name and whether they administer the workspace (cached for ten minutes)."""
    key = (workspace, user_id)
    hit = _cache.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    ttl = TTL_S
    try:
        user = (await client.users_info(user=user_id)).get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name")
        admin = any(user.get(flag) for flag in ("is_admin", "is_owner", "is_primary_owner"))
        found = Person(str(name or ""), bool(admin))
    except SlackApiError as exc:
        await report(workspace, "users.info", exc)
        found, ttl = Person("", False), FAILED_TTL_S
    if len(_cache) >= MAX_ENTRIES:
        _cache.clear()
    _cache[key] = (now + ttl, found)
    return found


def forget() -> None:
    """Drop every cached person (tests; a workspace reinstalled)."""
    _cache.clear()
