"""The Discord tests' world: the real bot, built by the product's own `create_bot` from settings that point it
at a loopback FakeDiscord (REST and gateway), talking to the real core with a real database and real litellm
calls to a FakeOpenAI. Helpers are in tests/discordkit.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.discord.app import SwitchboardBot
from core.models.sync import refresh
from core.providers.store import add_provider
from tests.discordkit import MODELS, Person, online, pointed_at
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    """A self-hosted OpenAI-compatible server on loopback: its models are local and free."""
    with FakeOpenAI(models=MODELS, api_key=None) as fake:
        add_provider("lab", "openai_compatible", base_url=fake.url + "/v1")
        asyncio.run(refresh())
        yield fake


@pytest.fixture
def discord_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscord]:
    with FakeDiscord() as fake, pointed_at(fake, monkeypatch):
        yield fake


@pytest.fixture
async def bot(discord_fake: FakeDiscord, llm: FakeOpenAI) -> AsyncIterator[SwitchboardBot]:
    async with online(discord_fake) as client:
        yield client


@pytest.fixture
def alice(discord_fake: FakeDiscord) -> Person:
    return Person(discord_fake, discord_fake.user)
