"""A terminal thread on the same core: `switchboard chat` (interactive) and `switchboard ask` (one turn)."""

from __future__ import annotations

import asyncio
import getpass
import io
import sys
import uuid
from typing import TextIO

from core.delivery.driver import PROBLEM_KINDS, drive
from core.delivery.surface import Tail
from core.types import IncomingMessage, Reply

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


class Terminal:
    """The terminal as a surface: text is printed as it streams (it cannot be taken back), notes go to stderr."""

    limit = 1_000_000_000  # a terminal has no message limit
    interval = 0.0
    first_delay = 0.0
    appends_only = True

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self._shown: dict[int, str] = {}
        self._midline = False  # the cursor is after streamed text

    def _line(self, stream: TextIO, text: str) -> None:
        stream.write(("\n" if self._midline else "") + text + "\n")
        stream.flush()
        self._midline = False

    async def typing(self) -> None:
        return None

    async def show(self, reply: Reply) -> None:
        self._line(self.err if reply.kind in PROBLEM_KINDS else self.out, reply.text)

    async def notice(self, text: str) -> None:
        self._line(self.err, f"[note] {text}")

    def tail_text(self, tail: Tail) -> str:
        return ""

    async def post(self, text: str, *, final: bool, tail: Tail | None) -> int:
        handle = len(self._shown) + 1
        self._shown[handle] = ""
        await self.edit(handle, text, final=final, tail=tail)
        return handle

    async def edit(self, handle: int, text: str, *, final: bool, tail: Tail | None) -> None:
        self.out.write(text[len(self._shown[handle]) :])
        self.out.flush()
        self._shown[handle] = text
        self._midline = True
        if tail is not None:
            for note in tail.notices:
                self._line(self.err, f"[note] {note}")
            if tail.footer:
                self._line(self.out, f"— {tail.footer}")
        if final and self._midline:
            self._line(self.out, "")

    async def abort(self, handles: list[int]) -> None:
        if self._midline:
            self._line(self.out, "")


async def turn(thread: str, text: str, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Send one message and print what comes back. Returns an exit code: 0 answered, 1 an error or a refusal,
    EXIT_NEEDS_CONFIRMATION when the reply waits for `!confirm`."""
    outcome = await drive(incoming(thread, text), Terminal(out, err))
    return 1 if not outcome.ok else EXIT_NEEDS_CONFIRMATION if outcome.waiting else 0


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
