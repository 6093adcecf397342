"""A chat surface that records what the reply driver asked it to show, with when: the driver's tests read it the
way a person reads a channel (messages in order, each with its final text and tail)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from core.delivery.surface import Later, Tail, Thought
from core.delivery.tools import IN_PROGRESS, tool_line
from core.types import Reply, ToolActivity


@dataclass
class Write:
    handle: int
    text: str
    final: bool
    tail: Tail | None
    at: float  # monotonic time the write started


@dataclass
class Shown:
    """One message on the surface as the user sees it now."""

    kind: str  # reply | notice | piece | thinking | tool (a tool call: core.delivery.tools.tool_line)
    text: str
    tail: Tail | None = None
    final: bool = False


@dataclass
class RecordingSurface:
    limit: int = 2000
    interval: float = 0.2
    first_delay: float = 0.0
    append_only: bool = False
    tail_as_text: bool = False  # write the footer into the last piece (as Discord does)
    write_seconds: float = 0.0  # how long each write takes
    later_once: float | None = None  # the first edit is refused with "retry after this many seconds"
    tool_later_once: float | None = None  # the first update of a tool call's message is refused likewise
    writes: list[Write] = field(default_factory=list)
    shown: list[Shown] = field(default_factory=list)
    typed: int = 0
    aborted: list[int] = field(default_factory=list)
    _handles: dict[int, int] = field(default_factory=dict)  # handle -> index in shown

    @property
    def appends_only(self) -> bool:
        return self.append_only

    async def typing(self) -> None:
        self.typed += 1

    async def show(self, reply: Reply) -> None:
        self.shown.append(Shown("reply", reply.text))

    async def notice(self, text: str) -> None:
        self.shown.append(Shown("notice", text))

    def tail_text(self, tail: Tail) -> str:
        if not self.tail_as_text:
            return ""
        lines = [f"-# note: {n}" for n in tail.notices] + ([f"-# {tail.footer}"] if tail.footer else [])
        return "\n\n" + "\n".join(lines) if lines else ""

    async def post(self, text: str, *, final: bool, tail: Tail | None) -> Any:
        handle = len(self._handles) + 1
        await self._write(handle, text, final, tail)
        self._handles[handle] = len(self.shown)
        self.shown.append(Shown("piece", text, tail, final))
        return handle

    async def edit(self, handle: Any, text: str, *, final: bool, tail: Tail | None) -> None:
        if self.later_once is not None:
            seconds, self.later_once = self.later_once, None
            raise Later(seconds)
        await self._write(handle, text, final, tail)
        self.shown[self._handles[handle]] = Shown("piece", text, tail, final)

    async def abort(self, handles: list[Any]) -> None:
        self.aborted.extend(handles)

    async def think(self, handle: Any, thought: Thought) -> Any:
        if handle is None:
            handle = len(self._handles) + 1
            self._handles[handle] = len(self.shown)
            self.shown.append(Shown("thinking", thought.text))
        self.shown[self._handles[handle]] = Shown("thinking", thought.text, None, thought.done)
        return handle

    async def tool(self, handle: Any, activity: ToolActivity) -> Any:
        text, final = tool_line(activity), activity.state not in IN_PROGRESS
        if handle is None:
            handle = len(self._handles) + 1
            await self._write(handle, text, final, None)
            self._handles[handle] = len(self.shown)
            self.shown.append(Shown("tool", text, None, final))
            return handle
        if self.tool_later_once is not None:
            seconds, self.tool_later_once = self.tool_later_once, None
            raise Later(seconds)
        await self._write(handle, text, final, None)
        self.shown[self._handles[handle]] = Shown("tool", text, None, final)
        return handle

    async def _write(self, handle: int, text: str, final: bool, tail: Tail | None) -> None:
        assert len(text) <= self.limit, f"a write of {len(text)} characters on a {self.limit}-character surface"
        self.writes.append(Write(handle, text, final, tail, time.monotonic()))
        if self.write_seconds:
            await asyncio.sleep(self.write_seconds)

    # ------------------------------------------------------------ reading it back

    def writes_to(self, handle: int) -> list[Write]:
        return [w for w in self.writes if w.handle == handle]

    @property
    def pieces(self) -> list[Shown]:
        return [s for s in self.shown if s.kind == "piece"]

    @property
    def tools(self) -> list[Shown]:
        return [s for s in self.shown if s.kind == "tool"]
