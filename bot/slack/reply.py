"""Send one message to the core and show what it answers in a Slack place.

A `Place` is where answers go: a thread (visible replies in it, ephemeral ones to the user there) or, for
channel-level commands and pickers, ephemerally to the user (through the response_url when there is one).
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import render
from bot.slack.stream import ReplyStream, report, retry_after
from core.chat import handle
from core.types import Delta, Done, IncomingMessage, Notice, Reply

log = logging.getLogger(__name__)


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
    interval: float = 1.0
    posted: list[str] = field(default_factory=list)  # what was shown, in order ("ephemeral" or a message ts)

    def stream(self) -> ReplyStream:
        return ReplyStream(
            self.client,
            channel=self.channel,
            thread_ts=self.thread_ts,
            user=self.user,
            workspace=self.workspace,
            native=self.native_streaming,
            interval=self.interval,
        )

    async def reply(self, reply: Reply) -> None:
        for text, blocks in render.reply_messages(reply, self.thread_ts):
            await self.post(text, blocks, ephemeral=reply.ephemeral)

    async def post(self, text: str, blocks: list[render.Block], *, ephemeral: bool) -> None:
        ephemeral = ephemeral or not self.thread_ts
        replace, self.replace_original = self.replace_original, False
        try:
            if self.respond is not None and (replace or (ephemeral and not self.thread_ts)):
                if ephemeral:
                    await self._respond(text=text, blocks=blocks, replace_original=replace)
                    return
                await self._respond(delete_original=True)
            if ephemeral:
                await self.client.chat_postEphemeral(
                    channel=self.channel, user=self.user, text=text, blocks=blocks, thread_ts=self.thread_ts or None
                )
                self.posted.append("ephemeral")
                return
            posted = await self.client.chat_postMessage(
                channel=self.channel, thread_ts=self.thread_ts, text=text, blocks=blocks, unfurl_links=False
            )
            self.posted.append(str(posted["ts"]))
        except SlackApiError as exc:
            if retry_after(exc) is None:
                await report(self.workspace, "chat.postEphemeral" if ephemeral else "chat.postMessage", exc)
            else:
                log.warning("slack kept rate-limiting a reply in %s; it was not shown", self.channel)

    async def _respond(self, **kwargs: Any) -> None:
        assert self.respond is not None
        sent = await self.respond(**kwargs)
        if sent.status_code != 200:
            log.warning("response_url answered %s: %s", sent.status_code, sent.body)
        elif not kwargs.get("delete_original"):
            self.posted.append("ephemeral")


async def answer(msg: IncomingMessage, place: Place) -> None:
    """Run `msg` through the core and render everything it yields into `place`."""
    stream: ReplyStream | None = None
    notices: list[str] = []
    held: list[Reply] = []  # replies that arrive while a stream is open go under it
    try:
        async with aclosing(handle(msg)) as events:
            async for event in events:
                if isinstance(event, Delta):
                    if stream is None:
                        stream = place.stream()
                    await stream.add(event.text)
                elif isinstance(event, Notice):
                    if stream is not None:
                        notices.append(event.text)
                    else:
                        await place.post(*render.notice_message(event.text), ephemeral=False)
                elif isinstance(event, Reply):
                    if stream is not None:
                        held.append(event)
                    else:
                        await place.reply(event)
                elif isinstance(event, Done):
                    result = event.result
                    current = result.via or result.model
                    tail = render.reply_tail(event.footer, notices, place.thread_ts, current, event.choices)
                    if stream is not None:
                        await stream.finish(tail)
                        place.posted.extend(stream.timestamps)
                        stream = None
                    elif result.status != "error":
                        await place.post(
                            render.body_text(render.EMPTY_REPLY),
                            [render.section(render.EMPTY_REPLY), *tail],
                            ephemeral=False,
                        )
                    for reply in held:
                        await place.reply(reply)
                    held, notices = [], []
    finally:
        if stream is not None:
            await stream.close()
