"""Where every Slack request goes, and the message events: mentions, thread turns, DMs, the assistant panel.

Every listener acks at once and does its work in a lazy listener afterwards, so Slack gets its answer within
3 s however slow a model is; a message is stored before the ack. Which workspace a request belongs to comes from
bolt's authorization (the installation that answered), never from what a user typed. Redeliveries carry the same
Events API `event_id`, on which the core is idempotent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import files as slack_files
from bot.slack import interactions as act
from bot.slack import render
from bot.slack.inflight import tracked
from bot.slack.picker import PLATFORM
from bot.slack.translate import can_stream, incoming, place, strip_mention, workspace_of
from core import chat
from core.delivery.driver import drive
from core.settings import get_settings
from core.threads import aio as threads
from core.types import IncomingMessage

log = logging.getLogger(__name__)

_HANDLED_SUBTYPES = {None, "file_share", "thread_broadcast"}
SUGGESTED_PROMPTS = [
    {"title": "What can you do?", "message": "!help"},
    {"title": "Which models can I use?", "message": "!models"},
    {"title": "Which model is answering?", "message": "!model"},
]


def register(app: AsyncApp, *, oauth: bool = False) -> None:
    """Attach every listener to `app`. Every event the manifest subscribes to gets an ack: an unhandled one
    would be answered 404, and Slack retries (and eventually disables) failing event subscriptions."""
    if not oauth:  # with OAuth, bolt's own listeners remove the installation
        app.event("app_uninstalled")(_ack)
        app.event("tokens_revoked")(_ack)
    app.event("app_mention", middleware=[_stored_first(_mention)])(ack=_ack, lazy=[tracked(on_mention)])
    app.event("message", middleware=[_stored_first(_message)])(ack=_ack, lazy=[tracked(on_message)])
    app.event("assistant_thread_started")(ack=_ack, lazy=[tracked(on_assistant_thread_started)])
    app.event("assistant_thread_context_changed")(_ack)
    app.command("/model")(ack=_ack, lazy=[tracked(act.on_model_command)])
    app.command("/models")(ack=_ack, lazy=[tracked(act.on_models_command)])
    app.action(re.compile(f"^{render.CHOICE}:"))(ack=_ack, lazy=[tracked(act.on_choice)])
    app.action(render.THREAD_MODEL)(ack=_ack, lazy=[tracked(act.on_thread_model)])
    app.action(render.CHANNEL_MODEL)(ack=_ack, lazy=[tracked(act.on_channel_model)])
    app.action(render.MODAL_MODEL)(_ack)
    app.options(render.THREAD_MODEL)(act.thread_model_options)
    app.options(render.CHANNEL_MODEL)(act.channel_model_options)
    app.options(render.MODAL_MODEL)(act.modal_model_options)
    app.shortcut(render.SWITCH_SHORTCUT)(ack=_ack, lazy=[tracked(act.open_switch_modal)])
    app.view(render.SWITCH_VIEW)(ack=_ack, lazy=[tracked(act.on_switch_submitted)])


async def _ack(ack: AsyncAck) -> None:
    await ack()


def _from_other_bot(event: dict[str, Any]) -> bool:
    return bool(event.get("bot_id") or event.get("subtype") == "bot_message")


# ---------------------------------------------------------------- messages
# A message is stored before Slack is acked (core.chat.receive, in listener middleware, which runs before bolt acks),
# so a worker that dies right after its ack loses nothing: the crash rules answer for the reply it had claimed. What
# the middleware found travels in the request's context, which bolt copies for the lazy listener that answers it.
# Files posted with it travel there as Slack described them; the core downloads them when it answers the turn
# (bot/slack/files.py), so neither the ack nor a redelivery waits for or repeats a download.

RECEIVED = "switchboard_received"


@dataclass(frozen=True)
class Arrived:
    """A message that is a turn (or a command) for the bot, as the ack found it."""

    channel: str
    thread: str
    user: str
    text: str
    event_id: str | None
    dm: bool = False
    assistant: bool = False  # a message of the assistant panel's thread
    known: bool = True  # the thread was already a conversation
    received: chat.TurnStart | None = None
    files: tuple[slack_files.SlackFile, ...] = ()  # downloaded only when the turn is answered


def _stored(arrived: Arrived, context: AsyncBoltContext) -> IncomingMessage:
    """What is stored of a message (who wrote it is looked up when it is answered)."""
    return IncomingMessage(
        platform=PLATFORM,
        workspace=workspace_of(context),
        channel=arrived.channel,
        thread=arrived.thread,
        user=arrived.user,
        text=arrived.text,
        event_id=arrived.event_id,
        is_dm=arrived.channel.startswith("D"),
        files=slack_files.described(arrived.files),
    )


def _stored_first(find: Callable[..., Awaitable[Arrived | None]]) -> Callable[..., Awaitable[None]]:
    """Listener middleware: it runs before bolt acks the event (bolt acks Events API requests before their ack
    function runs), so the message is in the database before Slack hears it arrived."""

    async def store_first(
        body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        arrived = await find(body, event, context)
        if arrived is not None:
            context[RECEIVED] = replace(arrived, received=await chat.receive(_stored(arrived, context)))
        await next()

    return store_first


async def _mention(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> Arrived | None:
    """A mention starts a conversation in the mentioned message's thread (or is a turn of the thread it is in)."""
    if _from_other_bot(event) and not get_settings().slack_allow_bots:
        return None
    files = slack_files.files_of(event)
    return Arrived(
        channel=event["channel"],
        thread=event.get("thread_ts") or event["ts"],
        user=event.get("user") or event.get("bot_id") or "",
        text=strip_mention(event.get("text") or "", context.bot_user_id) or ("" if files else "!help"),
        event_id=body.get("event_id"),
        files=files,
    )


