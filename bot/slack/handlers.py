"""Where every Slack request goes, and the message events: mentions, thread turns, DMs, the assistant panel.

Every listener acks at once and does its work in a lazy listener afterwards, so Slack gets its answer within
3 s however slow a model is (and the same code runs on FaaS with `process_before_response`). Which workspace a
request belongs to comes from bolt's authorization (the installation that answered), never from what a user
typed. Redeliveries carry the same Events API `event_id`, on which the core is idempotent.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import interactions as act
from bot.slack import render
from bot.slack.inflight import tracked
from bot.slack.picker import PLATFORM
from bot.slack.translate import can_stream, incoming, place, strip_mention, workspace_of
from core.delivery.driver import drive
from core.settings import get_settings
from core.threads import aio as threads

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
    app.event("app_mention")(ack=_ack, lazy=[tracked(on_mention)])
    app.event("message")(ack=_ack, lazy=[tracked(on_message)])
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


async def on_mention(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    """A mention starts a conversation in the mentioned message's thread (or is a turn of the thread it is in)."""
    if _from_other_bot(event) and not get_settings().slack_allow_bots:
        return
    user = event.get("user") or event.get("bot_id") or ""
    channel, thread = event["channel"], event.get("thread_ts") or event["ts"]
    text = strip_mention(event.get("text") or "", context.bot_user_id) or "!help"
    msg = await incoming(
        context, client, channel=channel, thread=thread, user=user, text=text, event_id=body.get("event_id")
    )
    await drive(msg, place(context, client, channel, thread, user))


async def on_message(
    body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    """DMs: every top-level message starts a conversation. Channels: messages in a thread that is already a
    conversation are its next turns (mentions are answered by on_mention)."""
    allow_bots = get_settings().slack_allow_bots
    subtype = event.get("subtype")
    if subtype not in _HANDLED_SUBTYPES and not (subtype == "bot_message" and allow_bots):
        return
    if _from_other_bot(event) and not allow_bots:
        return
    user = event.get("user") or event.get("bot_id") or ""
    channel, text = event.get("channel") or "", event.get("text") or ""
    if not user or not channel:
        return
    is_dm = event.get("channel_type") == "im"
    thread = event.get("thread_ts")
    workspace = workspace_of(context)
    if is_dm:
        thread = thread or event["ts"]
        text = strip_mention(text, context.bot_user_id)
    elif context.bot_user_id and f"<@{context.bot_user_id}" in text:
        return  # the app_mention event for this message starts or continues the conversation
    elif not thread:
        return
    known = await threads.is_conversation(PLATFORM, workspace, channel, thread)
    if not known and not is_dm:
        return
    msg = await incoming(
        context, client, channel=channel, thread=thread, user=user, text=text, event_id=body.get("event_id")
    )
    where = place(context, client, channel, thread, user)
    assistant = is_dm and bool(event.get("thread_ts")) and can_stream(context)
    if assistant:
        await _assistant_status(client, channel, thread, "is thinking…")
        if not known and text.strip():
            await _assistant_call(
                client.assistant_threads_setTitle, channel_id=channel, thread_ts=thread, title=render.clip(text, 60)
            )
    await drive(msg, where)
    if assistant and not any(ts != "ephemeral" for ts in where.posted):
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
