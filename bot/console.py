"""A terminal thread on the same core: `switchboard chat` (interactive) and `switchboard ask` (one turn)."""

from __future__ import annotations

import asyncio
import getpass
import io
import sys
import uuid
from typing import TextIO

from core.chat import handle
from core.types import Delta, Done, IncomingMessage, Notice, Reply

ERROR_KINDS = ("error", "refusal")


def incoming(thread: str, text: str) -> IncomingMessage:
    user = getpass.getuser()
    return IncomingMessage(
        platform="console",
        workspace="local",
        channel="terminal",
        thread=thread,
        user=user,
        user_name=user,
        text=text,
        event_id=f"console-{uuid.uuid4().hex}",
        user_is_admin=True,  # whoever runs the CLI on the server operates it
    )


async def turn(thread: str, text: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> bool:
    """Send one message and print what comes back. False when the user got an error or a refusal."""
    ok = True
    streaming = False
    async for event in handle(incoming(thread, text)):
        if isinstance(event, Delta):
            out.write(event.text)
            out.flush()
            streaming = True
        elif isinstance(event, Notice):
            err.write(("\n" if streaming else "") + f"[note] {event.text}\n")
        elif isinstance(event, Reply):
            failed = event.kind in ERROR_KINDS
            ok = ok and not failed
            (err if failed else out).write(("\n" if streaming else "") + event.text + "\n")
            streaming = False
        elif isinstance(event, Done):
            ok = ok and event.result.status in ("ok", "partial")
            if event.result.status != "error":
                out.write(("\n" if streaming else "") + f"— {event.footer}\n")
            streaming = False
    out.flush()
    return ok


async def ask(thread: str, text: str, model: str | None = None) -> int:
    if model:
        quiet, why = io.StringIO(), io.StringIO()
        if not await turn(thread, f"!model {model}", out=quiet, err=why):
            sys.stderr.write(why.getvalue())
            return 1
    return 0 if await turn(thread, text) else 1


async def chat(thread: str, model: str | None = None) -> int:
    print(f"Switchboard chat — thread '{thread}'. `!help` lists commands; Ctrl-D quits, Ctrl-C stops a reply.")
    if model:
        await turn(thread, f"!model {model}")
    await turn(thread, "!model")
    while True:
        try:
            line = await asyncio.to_thread(input, "you> ")
        except EOFError:
            print()
            return 0
        if line.strip() in ("/quit", "/exit"):
            return 0
        if not line.strip():
            continue
        task = asyncio.ensure_future(turn(thread, line))
        try:
            await asyncio.shield(task)
        except (KeyboardInterrupt, asyncio.CancelledError):
            task.cancel()
            print("\n[stopped]")
