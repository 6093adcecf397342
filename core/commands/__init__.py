"""Chat commands, answered in core as neutral replies that adapters only render."""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.commands import compare, info, install, model, prefs, retry, system, tools  # noqa: F401  (each module registers its commands)
from core.commands.base import COMMANDS, Context, parse
from core.types import Event, Reply

__all__ = ["COMMANDS", "Context", "parse", "run"]


async def run(name: str, args: str, ctx: Context) -> AsyncIterator[Event]:
    spec = COMMANDS.get(name)
    if spec is None:
        known = ", ".join(f"`!{n}`" for n in sorted(COMMANDS))
        yield Reply(
            f"There is no `!{name}` command. Commands: {known}. `!help` explains them.",
            kind="error",
            ephemeral=True,
        )
        return
    if spec.admin_only and not ctx.is_admin:
        yield Reply(f"`!{name}` is for admins only. Ask an admin of this workspace.", kind="refusal", ephemeral=True)
        return
    async for event in spec.handler(ctx, args):
        yield event
