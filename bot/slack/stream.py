"""A model's reply streamed into a Slack thread.

Two ways to show text as it arrives:
- Slack's chat streaming API (chat.startStream / appendStream / stopStream through slack-sdk's `chat_stream`),
  for apps with the Agents & AI Apps feature (the `assistant:write` scope). If Slack refuses it, the reply falls
  back to the second way.
- A message edited with chat.update.
Either way deltas are coalesced and each message changes at most once per `interval` (1 s by default: Slack's
chat.update allows about one edit per second per message), measured from when the previous call finished.
When a reply outgrows a message it is cut at a paragraph or line (never leaving a code fence open, see
core.textsplit) and continues in a new message of the thread. The footer and menus go on the last message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_chat_stream import AsyncChatStream
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.render import EMPTY_REPLY, MESSAGE_LIMIT, Block, body_text, markdown_block
from core.alerts import report_platform_problem
from core.textsplit import RESERVE, cut

log = logging.getLogger(__name__)

# Errors that mean the app lacks a permission or a place to write: worth an admin's attention.
PERMISSION_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "missing_scope",
        "not_allowed_token_type",
        "restricted_action",
        "no_permission",
        "team_access_not_granted",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
    }
)
NATIVE_RETRY_AFTER_S = 600.0
FIRST_POST_AFTER_S = 0.3
_native_refused: dict[str, float] = {}  # workspace -> monotonic time until which streaming is not tried


def native_allowed(workspace: str) -> bool:
    """False for a while after Slack refused chat.startStream in this workspace."""
    until = _native_refused.get(workspace)
    return until is None or time.monotonic() >= until


def forget_refusals() -> None:
    """Try chat streaming again everywhere (tests; right after the feature was turned on)."""
    _native_refused.clear()


def slack_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or exc.response.status_code)


def retry_after(exc: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait (HTTP 429), or None when this is another error."""
    if exc.response.status_code != 429:
        return None
    try:
        return max(1.0, float(exc.response.headers.get("Retry-After", 1)))
    except (TypeError, ValueError):
        return 1.0


async def report(workspace: str, method: str, exc: SlackApiError) -> None:
    """Log a refused call; permission problems also reach the admin's health view (once a day each)."""
    error = slack_error(exc)
    log.warning("slack %s failed in %s: %s", method, workspace, error)
    if error in PERMISSION_ERRORS:
        text = f"Slack refused {method}: {error}. Check the app's scopes and that it is in the channel."
        day = dt.date.today().isoformat()
        await asyncio.to_thread(report_platform_problem, "slack", workspace, text, day_key=day)


