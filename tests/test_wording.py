"""Messages that embed another message's reason read as one sentence: no doubled full stops."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.prose import clause
from core.snapshot import invalidate
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
async def world(any_db: str) -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-small"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


async def test_a_model_of_an_unreachable_provider_is_refused_in_one_clean_sentence(world: World) -> None:
    world.local.stop()  # the local server goes away; the next refresh finds nothing answering
    await world.refresh()
    said = await Thread().say("!model llama-small")
    (reply,) = said.replies
    assert reply.kind == "refusal"
    assert "Check that the server is running and the base URL. Try `" in reply.text
    assert ".." not in reply.text


async def test_a_thread_whose_model_went_away_is_told_in_one_clean_sentence(world: World) -> None:
    thread = Thread()
    assert (await thread.say("hello")).footer.startswith("local/llama-small")
    world.local.stop()
    await world.refresh()
    invalidate()  # running bots notice config changes within a second; this test does not wait
    said = await thread.say("hello again")
    assert "Check that the server is running and the base URL. Pick another with `!model NAME`." in said.text
    assert ".." not in said.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Check the base URL.", "Check the base URL"),
        ("unreachable", "unreachable"),
        ("Wait...", "Wait..."),
        (" Is it on? ", "Is it on?"),
    ],
)
def test_clause(text: str, expected: str) -> None:
    assert clause(text) == expected
