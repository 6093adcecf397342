"""MCP servers' health, checked like providers': each check lists the server's tools again (what threads are
offered), times it and stores the outcome. A server that goes down raises one alert (core.alerts), however many
checks it stays down for, and its alert is closed when it answers again."""

from __future__ import annotations

import asyncio
import logging
import time

from core.alerts import mcp_server_down, resolve_mcp_alerts
from core.errors import UserError
from core.logs import redact
from core.storage.tables import utcnow
from core.tools.client import ToolFailure, discover
from core.tools.servers import ServerView, get_server, list_servers, record_check

log = logging.getLogger(__name__)


async def check(name: str) -> ServerView:
    """Connect to the server, list its tools and record how it went; the server as stored afterwards (its
    `last_check_*` say how it went). Raises UserError for a server that does not exist."""
    view = await asyncio.to_thread(get_server, name)
    if view is None:
        raise UserError(f"There is no MCP server named '{name}'. See `switchboard mcp list`.")
    started = time.monotonic()
    try:
        tools = await discover(view)
    except ToolFailure as exc:
        error: str | None = redact(exc.message)
        turned = await asyncio.to_thread(record_check, name, ok=False, error=error, latency_ms=None, tools=None)
    else:
        error = None
        latency = (time.monotonic() - started) * 1000
        turned = await asyncio.to_thread(record_check, name, ok=True, error=None, latency_ms=latency, tools=tools)
    if turned and error is not None:
        log.warning("mcp: server %s is down: %s", name, error)
        await asyncio.to_thread(mcp_server_down, name, error, utcnow())
    elif turned:
        log.info("mcp: server %s answers again", name)
        await asyncio.to_thread(resolve_mcp_alerts, name, f"MCP server '{name}' answers again")
    found = await asyncio.to_thread(get_server, name)
    return found or view


async def check_all() -> list[ServerView]:
    """Check every enabled server at once (the scheduler's job); never raises."""
    names = [s.name for s in await asyncio.to_thread(list_servers) if s.enabled]
    results = await asyncio.gather(*(check(name) for name in names), return_exceptions=True)
    checked = []
    for name, result in zip(names, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("mcp: checking %s crashed: %s", name, type(result).__name__)
        else:
            checked.append(result)
    return checked
