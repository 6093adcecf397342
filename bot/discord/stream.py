"""A model's reply streamed into Discord messages: throttled edits, continued in new messages past the limit.

Deltas are coalesced: the message is edited at most once per `EDIT_INTERVAL_S` (Discord asks for >= 1 s between
edits of one message), with whatever arrived meanwhile. When the text outgrows a message, the finished part is
settled and the rest continues in a new message, split where `render.split_message` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Protocol

import discord

from bot.discord.render import CLOSE, MESSAGE_LIMIT, fence_state, footer_line, notice_line, split_message

EDIT_INTERVAL_S = 1.0


class EditPacer:
    """Keeps edits of each message at least `interval` apart, measured from when the previous edit finished
    (so Discord sees the gap even when requests take different times to arrive)."""

    def __init__(self, interval: float = EDIT_INTERVAL_S) -> None:
        self.interval = interval
        self._last: dict[int, float] = {}

    async def wait(self, message_id: int) -> None:
        last = self._last.get(message_id)
        if last is not None:
            delay = last + self.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    def touched(self, message_id: int) -> None:
        self._last[message_id] = time.monotonic()
        if len(self._last) > 5000:  # old messages are never edited again
            for key in list(self._last)[:1000]:
                del self._last[key]


class Sink(Protocol):
    """Where a streamed reply goes: a channel or thread."""

    async def send(self, content: str, view: discord.ui.View | None) -> discord.Message: ...

    async def edit(self, message: discord.Message, content: str, view: discord.ui.View | None) -> None: ...


class ChannelSink:
    def __init__(self, channel: discord.abc.Messageable) -> None:
        self.channel = channel

    async def send(self, content: str, view: discord.ui.View | None) -> discord.Message:
        if view is None:
            return await self.channel.send(content)
        return await self.channel.send(content, view=view)

    async def edit(self, message: discord.Message, content: str, view: discord.ui.View | None) -> None:
        if view is None:
            await message.edit(content=content)
        else:
            await message.edit(content=content, view=view)


@dataclass
class _Shown:
    message: discord.Message
    content: str
    has_view: bool = False


class StreamedReply:
    """One reply, shown while it streams. `add`/`notice` never block; `finish` shows the final text and footer.

    Errors from Discord (e.g. discord.Forbidden) surface from `add`'s background work in `finish`, or from
    `finish` itself.
    """

    def __init__(self, sink: Sink, pacer: EditPacer, *, limit: int = MESSAGE_LIMIT) -> None:
        self._sink, self._pacer, self._limit = sink, pacer, limit
        self._text = ""
        self._notices: list[str] = []
        self._shown: list[_Shown] = []
        self._changed = asyncio.Event()
        self._pump_task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def messages(self) -> list[discord.Message]:
        return [s.message for s in self._shown]

    @property
    def text(self) -> str:
        return self._text

    @property
    def unfinished(self) -> bool:
        """Something was shown (or is being shown) but `finish` was not called."""
        return self._pump_task is not None and not self._closing

    def add(self, text: str) -> None:
        self._raise_failure()
        if text:
            self._text += text
            self._kick()

    def notice(self, text: str) -> None:
        self._raise_failure()
        self._notices.append(text)
        self._kick()

    def _raise_failure(self) -> None:
        """Discord refused an update (e.g. missing permissions): stop the turn now rather than at the end."""
        task = self._pump_task
        if task is not None and task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]

    def _kick(self) -> None:
        if self._pump_task is None:
            self._pump_task = asyncio.create_task(self._pump(), name="discord-stream")
        self._changed.set()

    async def _pump(self) -> None:
        while not self._closing:
            await self._changed.wait()
            self._changed.clear()
            if self._closing:
                return
            await self._render(None, None, final=False)

    async def finish(self, footer: str | None, view: discord.ui.View | None = None) -> list[discord.Message]:
        """Show everything with the footer (and buttons) under the last part. Returns the messages used."""
        self._closing = True
        self._changed.set()
        if self._pump_task is not None:
            await self._pump_task
        await self._render(footer, view, final=True)
        return self.messages

    async def abort(self) -> None:
        """Stop showing updates (the turn ended elsewhere, e.g. on a Discord error)."""
        self._closing = True
        self._changed.set()
        if self._pump_task is not None:
            self._pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, discord.HTTPException):
                await self._pump_task

    def _chunks(self, footer: str | None, final: bool) -> list[str]:
        parts = [self._text.strip("\n")] if self._text.strip() else []
        if final and not parts and footer is not None and not self._notices:
            parts.append("*(the model sent an empty reply)*")
        lines = [notice_line(n) for n in self._notices] + ([footer_line(footer)] if footer else [])
        if lines:
            parts.append("\n".join(lines))
        # Room for closing a code block the partial text left open, so no chunk changes shape when it closes.
        chunks = split_message("\n\n".join(parts), self._limit - len(CLOSE))
        if not final and chunks and fence_state(chunks[-1]):
            chunks[-1] += CLOSE
        return chunks

    async def _render(self, footer: str | None, view: discord.ui.View | None, *, final: bool) -> None:
        while True:
            chunks = self._chunks(footer, final)
            stale = self._first_stale(chunks, view is not None)
            if stale is None:
                return
            last = stale == len(chunks) - 1
            attach = view if final and last else None
            if stale >= len(self._shown):
                message = await self._sink.send(chunks[stale], attach)
                self._pacer.touched(message.id)
                self._shown.append(_Shown(message, chunks[stale], attach is not None))
                continue
            shown = self._shown[stale]
            await self._pacer.wait(shown.message.id)
            if self._closing and not final:
                return  # finish() renders the final state; an edit now would only delay it
            chunks = self._chunks(footer, final)  # whatever arrived while waiting goes into this edit
            content = chunks[stale] if stale < len(chunks) else shown.content
            if content == shown.content and attach is None:
                continue
            try:
                await self._sink.edit(shown.message, content, attach)
            finally:
                self._pacer.touched(shown.message.id)
            shown.content, shown.has_view = content, shown.has_view or attach is not None

    def _first_stale(self, chunks: list[str], wants_view: bool) -> int | None:
        for i, chunk in enumerate(chunks):
            if i >= len(self._shown) or self._shown[i].content != chunk:
                return i
        if wants_view and chunks and not self._shown[len(chunks) - 1].has_view:
            return len(chunks) - 1
        return None
