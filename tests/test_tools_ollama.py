"""Tools on a local model: an Ollama model whose capabilities include "tools" is offered them through litellm's
`ollama_chat/` provider, and the fake Ollama answers with a tool call the way Ollama does (a whole message with
`tool_calls`, its arguments an object, no call id)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.tools import client
from tests.chatkit import Thread
from tests.fakes.ollama import FakeOllama
from tests.ollamakit import local_ollama
from tests.toolskit import LOOKUP, add_tickets

__all__ = ["local_ollama"]


@pytest.fixture
async def pool_closed() -> AsyncIterator[None]:
    yield
    await client.close_pool()


def helpdesk_model(body: dict[str, Any]) -> Any:
    messages = body.get("messages") or []
    if messages and messages[-1].get("role") == "tool":
        return f"The helpdesk says: {messages[-1].get('content')}"
    if body.get("tools"):
        return {"tool_calls": [{"function": {"name": LOOKUP, "arguments": {"ticket_id": "T-1"}}}]}
    return "I have no tools."


async def test_a_local_ollama_model_that_can_call_tools_runs_a_tool_loop(
    local_ollama: FakeOllama, tmp_path: Path, pool_closed: None
) -> None:
    await add_tickets(tmp_path / "closed.jsonl")
    local_ollama.reply = helpdesk_model
    said = await Thread().say("who owns T-1?")
    assert said.streamed.startswith("The helpdesk says: Ticket T-1: ")
    assert "local/llama3.2:1b" in said.footer and "1 tool round" in said.footer and "free (local)" in said.footer
    first, second = [c.json() for c in local_ollama.calls("/api/chat", "POST")][-2:]
    assert [t["function"]["name"] for t in first["tools"]][:1] == [LOOKUP]
    assert second["messages"][-1]["role"] == "tool" and "Ticket T-1" in second["messages"][-1]["content"]
