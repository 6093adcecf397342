"""Alert destinations: the configured Slack and Discord channels (used by the scheduler's delivery job)."""

from __future__ import annotations

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from core.alerts import Notifier, alert_routes
from core.settings import Settings

DISCORD_API = "https://discord.com/api/v10"
ICONS = {"critical": ":rotating_light:", "warning": ":warning:"}


class SlackNotifier:
    def __init__(self, token: str, channel: str, api_url: str) -> None:
        self.name = f"slack:{channel}"
        self.channel = channel
        self.client = AsyncWebClient(token=token, base_url=api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler()])

    async def send(self, text: str, severity: str) -> None:
        await self.client.chat_postMessage(channel=self.channel, text=f"{ICONS.get(severity, '')} {text}".strip())


class DiscordNotifier:
    def __init__(self, token: str, channel: str, api_base: str) -> None:
        self.name = f"discord:{channel}"
        self.url = f"{api_base.rstrip('/')}/channels/{channel}/messages"
        self.headers = {"Authorization": f"Bot {token}", "User-Agent": "DiscordBot (switchboard, 0.1)"}

    async def send(self, text: str, severity: str) -> None:
        prefix = "🚨" if severity == "critical" else "⚠️"
        body = {"content": f"{prefix} {text}"[:2000], "allowed_mentions": {"parse": []}}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
            http.post(self.url, json=body, headers=self.headers) as response,
        ):
            if response.status >= 300:
                detail = (await response.text())[:200]
                raise RuntimeError(f"Discord answered HTTP {response.status}: {detail}")


def notifiers(settings: Settings) -> list[Notifier]:
    """A notifier for each active alert route (a channel and a token for its platform)."""
    found: list[Notifier] = []
    for route in alert_routes(settings):
        if not route.active or route.token is None:
            continue
        token = route.token.get_secret_value()
        if route.platform == "Slack":
            found.append(SlackNotifier(token, route.channel, settings.slack_api_url))
        else:
            found.append(DiscordNotifier(token, route.channel, settings.discord_api_base or DISCORD_API))
    return found