async def _message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> Arrived | None:
    """DMs: every top-level message starts a conversation. Channels: messages in a thread that is already a
    conversation are its next turns (mentions are answered by on_mention)."""
    allow_bots = get_settings().slack_allow_bots
    subtype = event.get("subtype")
    if subtype not in _HANDLED_SUBTYPES and not (subtype == "bot_message" and allow_bots):
        return None
    if _from_other_bot(event) and not allow_bots:
        return None
    user = event.get("user") or event.get("bot_id") or ""
    channel, text = event.get("channel") or "", event.get("text") or ""
    if not user or not channel:
        return None
    is_dm = event.get("channel_type") == "im"
    thread = event.get("thread_ts")
    if is_dm:
        thread = thread or event["ts"]
        text = strip_mention(text, context.bot_user_id)
    elif context.bot_user_id and f"<@{context.bot_user_id}" in text:
        return None  # the app_mention event for this message starts or continues the conversation
    elif not thread:
        return None
    known = await threads.is_conversation(PLATFORM, workspace_of(context), channel, thread)
    if not known and not is_dm:
        return None
    return Arrived(
        channel=channel,
        thread=thread,
        user=user,
        text=text,
        event_id=body.get("event_id"),
        dm=is_dm,
        assistant=is_dm and bool(event.get("thread_ts")) and can_stream(context),
        known=known,
        files=slack_files.files_of(event),  # a `file_share` message: files, with or without text
    )


async def on_mention(context: AsyncBoltContext, client: AsyncWebClient) -> None:
    arrived = context.get(RECEIVED)  # None: not for the bot (see _mention)
    if arrived is not None:
        await _answer(arrived, context, client)


async def on_message(context: AsyncBoltContext, client: AsyncWebClient) -> None:
    arrived = context.get(RECEIVED)  # None: not a turn (see _message)
    if arrived is not None:
        await _answer(arrived, context, client)


async def _answer(arrived: Arrived, context: AsyncBoltContext, client: AsyncWebClient) -> None:
    channel, thread = arrived.channel, arrived.thread
    msg = await incoming(
        context,
        client,
        channel=channel,
        thread=thread,
        user=arrived.user,
        text=arrived.text,
        event_id=arrived.event_id,
        files=slack_files.attachments(arrived.files, context, client),
    )
    where = place(context, client, channel, thread, arrived.user)
    if arrived.assistant:
        await _assistant_status(client, channel, thread, "is thinking…")
        if not arrived.known and arrived.text.strip():
            await _assistant_call(
                client.assistant_threads_setTitle,
                channel_id=channel,
                thread_ts=thread,
                title=render.clip(arrived.text, 60),
            )
    await drive(msg, where, arrived.received)
    if arrived.assistant and not any(ts != "ephemeral" for ts in where.posted):
        await _assistant_status(client, channel, thread, "")


async def on_assistant_thread_started(event: dict[str, Any], client: AsyncWebClient) -> None:
    """The user opened a new chat in the app's assistant panel: offer a few things to start with."""
    thread = event.get("assistant_thread") or {}
    await _assistant_call(
        client.assistant_threads_setSuggestedPrompts,
        channel_id=thread.get("channel_id"),
        thread_ts=thread.get("thread_ts"),
        title="Ask anything, or pick a model first:",
        prompts=SUGGESTED_PROMPTS,
    )


async def _assistant_status(client: AsyncWebClient, channel: str, thread: str, status: str) -> None:
    await _assistant_call(client.assistant_threads_setStatus, channel_id=channel, thread_ts=thread, status=status)


async def _assistant_call(method: Any, **kwargs: Any) -> None:
    """Assistant-panel niceties are best effort: a DM thread outside the panel may refuse them."""
    try:
        await method(**kwargs)
    except SlackApiError as exc:
        log.debug("assistant call refused: %s", exc.response.get("error"))
