"""How a tool call reads in a thread (core.delivery.tools.tool_line, the line every surface starts from), and on
the terminal (`switchboard chat`), where a line is printed as each call starts and another as it ends."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator

from bot.console import Terminal
from core.delivery.driver import present
from core.delivery.tools import cut_off, tool_line
from core.types import Delta, Done, Event, ToolActivity, TurnResult

LOOKUP = ToolActivity("call-1", "docs", "lookup_ticket", 'ticket_id: "T-1"', "running")


def test_each_way_a_call_stands_reads_as_one_plain_line() -> None:
    def line(**change: object) -> str:
        return tool_line(dataclasses.replace(LOOKUP, **change))  # type: ignore[arg-type]

    call = 'docs.lookup_ticket (ticket_id: "T-1")'
    assert line() == f"🔧 {call} · running…"
    assert line(state="ok", seconds=0.42, detail="1.2 KB") == f"✅ {call} · 0.4 s · 1.2 KB"
    assert line(state="timeout", seconds=30.01, detail="timed out after 30 s") == f"⏱️ {call} · timed out after 30 s"
    assert line(state="error", seconds=2.0, detail="HTTP 500") == f"⚠️ {call} · failed after 2.0 s: HTTP 500"
    assert line(state="error", seconds=0.0, detail="invalid arguments") == f"⚠️ {call} · failed: invalid arguments"
    assert line(state="awaiting", detail="waiting for your OK") == f"🔐 {call} · waiting for your OK"
    assert line(state="declined", seconds=0.0, detail="you declined") == f"🚫 {call} · not run: you declined"
    assert line(state="unavailable", seconds=0.0) == f"⚠️ {call} · not run: docs is unavailable"
    assert line(state="unavailable", detail="not available here") == f"⚠️ {call} · not run: not available here"
    assert tool_line(cut_off(LOOKUP, 75.0)) == f"⏹️ {call} · cut off after 1 min 15 s: the reply stopped"
    # a model's summary never spreads over lines nor fills the thread
    long = line(args="query:\n" + "x" * 500, detail="first\nsecond")
    assert "\n" not in long and len(long) < 200 and "query: xxx" in long and long.endswith("…) · running…")


async def test_the_terminal_prints_a_line_as_a_call_starts_and_one_as_it_ends_between_the_text_and_the_answer() -> None:
    async def events() -> AsyncIterator[Event]:
        for event in (
            Delta("Let me look "),
            Delta("that up."),
            LOOKUP,
            dataclasses.replace(LOOKUP, state="ok", seconds=0.42, detail="1.2 KB"),
            Delta("T-1 is "),
            Delta("open."),
            Done(TurnResult(model="gpt-4o", provider="openai", status="ok", text=""), footer="gpt-4o · 1 tool round"),
        ):
            await asyncio.sleep(0.01)
            yield event

    screen = io.StringIO()  # what a person sees: stdout and stderr on one terminal
    outcome = await present(events(), Terminal(screen, screen))
    assert outcome.ok
    assert screen.getvalue() == (
        "Let me look that up.\n"
        '[tool] 🔧 docs.lookup_ticket (ticket_id: "T-1") · running…\n'
        '[tool] ✅ docs.lookup_ticket (ticket_id: "T-1") · 0.4 s · 1.2 KB\n'
        "T-1 is open.\n"
        "— gpt-4o · 1 tool round\n"
    )
