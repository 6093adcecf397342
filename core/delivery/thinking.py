"""A reasoning model's thinking, shown apart from its answer while it streams (the core's Thinking events).

The thinking is one message of its own above the answer, written the way the answer is: at most once per
`surface.interval` from when the previous write ended, retried after a platform's Later, dropped after Gone. The
surface decides how it looks (Slack: small grey context text; Discord: subtext; the terminal: marked lines on
stderr) and how much of it fits: `Thought.tail` gives the latest thinking within a number of characters, so long
reasoning never pushes a message past a platform's limit, and `Thought.words` says how much there was in all. When
the answer starts, the thinking message is written one last time, as done.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from core.delivery.surface import Gone, Later, Surface, Thought


class ThinkingStream:
    """Call `add` with each piece of thinking; `wrap_up` when the answer starts; `close` (or `abort`) at the end."""

    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self._text = ""
        self._done = False
        self._handle: Any = None
        self._written = asyncio.Event()  # the first write has ended (or will never happen)
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    def add(self, text: str) -> None:
        if text and not self._done:
            self._text += text
            self._kick()

    async def wrap_up(self) -> None:
        """The answer starts: once the thinking message is there (so the answer comes below it), it is written one
        last time as done, in the background."""
        if self._pump is None:
            return
        await self._written.wait()
        self._done = True
        self._kick()

    async def close(self) -> None:
        """The turn is over: the thinking message is finished (raises what stopped it, e.g. a permission error)."""
        await self.wrap_up()
        if self._pump is not None:
            await self._pump

    async def abort(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(BaseException):
                await self._pump

    def _kick(self) -> None:
        self._wake.set()
        if self._pump is None:
            self._pump = asyncio.create_task(self._run(), name="thinking-stream")

    async def _run(self) -> None:
        try:
            await self._write_until_done()
        finally:
            self._written.set()

    async def _write_until_done(self) -> None:
        ended: float | None = None  # when the last write ended (monotonic)
        while True:
            await self._wake.wait()
            self._wake.clear()
            if ended is not None and (wait := ended + self.surface.interval - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            thought = Thought(self._text, self._done)
            try:
                self._handle = await self.surface.think(self._handle, thought)
            except Later as later:
                await asyncio.sleep(later.seconds)
                self._wake.set()
                continue
            except Gone:
                return
            finally:
                ended = time.monotonic()
                if self._handle is not None:
                    self._written.set()
            if thought.done:
                return
