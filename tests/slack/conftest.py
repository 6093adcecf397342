"""The Slack tests' world: a cloud and a local OpenAI-compatible server, a fake Slack, and the real app serving
it in HTTP mode (tests/slackkit.py has the helpers). A module that needs another world overrides a fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.chatkit import CLOUD_KEY, World, make_world
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.slackkit import Bot, serve


@pytest.fixture
async def world() -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
async def bot(world: World, fake: FakeSlack) -> AsyncIterator[Bot]:
    async with serve(fake) as running:
        yield running
