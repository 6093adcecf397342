"""A tool call reads the same wherever someone talks to Switchboard (the `place` fixture: Slack, Discord and the
terminal, through the real apps and loopback fakes, the real core and MCP SDK against the loopback MCP server):
the text the model wrote before calling, the call's line as it ended, then the answer with its footer below it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.chatkit import World
from tests.fakes.openai import Reply as Say
from tests.fakes.openai import ToolCall
from tests.people import Place
from tests.toolskit import LOOKUP, add_tickets, tool_world


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with tool_world() as made:
        yield made


async def test_a_tool_call_shows_between_the_text_before_it_and_the_answer_after_it(
    place: Place, tmp_path: Path
) -> None:
    await add_tickets(tmp_path / "closed.jsonl")
    ada = place.person("ada")
    assert "now uses" in (await ada.says("!model gpt-4o")).reply
    place.world.cloud.script(
        "gpt-4o",
        Say(text="Let me check that ticket.", tool_calls=(ToolCall(LOOKUP, {"ticket_id": "T-1"}),)),
        Say(text="Ticket T-1 is open."),
    )
    seen = await ada.says("who owns ticket T-1?")
    assert [(s.kind, s.text) for s in seen.shown if s.kind != "tool"] == [
        ("answer", "Let me check that ticket."),
        ("answer", "Ticket T-1 is open."),
    ]
    assert [s.kind for s in seen.shown] == ["answer", "tool", "answer"]
    (line,) = seen.tools
    assert line.startswith('✅ tickets.lookup_ticket (ticket_id: "T-1") · ') and " s · " in line
    assert seen.answers[0].footer == "" and "1 tool round" in seen.footer  # the footer under the answer only
