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
EXIT_NEEDS_CONFIRMATION = 3  # `ask`: nothing was answered, the reply waits for `!confirm`


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


async def turn(thread: str, text: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Send one message and print what comes back. Returns an exit code: 0 answered, 1 an error or a refusal,
    EXIT_NEEDS_CONFIRMATION when the reply waits for `!confirm`."""
    ok = True
    waiting = False
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
            waiting = waiting or event.kind == "confirm"
            (err if failed else out).write(("\n" if streaming else "") + event.text + "\n")
            streaming = False
        elif isinstance(event, Done):
            ok = ok and event.result.status in ("ok", "partial")
            if event.result.status != "error":
                out.write(("\n" if streaming else "") + f"— {event.footer}\n")
            streaming = False
    out.flush()
    return 1 if not ok else EXIT_NEEDS_CONFIRMATION if waiting else 0


async def ask(thread: str, text: str, model: str | None = None) -> int:
    if model:
        quiet, why = io.StringIO(), io.StringIO()
        if await turn(thread, f"!model {model}", out=quiet, err=why):
            sys.stderr.write(why.getvalue())
            return 1
    code = await turn(thread, text)
    if code == EXIT_NEEDS_CONFIRMATION:
        sys.stderr.write(
            f"Nothing was answered yet: the reply waits for confirmation. Run "
            f"`switchboard ask --thread {thread} '!confirm'` to send it, or '!cancel'.\n"
        )
    return code


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
