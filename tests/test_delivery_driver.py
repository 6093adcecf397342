"""The reply driver on a recording surface: what a person sees, in order, when replies and commands overlap.

The first test feeds the driver a turn's events directly; the others run the real core (litellm against the
loopback OpenAI fake, a real database) through `drive`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.delivery.driver import drive, present
from core.delivery.surface import Tail
from core.types import Delta, Done, Event, Notice, Reply, Thinking, ToolActivity, ToolState, TurnResult
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


# ---------------------------------------------------------------- tool calls (core.delivery.tools)

LOOKUP = ToolActivity("call-1", "docs", "lookup_ticket", 'ticket_id: "T-1"', "running")
SEARCH = ToolActivity("call-2", "docs", "search", 'query: "login fails"', "running")


def ended(call: ToolActivity, state: ToolState, seconds: float, detail: str = "") -> ToolActivity:
    return dataclasses.replace(call, state=state, seconds=seconds, detail=detail)


def result(**figures: Any) -> TurnResult:
    return TurnResult(model="gpt-4o", provider="openai", status="ok", text="", **figures)


@pytest.mark.parametrize("append_only", [False, True])
async def test_tool_calls_show_under_the_text_before_them_and_the_answer_comes_below(append_only: bool) -> None:
    surface = RecordingSurface(interval=0.05, append_only=append_only)
    outcome = await present(
        _events(
            Delta("Let me look "),
            Delta("that up."),
            LOOKUP,
            SEARCH,  # two calls of one round, run side by side
            ended(LOOKUP, "ok", 0.42, "1.2 KB"),
            Notice("gpt-4o was slow; trying it again"),
            ended(SEARCH, "timeout", 30),
            Delta("The ticket "),
            Delta("is open."),
            Done(result(tool_rounds=1, tool_ms=30_420), footer="gpt-4o · 1 tool round"),
            gap=0.08,  # each call's running line is written before it ends
        ),
        surface,
    )
    assert outcome.ok
    assert [(s.kind, s.text) for s in surface.shown] == [
        ("piece", "Let me look that up."),
        ("tool", '✅ docs.lookup_ticket (ticket_id: "T-1") · 0.4 s · 1.2 KB'),
        ("tool", '⏱️ docs.search (query: "login fails") · timed out after 30 s'),
        ("piece", "The ticket is open."),
    ]
    first, answer = surface.pieces
    assert first.final and first.tail is None  # a piece of the reply: nothing under it
    assert answer.tail == Tail("gpt-4o · 1 tool round", ("gpt-4o was slow; trying it again",), model="gpt-4o")
    lookup = [w.text for w in surface.writes_to(2)]
    assert lookup == ['🔧 docs.lookup_ticket (ticket_id: "T-1") · running…', surface.shown[1].text]
    # the text before the calls was all on screen before the first call was (an append-only surface holds back
    # a last word while more may follow: not here)
    first_call = next(i for i, w in enumerate(surface.writes) if w.handle == 2)
    assert surface.writes[first_call - 1].text == "Let me look that up."


async def test_a_call_that_ends_before_it_was_shown_shows_only_how_it_ended() -> None:
    # the text before the call waits its first delay, and the next round's text comes before it is over: the
    # text is finished (posted) while the call waits to be shown below it
    surface = RecordingSurface(interval=0.05, first_delay=0.3, write_seconds=0.05)
    await present(
        _events(Delta("Checking."), LOOKUP, ended(LOOKUP, "ok", 0.01), Delta("Done."), Done(result(), footer="f")),
        surface,
    )
    assert [(s.kind, s.text) for s in surface.shown] == [
        ("piece", "Checking."),
        ("tool", '✅ docs.lookup_ticket (ticket_id: "T-1") · 0.0 s'),
        ("piece", "Done."),
    ]
    assert len(surface.writes_to(2)) == 1


async def test_every_way_a_call_ends_reads_plainly() -> None:
    surface = RecordingSurface(interval=0.01)
    calls = [dataclasses.replace(LOOKUP, call_id=f"c{i}") for i in range(5)]
    await present(
        _events(
            *calls,
            ended(calls[0], "error", 1.5, "HTTP 500 from the server"),
            ended(calls[1], "awaiting", 0),
            ended(calls[2], "declined", 0),
            ended(calls[3], "unavailable", 0),
            dataclasses.replace(calls[4], server="", args=""),
            Delta("Sorry."),
            Done(result(), footer="f"),
        ),
        surface,
    )
    assert [s.text for s in surface.tools] == [
        '⚠️ docs.lookup_ticket (ticket_id: "T-1") · failed after 1.5 s: HTTP 500 from the server',
        '🔐 docs.lookup_ticket (ticket_id: "T-1") · waiting for your OK',
        '🚫 docs.lookup_ticket (ticket_id: "T-1") · not run: you declined',
        '⚠️ docs.lookup_ticket (ticket_id: "T-1") · not run: docs is unavailable',
        "🔧 lookup_ticket · running…",
    ]
    assert [s.kind for s in surface.shown][-1] == "piece"


async def test_a_call_update_the_platform_refuses_once_is_written_after_its_wait() -> None:
    surface = RecordingSurface(interval=0.01, tool_later_once=0.1)
    await present(_events(LOOKUP, ended(LOOKUP, "ok", 0.2), Delta("Found it."), Done(result(), footer="f")), surface)
    assert [(s.kind, s.text) for s in surface.shown] == [
        ("tool", '✅ docs.lookup_ticket (ticket_id: "T-1") · 0.2 s'),
        ("piece", "Found it."),
    ]


async def test_a_turn_cut_off_while_a_call_runs_closes_its_line_as_cut_off() -> None:
    async def events() -> AsyncIterator[Event]:
        yield Delta("Looking it up.")
        yield LOOKUP
        yield dataclasses.replace(SEARCH, state="ok", seconds=0.1)
        await asyncio.sleep(0.2)
        raise RuntimeError("the process is stopping")

    surface = RecordingSurface(interval=0.01)
    with pytest.raises(RuntimeError):
        await present(events(), surface)
    assert [s.text for s in surface.tools] == [
        '⏹️ docs.lookup_ticket (ticket_id: "T-1") · cut off after 0.2 s: the reply stopped',
        '✅ docs.search (query: "login fails") · 0.1 s',  # ended before the turn stopped: left as it was
    ]


async def test_thinking_after_the_calls_is_shown_below_them_above_the_answer() -> None:
    surface = RecordingSurface(interval=0.01)
    await present(
        _events(
            Thinking("I need the ticket."),
            LOOKUP,
            ended(LOOKUP, "ok", 0.3),
            Thinking("It is open."),
            Delta("The ticket is open."),
            Done(result(), footer="f"),
        ),
        surface,
    )
    assert [(s.kind, s.text, s.final) for s in surface.shown] == [
        ("thinking", "I need the ticket.", True),
        ("tool", '✅ docs.lookup_ticket (ticket_id: "T-1") · 0.3 s', True),
        ("thinking", "It is open.", True),
        ("piece", "The ticket is open.", True),
    ]


async def test_a_call_waiting_for_an_ok_stays_asking_and_the_question_comes_below_it() -> None:
    """As core.chat parks a reply for consent: the call waits, the question (with its buttons) ends the turn."""
    surface = RecordingSurface(interval=0.01)
    question = Reply("The model wants to run `docs.lookup_ticket`. Run it?", kind="confirm")
    outcome = await present(_events(Delta("I will look it up."), ended(LOOKUP, "awaiting", 0), question), surface)
    assert outcome.waiting
    assert [(s.kind, s.text) for s in surface.shown] == [
        ("piece", "I will look it up."),
        ("tool", '🔐 docs.lookup_ticket (ticket_id: "T-1") · waiting for your OK'),
        ("reply", question.text),  # held under the reply's text, shown when the turn ended
    ]


async def test_what_is_said_after_the_calls_with_no_text_open_comes_below_them() -> None:
    surface = RecordingSurface(interval=0.01)
    await present(
        _events(
            LOOKUP,
            ended(LOOKUP, "ok", 0.2),
            Notice("The tools' results were not sent back to a model: the budget is used up."),
            Delta("(No answer.)"),
            Done(dataclasses.replace(result(), status="partial"), footer="f"),
        ),
        surface,
    )
    assert [s.kind for s in surface.shown] == ["tool", "notice", "piece"]


async def test_a_call_that_ended_before_the_turn_stopped_is_shown_as_it_ended_not_cut_off() -> None:
    async def events() -> AsyncIterator[Event]:
        yield LOOKUP
        await asyncio.sleep(0.1)
        yield ended(LOOKUP, "ok", 0.1)  # its update waits out the surface's interval ...
        raise asyncio.CancelledError  # ... when the turn is cancelled

    surface = RecordingSurface(interval=5.0)
    with pytest.raises(asyncio.CancelledError):
        await present(events(), surface)
    assert [s.text for s in surface.tools] == ['✅ docs.lookup_ticket (ticket_id: "T-1") · 0.1 s']
