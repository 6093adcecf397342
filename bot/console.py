"""A terminal thread on the same core: `switchboard chat` (interactive) and `switchboard ask` (one turn)."""

from __future__ import annotations

import asyncio
import getpass
import io
import mimetypes
import sys
import uuid
from pathlib import Path
from typing import TextIO

from core.delivery.driver import PROBLEM_KINDS, drive
from core.delivery.surface import Tail, Thought
from core.delivery.tools import tool_line
from core.types import FileUnavailable, IncomingFile, IncomingMessage, Reply, ToolActivity

EXIT_NEEDS_CONFIRMATION = 3  # `ask`: nothing was answered, the reply waits for `!confirm`
THINKING = "[thinking] "  # marks each line of a reasoning model's thinking
TOOL = "[tool] "  # marks a tool call's lines


def local_file(path: str) -> IncomingFile:
    """A file on this machine, read when the turn is answered. Raises FileNotFoundError for a path that is not a
    readable file (the CLI says so before anything is sent)."""
    found = Path(path).expanduser()
    if not found.is_file():
        raise FileNotFoundError(f"no such file: {path}")

    async def read() -> bytes:
        try:
            return await asyncio.to_thread(found.read_bytes)
        except OSError as err:
            raise FileUnavailable(err.strerror or "it cannot be read") from None

    mime = mimetypes.guess_type(found.name)[0] or ""
    return IncomingFile(found.name, mime, found.stat().st_size, fetch=read)


def incoming(thread: str, text: str, files: tuple[IncomingFile, ...] = ()) -> IncomingMessage:
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
        files=files,
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
        self._thought = ""  # the thinking printed so far
        self._thinking_midline = False
        self._tools = 0

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
        more = text[len(self._shown[handle]) :]
        if more:  # (nothing: the cursor stays where it is, e.g. on the line after a tool call's)
            self.out.write(more)
            self.out.flush()
            self._midline = True
        self._shown[handle] = text
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

    async def think(self, handle: int | None, thought: Thought) -> int:
        """A reasoning model's thinking on stderr as it streams, apart from the answer (which goes to stdout): every
        line marked, dimmed on a terminal; then how much there was."""
        new = thought.text[len(self._thought) :] if handle is not None else thought.text
        for i, part in enumerate(new.split("\n")):
            if i:
                self.err.write("\n")
                self._thinking_midline = False
            if part:
                self.err.write(self._dim(part if self._thinking_midline else THINKING + part))
                self._thinking_midline = True
        self._thought = thought.text
        if thought.done:
            words = f"{thought.words:,} word{'' if thought.words == 1 else 's'}"
            end = self._dim(f"{THINKING}(thought for {words})")
            self.err.write(("\n" if self._thinking_midline else "") + end + "\n")
            self._thinking_midline = False
        self.err.flush()
        return 1

    async def tool(self, handle: int | None, activity: ToolActivity) -> int:
        """A tool call of the reply on stderr: a line as it starts, another as it ends (a terminal cannot change
        what it printed). Returns a number for the call."""
        self._line(self.err, TOOL + tool_line(activity))
        if handle is None:
            self._tools += 1
            handle = self._tools
        return handle

    def _dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[22m" if self.err.isatty() else text


async def turn(
    thread: str,
    text: str,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    files: tuple[IncomingFile, ...] = (),
) -> int:
    """Send one message (with `files`) and print what comes back. Returns an exit code: 0 answered, 1 an error or
    a refusal, EXIT_NEEDS_CONFIRMATION when the reply waits for `!confirm`."""
    outcome = await drive(incoming(thread, text, files), Terminal(out, err))
    return 1 if not outcome.ok else EXIT_NEEDS_CONFIRMATION if outcome.waiting else 0


async def ask(thread: str, text: str, model: str | None = None, files: tuple[IncomingFile, ...] = ()) -> int:
    if model:
        quiet, why = io.StringIO(), io.StringIO()
        if await turn(thread, f"!model {model}", out=quiet, err=why):
            sys.stderr.write(why.getvalue())
            return 1
    code = await turn(thread, text, files=files)
    if code == EXIT_NEEDS_CONFIRMATION:
        sys.stderr.write(
            f"Nothing was answered yet: the reply waits for confirmation. Run "
            f"`switchboard ask --thread {thread} '!confirm'` to send it, or '!cancel'.\n"
        )
    return code


ATTACH = "!attach"


def _attach(line: str, waiting: list[IncomingFile]) -> None:
    """`!attach PATH`: the file goes with the next message sent."""
    path = line.strip()[len(ATTACH) :].strip()
    if not path:
        names = ", ".join(f.name for f in waiting) or "none"
        print(f"`!attach PATH` sends a file with your next message. Waiting to be sent: {names}.")
        return
    try:
        waiting.append(local_file(path))
    except FileNotFoundError as err:
        print(f"Not attached: {err}.")
        return
    print(f"[{waiting[-1].name} goes with your next message]")


async def chat(thread: str, model: str | None = None, files: tuple[IncomingFile, ...] = ()) -> int:
    print(
        f"Switchboard chat — thread '{thread}'. `!help` lists commands, `!attach PATH` sends a file with your next "
        "message; Ctrl-D quits, Ctrl-C stops a reply."
    )
    if model:
        await turn(thread, f"!model {model}")
    await turn(thread, "!model")
    waiting = list(files)
    if waiting:
        print(f"[{', '.join(f.name for f in waiting)} go with your first message]")
    while True:
        try:
            line = await asyncio.to_thread(input, "you> ")
        except EOFError:
            print()
            return 0
        if line.strip() in ("/quit", "/exit"):
            return 0
        if line.strip().startswith(ATTACH):
            _attach(line, waiting)
            continue
        if not line.strip() and not waiting:
            continue
        sending, waiting = tuple(waiting), []
        task = asyncio.ensure_future(turn(thread, line, files=sending))
        try:
            await asyncio.shield(task)
        except (KeyboardInterrupt, asyncio.CancelledError):
            task.cancel()
            print("\n[stopped]")