class _Later(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


@dataclass
class _Message:
    ts: str
    shown: str
    stream: AsyncChatStream | None  # None: edited with chat.update
    done_at: float
    closed: bool = False


class ReplyStream:
    """One model reply in a thread. Call `add` with each delta, then `finish` with the blocks for under it."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        user: str,
        workspace: str,
        native: bool,
        interval: float = 1.0,
        limit: int = MESSAGE_LIMIT,
    ) -> None:
        self.client = client
        self.channel, self.thread_ts, self.user, self.workspace = channel, thread_ts, user, workspace
        self.native = native and native_allowed(workspace)
        self.interval, self.limit = interval, limit
        self.failed = False
        self._text = ""
        self._done: list[str] = []  # pieces already cut off: they never change again
        self._start = 0  # where the current piece begins in _text
        self._reopen = ""  # a fence header the current piece starts with
        self._messages: list[_Message] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._pump: asyncio.Task[None] | None = None

    @property
    def timestamps(self) -> list[str]:
        return [m.ts for m in self._messages]

    async def add(self, text: str) -> None:
        if not text or self.failed:
            return
        self._text += text
        self._wake.set()
        if self._pump is None:
            self._pump = asyncio.create_task(self._run())

    async def finish(self, tail: list[Block]) -> None:
        """Show the rest of the text and put `tail` (footer, buttons, menu) under the last message."""
        self._closing = True
        self._wake.set()
        if self._pump is not None:
            await self._pump
        for _ in range(5):
            if self.failed:
                return
            try:
                await self._sync(tail)
                return
            except _Later as later:
                await asyncio.sleep(later.seconds)
            except SlackApiError as exc:
                await self._fail("chat", exc)

    async def close(self) -> None:
        """Stop without finishing (the turn was cancelled): an open Slack stream is ended, marked as cut off."""
        self._closing = True
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for message in self._messages:
            if message.stream is not None and not message.closed:
                message.closed = True
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(message.stream.stop(markdown_text="\n\n_(interrupted)_"), 5)

    # ------------------------------------------------------------ internals

    async def _run(self) -> None:
        # A short wait before the first message: a reply that is complete by then goes out in one call.
        await asyncio.sleep(min(FIRST_POST_AFTER_S, self.interval))
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                await self._sync(None)
            except _Later as later:
                await asyncio.sleep(later.seconds)
                self._wake.set()
            except SlackApiError as exc:
                await self._fail("chat", exc)
                return

    def _current(self) -> str:
        return self._reopen + self._text[self._start :]

    def _settle(self) -> None:
        """Cut finished pieces off the current one while it is longer than a message may be."""
        while len(current := self._current()) > self.limit:
            index = len(self._done)
            shown = len(self._messages[index].shown) if index < len(self._messages) and self.native else 0
            piece = cut(current, self.limit, min_cut=max(shown, len(self._reopen) + 1))
            self._done.append(piece.head)
            self._start += piece.rest - len(self._reopen)
            self._reopen = piece.reopen

    def _piece(self, index: int, closing: bool) -> str:
        if index < len(self._done):
            return self._done[index]
        text = self._current()
        # A live stream cannot take text back: keep room for a fence closer the cut may add later.
        return text if closing or not self.native else text[: self.limit - RESERVE]

    async def _sync(self, tail: list[Block] | None) -> None:
        """Bring Slack up to date; with `tail`, this is the final write."""
        final = tail is not None
        self._settle()
        for index in range(len(self._done) + 1):
            if index < len(self._messages) and self._messages[index].closed:
                continue
            last = index == len(self._done)
            await self._write(index, closing=not last or final, tail=tail if last else None, final=final)
            if self._closing and not final:
                return

    async def _write(self, index: int, *, closing: bool, tail: list[Block] | None, final: bool) -> None:
        message = self._messages[index] if index < len(self._messages) else None
        if message is not None:
            wait = message.done_at + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._closing and not final:
                return  # finish() writes the rest
            self._settle()
            closing = closing or index < len(self._done)
        piece = self._piece(index, closing)
        if message is None:
            if piece.strip() or tail is not None:
                await self._post(piece if piece.strip() else EMPTY_REPLY, closing, tail)
            return
        try:
            if message.stream is not None:
                await self._append(message, piece, closing, tail)
            elif piece != message.shown or closing:
                await self.client.chat_update(
                    channel=self.channel,
                    ts=message.ts,
                    text=body_text(piece),
                    blocks=[markdown_block(piece), *(tail or [])],
                )
                message.shown = piece
                message.closed = closing
        except SlackApiError as exc:
            seconds = retry_after(exc)
            if seconds is not None:
                message.done_at = time.monotonic() + seconds - self.interval
                raise _Later(seconds) from exc
            if message.stream is None:
                raise
            # The stream was closed on Slack's side (e.g. it expired): carry on with chat.update.
            log.info("chat stream %s ended early (%s); continuing with chat.update", message.ts, slack_error(exc))
            message.stream = None
            message.done_at = time.monotonic()
            await self._write(index, closing=closing, tail=tail, final=final)
            return
        finally:
            message.done_at = max(message.done_at, time.monotonic())

    async def _append(self, message: _Message, piece: str, closing: bool, tail: list[Block] | None) -> None:
        assert message.stream is not None
        more = piece[len(message.shown) :] if piece.startswith(message.shown) else ""
        if closing:
            await message.stream.stop(markdown_text=more or None, blocks=tail or None)
            message.closed = True
        elif more:
            await message.stream.append(markdown_text=more)
        message.shown += more

    async def _post(self, piece: str, closing: bool, tail: list[Block] | None) -> None:
        if self.native and not closing:  # a piece that is already complete is simply posted
            try:
                await self._start_stream(piece)
                return
            except SlackApiError as exc:
                if retry_after(exc) is not None:
                    raise _Later(retry_after(exc) or 1.0) from exc
                log.info("chat.startStream refused in %s (%s); using chat.update", self.workspace, slack_error(exc))
                _native_refused[self.workspace] = time.monotonic() + NATIVE_RETRY_AFTER_S
                self.native = False
        try:
            posted = await self.client.chat_postMessage(
                channel=self.channel,
                thread_ts=self.thread_ts,
                text=body_text(piece),
                blocks=[markdown_block(piece), *(tail or [])],
                unfurl_links=False,
            )
        except SlackApiError as exc:
            seconds = retry_after(exc)
            if seconds is not None:
                raise _Later(seconds) from exc
            raise
        self._messages.append(_Message(str(posted["ts"]), piece, None, time.monotonic(), closed=closing))

    async def _start_stream(self, piece: str) -> None:
        stream = await self.client.chat_stream(
            channel=self.channel,
            thread_ts=self.thread_ts,
            recipient_team_id=self.workspace,
            recipient_user_id=self.user,
            buffer_size=1,  # we coalesce ourselves
        )
        await stream.append(markdown_text=piece)
        self._messages.append(_Message(str(stream.ts), piece, stream, time.monotonic()))

    async def _fail(self, method: str, exc: SlackApiError) -> None:
        self.failed = True
        await report(self.workspace, method, exc)
