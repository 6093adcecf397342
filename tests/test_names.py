"""One notion of a close name (core.models.matching), as users meet it: `!model` and "did you mean",
`switchboard models` searches, and the Ollama library. Unrelated names are never suggested; typos
and spacing are forgiven."""

from __future__ import annotations

import pytest

from core.ollama.catalog import suggest
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
async def world():  # type: ignore[no-untyped-def]
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["alpha-1", "beta-2", "qwen2.5"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


async def test_an_unrelated_name_gets_no_suggestions(world: World) -> None:
    said = await Thread().say("!model gpt-9-ultra")
    (reply,) = said.replies
    assert reply.kind == "error"
    assert reply.text == "There is no model called 'gpt-9-ultra'. No model has a close name. `!models` lists them all."
    assert reply.choices == ()


async def test_a_typo_suggests_the_close_names_first_and_nothing_unrelated(world: World) -> None:
    cases = {
        "gtp-4o": ["oa/gpt-4o", "oa/gpt-4o-mini"],
        "alpah-1": ["local/alpha-1"],
        "qewn2.5": ["local/qwen2.5"],
        "gpt-4o-mnii": ["oa/gpt-4o-mini"],  # not gpt-4o: what was typed is longer than it
    }
    for typed, expected in cases.items():
        (reply,) = (await Thread().say(f"!model {typed}")).replies
        assert reply.kind == "error" and f"Did you mean `{expected[0]}`" in reply.text, typed
        suggested = [c.command.removeprefix("!model ") for c in reply.choices]
        assert suggested == expected, (typed, suggested)


def test_the_ollama_library_suggests_close_names_only() -> None:
    assert suggest("gpt-9-ultra") == []
    assert suggest("mistrl")[0] == "mistral"
    assert suggest("gema3")[0] == "gemma3"
