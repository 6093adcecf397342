"""Tools for tool tests: the loopback MCP server (tests/fakes/mcp_server.py) registered over stdio, as an admin
would, and what its close_ticket tool wrote (so a test can prove a tool ran, or did not)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from core.snapshot import invalidate
from core.tools import client, health, servers
from tests.chatkit import CLOUD_KEY, World, make_world
from tests.fakes.openai import FakeOpenAI
from tests.mcpkit import stdio_command

LOOKUP = "tickets__lookup_ticket"  # the function names the model is offered: server__tool
CLOSE = "tickets__close_ticket"
SLOW = "tickets__slow"
BIG = "tickets__big"


@asynccontextmanager
async def tool_world(*cloud_models: str, ttft_s: float | None = None) -> AsyncIterator[World]:
    """A cloud OpenAI with `cloud_models` (models that call tools) and a local server whose llama-big cannot, the
    MCP sessions their replies kept open closed at the end (their servers' processes end)."""
    speed = {} if ttft_s is None else {"ttft_s": ttft_s}
    with (
        FakeOpenAI(models=list(cloud_models or ("gpt-4o",)), api_key=CLOUD_KEY, **speed) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None, **speed) as local,
    ):
        yield await make_world(cloud, local)
        await client.close_pool()


async def add_tickets(
    log: Path, *, consent: tuple[str, ...] = (), scope: str = "global", url: str | None = None, token: str = ""
) -> servers.ServerView:
    """Register the fake helpdesk as `tickets` (over stdio, or at `url` over HTTP with a bearer `token`), list its
    tools (a health check), mark `consent` tools."""
    if url is None:
        await asyncio.to_thread(servers.add_server, "tickets", command=stdio_command(log), scope=scope)
    else:
        secret = f"Bearer {token}" if token else None
        header = "Authorization" if token else None
        await asyncio.to_thread(servers.add_server, "tickets", url=url, auth_header=header, secret=secret, scope=scope)
    checked = await health.check("tickets")
    assert checked.last_check_ok, checked.last_check_error
    if consent:
        checked = await asyncio.to_thread(servers.update_server, "tickets", consent_tools=list(consent))
    invalidate()
    return checked


def closed(log: Path) -> list[dict[str, str]]:
    """What close_ticket closed, in order."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
