"""What must read the same wherever someone talks to Switchboard: each test runs on Slack, on Discord and in the
terminal (the `place` fixture; tests/people.py), through the real apps and loopback fakes, with a real database.
It asserts on what the person sees."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.chatkit import CLOUD_KEY, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply
from tests.people import Place


@pytest.fixture
async def world() -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


async def test_a_first_question_is_answered_by_the_local_default_with_a_footer_naming_it(place: Place) -> None:
    answer = "Paris is the capital of France. " + " ".join(f"Fact {i}." for i in range(12))
    place.world.local.script("llama-big", Reply(text=answer, token_delay_s=0.03))
    seen = await place.person("ada").says("What is the capital of France?")
    assert seen.answer == answer and seen.streamed[-1] == answer
    assert len(seen.streamed) > 1  # it showed the reply as it came, not all at once at the end
    assert seen.footer.startswith("local/llama-big · ") and "tokens" in seen.footer and "free (local)" in seen.footer
    assert seen.replies == [] and not seen.private
    assert place.world.local.chat_calls("llama-big")[-1]["messages"][-1]["content"] == "What is the capital of France?"


async def test_bang_model_switches_mid_thread_and_the_next_footer_names_the_new_model(place: Place) -> None:
    ada = place.person("ada")
    first = await ada.says("first question")
    assert first.answer == "echo: first question" and first.footer.startswith("local/llama-big · ")

    switched = await ada.says("!model gpt-4o")
    assert "This thread now uses" in switched.reply and "oa/gpt-4o" in switched.reply
    assert "paid model" in switched.reply and not switched.private  # everyone in the thread sees the switch
    assert switched.answer == "" and not switched.footer

    second = await place.person("grace").says("second question")  # the thread's model, whoever asks
    assert second.answer == "echo: second question"
    assert second.footer.startswith("oa/gpt-4o · ") and "$" in second.footer
    sent = place.world.cloud.chat_calls("gpt-4o")[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == [
        "first question",
        "echo: first question",
        "second question",
    ]


async def test_an_unknown_model_name_is_answered_with_close_suggestions(place: Place) -> None:
    seen = await place.person("ada").says("!model gtp-4o-mnii")
    assert "There is no model called 'gtp-4o-mnii'" in seen.reply and "Did you mean `oa/gpt-4o-mini`" in seen.reply
    assert seen.private == place.whispers  # only the asker sees it, where the surface can do that
    assert seen.buttons == (["oa/gpt-4o-mini"] if place.has_buttons else [])
    assert seen.answer == "" and place.world.local.chat_count == place.world.cloud.chat_count == 0


async def test_a_message_over_the_limit_is_refused_naming_the_limit_and_nothing_goes_to_a_model(
    place: Place,
) -> None:
    place.setting("SWITCHBOARD_MAX_MESSAGE_CHARS", "100")
    seen = await place.person("ada").says("x" * 150)
    assert "Your message is 150 characters; the limit is 100" in seen.reply
    assert "Nothing was sent to a model" in seen.reply and seen.answer == "" and not seen.footer
    assert place.world.local.chat_count == place.world.cloud.chat_count == 0
    fits = await place.person("ada").says("y" * 100)  # in the same thread: the limit itself is allowed
    assert fits.answer == "echo: " + "y" * 100


@pytest.mark.parametrize("place", ["slack", "discord"], indirect=True)  # a terminal line is delivered once
async def test_a_redelivered_message_is_answered_once(place: Place) -> None:
    ada = place.person("ada")
    first = await ada.says("once please")
    assert first.answer == "echo: once please"
    again = await place.redeliver(first)
    assert again.nothing
    turn = await ada.says("and once more")  # a thread turn redelivered, not only the message that opened it
    assert (await place.redeliver(turn)).nothing
    assert place.world.local.chat_count == 2
