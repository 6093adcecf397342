"""Tools for tool tests: the loopback MCP server (tests/fakes/mcp_server.py) registered over stdio, as an admin
would, and what its close_ticket tool wrote (so a test can prove a tool ran, or did not)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from core.snapshot import invalidate
from core.tools import health, servers

FAKE_SERVER = Path(__file__).resolve().parent / "fakes" / "mcp_server.py"
LOOKUP = "tickets__lookup_ticket"  # the function names the model is offered: server__tool
CLOSE = "tickets__close_ticket"
SLOW = "tickets__slow"
BIG = "tickets__big"


def stdio_command(log: Path) -> str:
    return f"{sys.executable} {FAKE_SERVER} stdio --log {log}"


async def add_tickets(log: Path, *, consent: tuple[str, ...] = (), scope: str = "global") -> servers.ServerView:
    """Register the fake helpdesk as `tickets`, list its tools (a health check), mark `consent` tools."""
    await asyncio.to_thread(servers.add_server, "tickets", command=stdio_command(log), scope=scope)
    checked = await health.check("tickets")
    assert checked.last_check_ok, checked.last_check_error
    if consent:
        checked = await asyncio.to_thread(servers.update_server, "tickets", consent_tools=list(consent))
    invalidate()
    return checked


def closed(log: Path) -> list[dict[str, str]]:
    """What close_ticket closed, in order."""
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
