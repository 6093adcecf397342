"""A Slack place as a surface of the reply driver (core.delivery): where one request's answers go.

A `Place` is a thread (visible replies in it, ephemeral ones to the user there) or, for channel-level commands
and pickers, the user alone (ephemerally, through the response_url when there is one). A model's reply is one or
more messages of the thread: streamed with Slack's chat streaming API (chat.startStream / appendStream /
stopStream, for apps with the Agents & AI Apps feature) when it is allowed, else posted and edited with
chat.update. The footer, buttons and model menu are blocks under the last message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import pacing, render
from bot.slack.errors import report, retry_after, slack_error
from core.delivery.surface import Gone, Later, Tail, Thought
from core.types import Reply, ToolActivity

log = logging.getLogger(__name__)
NATIVE_RETRY_AFTER_S = 600.0
SHOW_ATTEMPTS = 5  # an answer Slack still rate-limits after the client's own retries is tried this many times
_native_refused: dict[str, float] = {}  # workspace -> monotonic time until which streaming is not tried


def native_allowed(workspace: str) -> bool:
    """False for a while after Slack refused chat.startStream in this workspace."""
    until = _native_refused.get(workspace)
    return until is None or time.monotonic() >= until


def forget_refusals() -> None:
    """Try chat streaming again everywhere (tests; right after the feature was turned on)."""
    _native_refused.clear()


@dataclass
class _Message:
    ts: str
    stream: AsyncChatStream | None  # None: edited with chat.update
    shown: str = ""


@dataclass
class Place:
    client: AsyncWebClient
    workspace: str
    channel: str
    thread_ts: str  # "" outside threads: answers are ephemeral
    user: str
    respond: AsyncRespond | None = None  # the response_url of a slash command or an interaction
    replace_original: bool = False  # the first answer replaces the ephemeral message that was clicked
    native_streaming: bool = False
    interval: float = 1.0  # Slack's chat.update allows about one edit per second per message
    posted: list[str] = field(default_factory=list)  # what was shown, in order ("ephemeral" or a message ts)
    limit: int = render.MESSAGE_LIMIT
    # The first text of a reply is shown as soon as it arrives; the writes after it come at most one per `interval`.
    first_delay = 0.0

    @property
    def appends_only(self) -> bool:
        return self.native_streaming and native_allowed(self.workspace)

    # ------------------------------------------------------------ whole answers

    async def typing(self) -> None:
        return None  # the assistant panel's "is thinking…" status is set by the handler

    async def show(self, reply: Reply) -> None:
        for text, blocks in render.reply_messages(reply, self.thread_ts):
            await self.post_blocks(text, blocks, ephemeral=reply.ephemeral)

    async def notice(self, text: str) -> None:
        await self.post_blocks(*render.notice_message(text), ephemeral=False)

    async def post_blocks(self, text: str, blocks: list[render.Block], *, ephemeral: bool) -> None:
        ephemeral = ephemeral or not self.thread_ts
        replace, self.replace_original = self.replace_original, False
        if self.respond is not None and (replace or (ephemeral and not self.thread_ts)):
            if ephemeral:
                await self._respond(text=text, blocks=blocks, replace_original=replace)
                return
            await self._respond(delete_original=True)
        # The client already waits out a few 429s; an answer still refused is waited out again, as the reply
        # stream does with its final write (FINAL_ATTEMPTS), so a busy workspace delays it rather than loses it.
        for attempt in range(1, SHOW_ATTEMPTS + 1):
            try:
                await self._post_once(text, blocks, ephemeral=ephemeral)
                return
            except SlackApiError as exc:
                seconds = retry_after(exc)
                if seconds is None:
                    await report(self.workspace, "chat.postEphemeral" if ephemeral else "chat.postMessage", exc)
                    return
                if attempt == SHOW_ATTEMPTS:
                    log.warning("slack kept rate-limiting a reply in %s; it was not shown", self.channel)
                    return
                await asyncio.sleep(seconds)

    async def _post_once(self, text: str, blocks: list[render.Block], *, ephemeral: bool) -> None:
        if ephemeral:
            with await pacing.slot(self.workspace, "chat.postEphemeral"):
                await self.client.chat_postEphemeral(
                    channel=self.channel, user=self.user, text=text, blocks=blocks, thread_ts=self.thread_ts or None
                )
            self.posted.append("ephemeral")
            return
        with await pacing.slot(self.workspace, "chat.postMessage", self.channel):
            posted = await self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, text=text, blocks=blocks, unfurl_links=False
            )
        self.posted.append(str(posted["ts"]))

    async def _respond(self, **kwargs: Any) -> None:
        assert self.respond is not None
        sent = await self.respond(**kwargs)
        if sent.status_code != 200:
            log.warning("response_url answered %s: %s", sent.status_code, sent.body)
        elif not kwargs.get("delete_original"):
            self.posted.append("ephemeral")

    # ------------------------------------------------------------ a streamed reply

    def tail_text(self, tail: Tail) -> str:
        return ""  # the tail is blocks of its own

    def _tail_blocks(self, tail: Tail | None) -> list[render.Block]:
        if tail is None:
            return []
        return render.reply_tail(tail.footer or "", tail.notices, self.thread_ts, tail.model, tail.choices)

    async def post(self, text: str, *, final: bool, tail: Tail | None) -> _Message:
        # A piece that is already complete is simply posted; a Slack stream is started while the workspace has room.
        start = pacing.try_slot(self.workspace, "chat.startStream") if self.appends_only and not final else None
        if start is not None:
            try:
                with start:
                    stream = await self.client.chat_stream(
                        channel=self.channel,
                        thread_ts=self.thread_ts,
                        recipient_team_id=self.workspace,
                        recipient_user_id=self.user,
                        buffer_size=1,  # the driver coalesces
                    )
                    await stream.append(markdown_text=text)
                return self._posted(_Message(str(stream.ts), stream, text))
            except SlackApiError as exc:
                self._raise_later(exc)
                log.info("chat.startStream refused in %s (%s); using chat.update", self.workspace, slack_error(exc))
                _native_refused[self.workspace] = time.monotonic() + NATIVE_RETRY_AFTER_S
        try:
            with await pacing.slot(self.workspace, "chat.postMessage", self.channel):
                posted = await self.client.chat_postMessage(
                    channel=self.channel,
                    thread_ts=self.thread_ts,
                    text=render.body_text(text),
                    blocks=[render.markdown_block(text), *self._tail_blocks(tail)],
                    unfurl_links=False,
                )
        except SlackApiError as exc:
            await self._gone("chat.postMessage", exc)
        return self._posted(_Message(str(posted["ts"]), None, text))

    def _posted(self, message: _Message) -> _Message:
        self.posted.append(message.ts)
        return message

    async def edit(self, handle: _Message, text: str, *, final: bool, tail: Tail | None) -> None:
        if handle.stream is not None:
            more = text[len(handle.shown) :] if text.startswith(handle.shown) else ""
            try:
                if final:
                    with await pacing.slot(self.workspace, "chat.stopStream"):
                        await handle.stream.stop(markdown_text=more or None, blocks=self._tail_blocks(tail) or None)
                elif more and (room := self._progress_room("chat.appendStream")):
                    with room:
                        await handle.stream.append(markdown_text=more)
                else:
                    return  # nothing new, or no room: the next append carries this text too
                handle.shown = text
                return
            except SlackApiError as exc:
                self._raise_later(exc)
                # The stream was closed on Slack's side (e.g. it expired): carry on with chat.update.
                log.info("chat stream %s ended early (%s); continuing with chat.update", handle.ts, slack_error(exc))
                handle.stream = None
        room = await pacing.slot(self.workspace, "chat.update") if final else self._progress_room("chat.update")
        if room is None:
            return  # the workspace's progress edits are at their share of Slack's limit: a later edit catches up
        try:
            with room:
                await self.client.chat_update(
                    channel=self.channel,
                    ts=handle.ts,
                    text=render.body_text(text),
                    blocks=[render.markdown_block(text), *self._tail_blocks(tail)],
                )
        except SlackApiError as exc:
            await self._gone("chat.update", exc)
        handle.shown = text

    async def think(self, handle: str | None, thought: Thought) -> str:
        """A reasoning model's thinking as a message of its own above the answer (render.thinking_message), posted,
        then edited with chat.update: as progress (skipped while progress edits fill their share of Slack's limit;
        a later edit shows it), and once done (waiting for room). Returns the message's ts."""
        text, blocks = render.thinking_message(thought)
        return await self._aside(handle, text, blocks, progress=not thought.done)

    async def tool(self, handle: str | None, activity: ToolActivity) -> str:
        """A tool call of the reply as a small grey line of its own in the thread (render.tool_message), posted as
        it starts and edited with chat.update as it ends; each write waits for room (there are about two a call).
        Returns the message's ts."""
        text, blocks = render.tool_message(activity)
        return await self._aside(handle, text, blocks, progress=False)

    async def _aside(self, handle: str | None, text: str, blocks: list[render.Block], *, progress: bool) -> str:
        """Post a message of the reply that is not its text (`handle` None), or edit it; a `progress` edit is
        skipped while progress edits fill their share of Slack's limit. Raises Later or Gone."""
        method = "chat.postMessage" if handle is None else "chat.update"
        try:
            if handle is None:
                with await pacing.slot(self.workspace, "chat.postMessage", self.channel):
                    posted = await self.client.chat_postMessage(
                        channel=self.channel, thread_ts=self.thread_ts, text=text, blocks=blocks, unfurl_links=False
                    )
                return self._posted(_Message(str(posted["ts"]), None, text)).ts
            room = self._progress_room("chat.update") if progress else await pacing.slot(self.workspace, "chat.update")
            if room is not None:
                with room:
                    await self.client.chat_update(channel=self.channel, ts=handle, text=text, blocks=blocks)
            return handle
        except SlackApiError as exc:
            await self._gone(method, exc)  # raises Later or Gone
            raise

    async def abort(self, handles: list[_Message]) -> None:
        """An open Slack stream is ended, marked as cut off (an edited message keeps what it showed)."""
        for message in handles:
            if message.stream is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._stop_cut_off(message.stream), 5)

    async def _stop_cut_off(self, stream: AsyncChatStream) -> None:
        with await pacing.slot(self.workspace, "chat.stopStream"):
            await stream.stop(markdown_text="\n\n_(interrupted)_")

    def _progress_room(self, method: str) -> pacing.Slot | None:
        return pacing.try_slot(self.workspace, method, share=pacing.PROGRESS_SHARE)

    @staticmethod
    def _raise_later(exc: SlackApiError) -> None:
        seconds = retry_after(exc)
        if seconds is not None:
            raise Later(seconds) from exc

    async def _gone(self, method: str, exc: SlackApiError) -> Any:
        self._raise_later(exc)
        await report(self.workspace, method, exc)
        raise Gone(method) from exc
