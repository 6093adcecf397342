"""Helpers of the Discord tests (their fixtures are in tests/discord/conftest.py): people who use the fake
Discord, and what the bot posted there."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord.gateway
import discord.http
import pytest

from core.settings import reload_settings
from tests.fakes.discord import FakeDiscord, FakeMessage, running

if TYPE_CHECKING:
    from bot.discord.app import SwitchboardBot

MODELS = ["llama-3.2-3b", "qwen2.5-coder-7b", "mistral-small-24b", "phi-4-mini", "gemma-3-12b"]
READY_S = 0.05  # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE


@contextlib.contextmanager
def endpoints_restored() -> Iterator[None]:
    """The bot points discord.py's class-level endpoints at DISCORD_API_BASE; put them back afterwards."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    """Settings that point the bot at `fake` (its token, REST and gateway, its guild), undone afterwards."""
    with endpoints_restored():
        monkeypatch.setenv("DISCORD_BOT_TOKEN", fake.token)
        monkeypatch.setenv("DISCORD_API_BASE", fake.api_base)
        monkeypatch.setenv("DISCORD_CDN_BASE", fake.cdn_base)
        monkeypatch.setenv("DISCORD_GUILD_IDS", fake.guild["id"])
        reload_settings()
        yield fake


@contextlib.asynccontextmanager
async def online(fake: FakeDiscord) -> AsyncIterator[SwitchboardBot]:
    """The real bot, built by the product's own `create_bot` from the settings, connected to `fake` until the
    block ends (settings from `pointed_at`)."""
    from bot.discord.app import create_bot

    client = create_bot(ready_timeout=READY_S, identify_delay_s=0)
    async with running(client, fake):
        yield client


async def handled(client: SwitchboardBot, message: dict[str, Any], times: int = 1, timeout: float = 30) -> None:
    """Until the bot has received `message` (a MESSAGE_CREATE payload) `times` times and every on_message
    listener it started has returned: the turn is over, whatever it showed (or did not)."""
    mid = int(message["id"])
    deadline = time.monotonic() + timeout
    while sum(1 for m in client.cached_messages if m.id == mid) < times:  # discord.py caches what it dispatched
        if time.monotonic() > deadline:
            raise AssertionError(f"the bot did not receive message {mid} {times} time(s) within {timeout} s")
        await asyncio.sleep(0.01)
    while any(t.get_name() == "discord.py: on_message" and not t.done() for t in asyncio.all_tasks()):
        if time.monotonic() > deadline:
            raise AssertionError(f"the bot was still handling messages after {timeout} s")
        await asyncio.sleep(0.01)


@dataclass
class Person:
    """Someone on the fake Discord, doing what users do."""

    fake: FakeDiscord
    user: dict[str, Any]

    def says(
        self, channel: dict[str, Any], text: str, *, mention: bool = False, files: dict[str, bytes] | None = None
    ) -> dict[str, Any]:
        """Post `text` (with `files`, name -> bytes, attached) in `channel`."""
        mentions = [self.fake.bot] if mention else None
        payload = self.fake.message_create(channel, self.user, text, mentions=mentions, files=files)
        self.fake.dispatch("MESSAGE_CREATE", payload)
        return payload

    def uses(
        self, command: str, options: dict[str, Any] | None = None, *, channel: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        payload = self.fake.slash_command(command, options, channel=channel, user=self.user)
        self.fake.dispatch("INTERACTION_CREATE", payload)
        return payload

    def types(self, command: str, option: str, value: str, *, channel: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = self.fake.autocomplete(command, option, value, channel=channel, user=self.user)
        self.fake.dispatch("INTERACTION_CREATE", payload)
        return payload

    def clicks(self, label: str, message: FakeMessage) -> dict[str, Any]:
        custom_id = next(
            b["custom_id"] for row in message.data["components"] for b in row["components"] if b.get("label") == label
        )
        payload = self.fake.component_click(custom_id, message.id, user=self.user)
        self.fake.dispatch("INTERACTION_CREATE", payload)
        return payload


def bot_messages(fake: FakeDiscord, channel: dict[str, Any] | int) -> list[FakeMessage]:
    return [m for m in fake.messages_in(channel) if m.data["author"]["id"] == fake.bot["id"]]


def footers(fake: FakeDiscord, channel: dict[str, Any] | int) -> list[str]:
    return [line for m in bot_messages(fake, channel) for line in m.content.splitlines() if line.startswith("-# ")]


async def replied(fake: FakeDiscord, channel: dict[str, Any] | int, count: int = 1, timeout: float = 15) -> None:
    """Until `count` replies (messages with a footer) are complete in `channel`."""
    await fake.wait_until(lambda: len([f for f in footers(fake, channel) if "tokens" in f]) >= count, timeout)


def callbacks(fake: FakeDiscord, interaction: dict[str, Any]) -> list[Any]:
    return [c for c in fake.api_calls("interaction_callback") if c.params["interaction_id"] == interaction["id"]]
