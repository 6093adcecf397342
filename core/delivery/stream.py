"""One model reply shown while it streams: coalesced, paced writes, continued in new messages past the limit.

Deltas only append to a buffer; a background pump brings the surface up to date. Each message is written at most
once per `surface.interval` seconds, measured from when its previous write ended, with whatever arrived
meanwhile. The first piece waits `surface.first_delay`, so a reply complete by then goes out in one call.

When the text outgrows a message it is cut at a paragraph, line or word (core.delivery.split, which never leaves
a code fence open), the finished piece is closed and never changes again, and the rest continues in a new
message. On an append-only surface nothing shown is ever taken back; elsewhere an open code fence is closed in
the preview so the partial reply renders. The tail (footer, notices, buttons) goes under the last piece.

A reply that calls tools is shown in parts: the text the model wrote before calling (`shown` brings all of it on
screen, so the tool calls land below it), the calls (core.delivery.tools), then the answer in a new stream below
them; the first part is finished as a piece (`finish(None)`: nothing under it) and its notices go on with the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from core.delivery.split import RESERVE, cut, open_fence
from core.delivery.surface import Gone, Later, Surface, Tail

EMPTY_REPLY = "_The model sent an empty reply._"
FINAL_ATTEMPTS = 5  # a final write asked to wait this many times in a row is given up


@dataclass
class _Message:
    handle: Any
    shown: str  # the text last written
    done_at: float  # when its last write ended (monotonic)
    appends: bool  # opened on an append-only surface: its text only grows
    closed: bool = False


class ReplyStream:
    """Call `add` with each delta (and `note` with each notice), then `finish` with the tail, or `abort`."""

    def __init__(self, surface: Surface, notices: tuple[str, ...] = ()) -> None:
        self.surface = surface
        self.limit = surface.limit
        self._text = ""
        self._notices: list[str] = list(notices)
        self._done: list[str] = []  # pieces already cut off: they never change again
        self._start = 0  # where the current piece begins in _text
        self._reopen = ""  # a fence header the current piece starts with
        self._messages: list[_Message] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._gone = False
        self._busy = False  # the pump is writing: finishing must wait for it, not cancel it
        self._idle = asyncio.Event()  # the pump has written everything added so far
        self._whole = False  # an append-only message shows its last word too: no text comes after it
        self._ended = asyncio.Event()  # finish or abort has written all it will
        self._pump: asyncio.Task[None] | None = None

    @property
    def notices(self) -> tuple[str, ...]:
        """The notices of the turn so far, for the tail."""
        return tuple(self._notices)

    def add(self, text: str) -> None:
        self._raise_failure()
        if text and not self._gone:
            self._text += text
            self._kick()

    def note(self, text: str) -> None:
        """A notice during the reply: shown under it (in the preview too, where the surface writes it as text)."""
        self._raise_failure()
        self._notices.append(text)
        if self._pump is not None:
            self._kick()

    async def shown(self) -> None:
        """Until everything added so far is on the surface (or never will be), so what is posted next lands below
        it. On an append-only surface the last word, held back while more could follow, is shown too: nothing may
        be added after this, only `finish`."""
        self._whole = True
        if self._pump is not None and not self._closing and not self._gone:
            if self.surface.appends_only:
                self._kick()  # the held-back word
            idle = asyncio.ensure_future(self._idle.wait())
            try:
                await asyncio.wait({idle, self._pump}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                idle.cancel()
        if self._closing and self._pump is not None:
            await self._ended.wait()  # being finished: its last writes may still post a piece

    async def finish(self, tail: Tail | None) -> None:
        """Show the rest of the text with `tail` under the last piece. None: the reply goes on in a new stream (a
        tool ran in between): this one is finished as a piece of it, with nothing under it."""
        try:
            await self._finish(tail)
        finally:
            self._ended.set()

    async def _finish(self, tail: Tail | None) -> None:
        self._closing = True
        self._wake.set()
        if self._pump is not None:
            if not self._busy:  # idle (e.g. still in its first delay): the final write below does it all now
                self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump  # raises what stopped it (e.g. a permission error)
        if self._gone:
            return
        if tail is not None:
            if not self._text.strip():
                self._text = EMPTY_REPLY
            self._text += self.surface.tail_text(tail)
        for _ in range(FINAL_ATTEMPTS):
            try:
                await self._sync(tail, final=True)
                return
            except Later as later:
                await asyncio.sleep(later.seconds)
            except Gone:
                return

    async def abort(self) -> None:
        """Stop without finishing (the turn was cancelled or failed): open messages are closed as cut off."""
        try:
            await self._abort()
        finally:
            self._ended.set()

    async def _abort(self) -> None:
        self._closing = True
        self._wake.set()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(BaseException):
                await self._pump
        open_handles = [m.handle for m in self._messages if not m.closed]
        if open_handles and not self._gone:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.surface.abort(open_handles), 5)

    # ------------------------------------------------------------ internals

    def _raise_failure(self) -> None:
        """The surface refused a write (other than Gone): stop the turn now rather than at its end."""
        task = self._pump
        if task is not None and task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    def _kick(self) -> None:
        self._wake.set()
        self._idle.clear()
        if self._pump is None:
            self._pump = asyncio.create_task(self._run(), name="reply-stream")

    async def _run(self) -> None:
        if self.surface.first_delay > 0:
            await asyncio.sleep(self.surface.first_delay)
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            self._busy = True
            try:
                await self._sync(None, final=False)
            except Later as later:
                await asyncio.sleep(later.seconds)
                self._wake.set()
            except Gone:
                self._gone = True
                return
            finally:
                self._busy = False
            if not self._wake.is_set():
                self._idle.set()

    def _current(self) -> str:
        return self._reopen + self._text[self._start :]

    def _settle(self, final: bool) -> None:
        """Cut finished pieces off the current one while it is too long for a message.

        While streaming, a piece is cut before it fills the message, leaving room for the fence closer a preview
        or a later cut may add; the final text may use the whole message.
        """
        threshold = self.limit if final else self.limit - RESERVE
        while len(current := self._current()) > threshold:
            index = len(self._done)
            message = self._messages[index] if index < len(self._messages) else None
            shown = len(message.shown) if message is not None and message.appends else 0
            piece = cut(current, self.limit, min_cut=max(shown, len(self._reopen) + 1))
            self._done.append(piece.head)
            self._start += piece.rest - len(self._reopen)
            self._reopen = piece.reopen

    def _piece(self, index: int, closing: bool, appends: bool) -> str:
        if index < len(self._done):
            return self._done[index]
        text = self._current()
        if closing:
            return text
        if appends:  # a live append-only message cannot take text back: show whole words, below the cut's reach
            if self._whole:  # (unless no more text comes: then all of it)
                return text
            head = text[: self.limit - RESERVE]
            end = max(head.rfind(" "), head.rfind("\n"))
            return head[:end] if end > 0 else head
        closer = open_fence(text)
        preview = f"{text}\n{closer}" if closer else text
        if self._notices:
            with_notices = preview + self.surface.tail_text(Tail(None, tuple(self._notices)))
            if len(with_notices) <= self.limit:
                preview = with_notices
        return preview

    async def _sync(self, tail: Tail | None, *, final: bool) -> None:
        """Bring the surface up to date; `final`: this is the last write, with `tail` under the last piece."""
        self._settle(final)
        index = 0
        while index <= len(self._done):
            if not (index < len(self._messages) and self._messages[index].closed):
                last = index == len(self._done)
                await self._write(index, closing=not last or final, tail=tail if last else None, final=final)
                if self._closing and not final:
                    return
            index += 1

    async def _write(self, index: int, *, closing: bool, tail: Tail | None, final: bool) -> None:
        message = self._messages[index] if index < len(self._messages) else None
        if message is None:
            piece = self._piece(index, closing, self.surface.appends_only)
            if piece.strip():
                handle = await self.surface.post(piece, final=closing, tail=tail)
                appends = self.surface.appends_only and not closing
                self._messages.append(_Message(handle, piece, time.monotonic(), appends, closed=closing))
            return
        wait = message.done_at + self.surface.interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if self._closing and not final:
            return  # finish() writes the rest
        self._settle(final)  # text that arrived while waiting may have filled this message
        closing = closing or index < len(self._done)
        piece = self._piece(index, closing, message.appends)
        if piece == message.shown and not closing:
            return
        try:
            await self.surface.edit(message.handle, piece, final=closing, tail=tail if closing else None)
            message.shown, message.closed = piece, closing
        except Later as later:
            message.done_at = time.monotonic() + later.seconds - self.surface.interval
            raise
        finally:
            message.done_at = max(message.done_at, time.monotonic())
