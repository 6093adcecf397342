"""Tool calls shown in the thread while they run and after (the core's ToolActivity events).

Each call is a small message of its own, in the order the calls started, between the text the model wrote before
calling and the answer it wrote after: `🔧 docs.lookup_ticket (ticket_id: "T-1") · running…`, then the same
message updated to how it ended, `✅ docs.lookup_ticket (ticket_id: "T-1") · 0.4 s · 1.2 KB`. `tool_line` is that
line in plain text, the one every surface starts from (escaping it for its markup); `ToolMessage` writes one
call's message the way thinking is written: the latest state only, at most once per `surface.interval` from when
the previous write ended, retried after a platform's Later, dropped after Gone, one write in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from core.delivery.surface import Gone, Later, Surface
from core.formatting import duration
from core.types import ToolActivity

ARGS_LIMIT = 120  # characters of the arguments' summary shown
DETAIL_LIMIT = 200  # of how it ended
IN_PROGRESS = ("running", "awaiting")
CUT_OFF = "cut off: the reply stopped"  # the detail of a call still running when its turn was cut off
ABORT_WRITE_S = 5.0

ICONS = {
    "running": "🔧",
    "awaiting": "🔐",
    "ok": "✅",
    "error": "⚠️",
    "timeout": "⏱️",
    "declined": "🚫",
    "unavailable": "⚠️",
}
CUT_OFF_ICON = "⏹️"


def _one_line(text: str, limit: int) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def tool_call(activity: ToolActivity) -> str:
    """`server.tool (args)`: which call, on one line, its summary clipped (it comes from a model)."""
    name = _one_line(f"{activity.server}.{activity.tool}" if activity.server else activity.tool, ARGS_LIMIT)
    args = _one_line(activity.args, ARGS_LIMIT)
    return f"{name} ({args})" if args else name


def tool_outcome(activity: ToolActivity) -> str:
    """How the call stands, in a few words: `running…`, `0.4 s · 1.2 KB`, `timed out after 30 s`, ..."""
    state, detail = activity.state, _one_line(activity.detail, DETAIL_LIMIT)
    took = duration(activity.seconds) if activity.seconds is not None else ""
    if state == "running":
        return "running…"
    if state == "awaiting":
        return detail or "waiting for your OK"
    if state == "ok":
        return " · ".join(p for p in (took, detail) if p) or "done"
    if state == "timeout":
        return f"timed out after {took}" if took else detail or "timed out"
    if state == "declined":
        return f"not run: {detail or 'you declined'}"
    if state == "unavailable":
        return f"not run: {detail}" if detail else f"not run: {activity.server or 'its server'} is unavailable"
    if detail == CUT_OFF:
        return f"cut off after {took}: the reply stopped" if took else "cut off: the reply stopped"
    failed = f"failed after {took}" if activity.seconds else "failed"  # 0: it never ran (e.g. invalid arguments)
    return f"{failed}: {detail}" if detail else failed


def tool_icon(activity: ToolActivity) -> str:
    """What a tool line starts with: how the call stands, at a glance."""
    if activity.state == "error" and activity.detail == CUT_OFF:
        return CUT_OFF_ICON
    return ICONS.get(activity.state, "🔧")


def tool_line(activity: ToolActivity) -> str:
    """The call as one plain-text line: icon, `server.tool (args)`, how it stands. Not escaped for any markup."""
    return f"{tool_icon(activity)} {tool_call(activity)} · {tool_outcome(activity)}"


def cut_off(activity: ToolActivity, seconds: float | None) -> ToolActivity:
    """The call as it is shown when its turn stopped while it ran (or waited for an OK)."""
    return dataclasses.replace(activity, state="error", seconds=seconds, detail=CUT_OFF)


class ToolMessage:
    """One call's message. `update` with each of its activities; `close` at the end of the turn, or `abort`.

    `ready` is awaited before the first write, so the message lands below what must stay above it (the text the
    model wrote before calling, the calls started before this one)."""

    def __init__(self, surface: Surface, ready: Callable[[], Awaitable[None]] | None = None) -> None:
        self.surface = surface
        self._ready = ready
        self._latest: ToolActivity | None = None
        self._shown: ToolActivity | None = None
        self._handle: Any = None
        self._started = time.monotonic()
        self._written = asyncio.Event()  # the first write has ended (or will never happen)
        self._ended: float | None = None  # when the last write ended (monotonic)
        self._gone = False
        self._pump: asyncio.Task[None] | None = None

    def update(self, activity: ToolActivity) -> None:
        self._latest = activity
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._write_latest(), name="tool-message")

    async def posted(self) -> None:
        """Until the message is on the surface (or never will be): what is posted after it lands below it."""
        if self._pump is not None:
            await self._written.wait()

    async def close(self) -> None:
        """The turn is over: the latest state is written (raises what stopped it, e.g. a permission error)."""
        if self._pump is not None:
            await self._pump

    async def abort(self) -> None:
        """The turn stopped: a call shown still running (or waiting for an OK) is closed as cut off, or as it ended
        if that was not shown yet."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(BaseException):
                await self._pump
        shown, latest = self._shown, self._latest
        if shown is None or latest is None or self._gone:
            return  # never shown: nothing to close
        if latest is not shown and latest.state not in IN_PROGRESS:
            last = latest  # it ended before the turn stopped: shown as it ended
        elif shown.state in IN_PROGRESS:
            last = cut_off(shown, time.monotonic() - self._started)
        else:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.surface.tool(self._handle, last), ABORT_WRITE_S)

    async def _write_latest(self) -> None:
        try:
            if self._ready is not None:
                ready, self._ready = self._ready, None
                await ready()
            while not self._gone and self._latest is not None and self._latest is not self._shown:
                if self._ended is not None and (wait := self._ended + self.surface.interval - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                activity = self._latest
                try:
                    self._handle = await self.surface.tool(self._handle, activity)
                    self._shown = activity
                except Later as later:
                    await asyncio.sleep(later.seconds)
                except Gone:
                    self._gone = True
                finally:
                    self._ended = time.monotonic()
                    if self._handle is not None:
                        self._written.set()
        finally:
            self._written.set()  # written, or it never will be: nothing waits on it any longer
