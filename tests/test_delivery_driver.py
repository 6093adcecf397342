"""The reply driver on a recording surface: what a person sees, in order, when replies and commands overlap.

The first test feeds the driver a turn's events directly; the others run the real core (litellm against the
loopback OpenAI fake, a real database) through `drive`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from core.delivery.driver import drive, present
from core.delivery.surface import Tail
from core.types import Delta, Done, Event, Notice, Reply, TurnResult
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI
from tests.fakes.openai import Reply as Scripted
from tests.recording_surface import RecordingSurface


@pytest.fixture
async def world():  # type: ignore[no-untyped-def]
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


async def _events(*events: Event, gap: float = 0.01) -> AsyncIterator[Event]:
    for event in events:
        await asyncio.sleep(gap)
        yield event


async def test_what_arrives_during_a_reply_waits_under_it() -> None:
    failed = TurnResult(model=None, provider=None, status="error", text="Half an ans", error="provider died")
    surface = RecordingSurface(interval=0.01)
    outcome = await present(
        _events(
            Notice("Your previous reply was interrupted."),
            Delta("Half "),
            Notice("gpt-4o failed; trying llama"),
            Delta("an ans"),
            Reply("Sorry, no model could answer.", kind="error"),
            Done(failed, footer="never shown after an error"),
        ),
        surface,
    )
    assert [(s.kind, s.text) for s in surface.shown] == [
        ("notice", "Your previous reply was interrupted."),  # before the reply: a message of its own
        ("piece", "Half an ans"),
        ("reply", "Sorry, no model could answer."),  # held until the reply it interrupted was finished
    ]
    assert surface.pieces[0].tail == Tail(None, ("gpt-4o failed; trying llama",))  # during it: in the tail
    assert not outcome.ok and outcome.result == failed


async def test_a_command_during_a_stream_is_answered_at_once_and_the_reply_finishes_intact(world: World) -> None:
    story = "Once upon a time " * 12
    world.local.script("llama-big", Scripted(text=story, token_delay_s=0.05))  # about three seconds
    thread = Thread(platform="slack")
    streaming, asking = RecordingSurface(interval=0.2), RecordingSurface()
    turn = asyncio.create_task(drive(thread.message("tell me a story"), streaming))
    while not streaming.writes:
        await asyncio.sleep(0.02)
    await drive(thread.message("!model"), asking)
    assert [s.kind for s in asking.shown] == ["reply"] and "llama-big" in asking.shown[0].text
    assert not streaming.writes[-1].final  # answered while the story was still streaming
    outcome = await turn
    assert outcome.ok and [p.text for p in streaming.pieces] == [story]
    assert streaming.pieces[0].tail is not None and "llama-big" in str(streaming.pieces[0].tail.footer)


async def test_turns_of_one_thread_sent_together_are_answered_in_order(world: World) -> None:
    world.local.script("llama-big", Scripted(text="First answer, slowly written.", token_delay_s=0.1))
    thread = Thread(platform="discord")
    first, second = RecordingSurface(interval=0.05), RecordingSurface(interval=0.05)
    one = asyncio.create_task(drive(thread.message("first question"), first))
    await asyncio.sleep(0.3)
    two = asyncio.create_task(drive(thread.message("second question"), second))
    await asyncio.gather(one, two)
    assert first.pieces[0].text == "First answer, slowly written."
    assert second.pieces[0].text == "echo: second question"
    # the second turn went to the model only after the first reply was stored: it is in the history it was sent
    sent = [(m["role"], m["content"]) for m in world.local.chat_calls("llama-big")[-1]["messages"]]
    assert sent[-3:] == [
        ("user", "first question"),
        ("assistant", "First answer, slowly written."),
        ("user", "second question"),
    ]
