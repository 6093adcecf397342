"""`!retry`: answer a thread's last message again. core.chat runs it inside threads, where there is a turn to
answer; here is only what it says elsewhere (and its line in `!help`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.commands.base import Context, command
from core.types import Event, Reply


@command("retry", "!retry", "Answer the thread's last message again (after a reply was cut off or interrupted).")
async def retry_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    yield Reply("`!retry` answers the last message of a thread again: use it inside a thread.", kind="info")
