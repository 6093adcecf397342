"""`!tools`: the tools a thread may use here, by server, and whether its model can call them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from core.commands.base import Context, command
from core.routing import tool_loop as loop
from core.routing.policy import choose_model, tool_suggestions
from core.tools import rounds
from core.types import Event, Reply

NONE_HERE = (
    "No tools are enabled here. An admin can add MCP servers with `switchboard mcp add` or on the admin's "
    "Tools page, for everywhere, a workspace, a channel or a preset."
)


@command("tools", "!tools", "The tools a model may use in this thread (from MCP servers admins added).")
async def tools_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    preset = ctx.conversation.preset if ctx.conversation else None
    here = loop.available(ctx.snap, ctx.key, preset)
    if not here.servers:
        yield Reply(NONE_HERE, kind="info", ephemeral=True)
        return
    allowed = await asyncio.to_thread(rounds.consented, ctx.conversation.id) if ctx.conversation else set()
    lines = ["**Tools here**"]
    for server in sorted(here.servers.values(), key=lambda s: s.name):
        where = server.command if server.transport == "stdio" else server.url
        if server.down:
            why = f": {server.last_check_error}" if server.last_check_error else ""
            lines.append(f"**{server.name}** ({server.transport}) is down{why}; its tools are not offered now.")
            continue
        offered = server.offered
        lines.append(f"**{server.name}** ({server.transport}, {where}): {len(offered)} tool(s)")
        for tool in offered:
            asks = ""
            if tool.consent:
                asks = (
                    " · runs after your OK" if (server.name, tool.name) not in allowed else " · allowed in this thread"
                )
            about = f" — {tool.description.strip().splitlines()[0]}" if tool.description.strip() else ""
            lines.append(f"• `{tool.name}`{about}{asks}")
    current = ctx.conversation.current_model if ctx.conversation else None
    model = choose_model(ctx.snap, current, ctx.key, None).model
    if model is not None and not model.supports_tools:
        able = tool_suggestions(ctx.snap, ctx.policy, most=3)
        names = ", ".join(f"`{n}`" for n in able) or "none here yet"
        lines.append(f"{model.name} cannot call tools. Models here that can: {names} (`!model NAME` switches).")
    elif model is not None:
        lines.append(f"{model.name} can call them; a reply shows each call it makes.")
    yield Reply("\n".join(lines), kind="info", ephemeral=True)
