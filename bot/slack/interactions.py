"""Slash commands and interactivity: /model and /models (channel level, ephemeral), the model picker and the
menu under each reply, buttons from Reply.choices, and the "Switch model for this thread" shortcut and modal."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import render
from bot.slack.errors import report
from bot.slack.picker import model_menu
from bot.slack.translate import incoming, place, workspace_of
from core.delivery.driver import drive


async def on_model_command(
    command: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, respond: AsyncRespond
) -> None:
    """`/model NAME` sets the channel default; `/model` alone opens the picker. Answers are ephemeral."""
    channel, user, name = command["channel_id"], command["user_id"], (command.get("text") or "").strip()
    if not name:
        menu = await model_menu(workspace_of(context), channel)
        text, blocks = render.channel_picker(menu.groups, menu.total, menu.current, menu.note)
        await respond(text=text, blocks=blocks)
        return
    await _channel_command(context, client, respond, channel, user, f"/model {name}", command.get("trigger_id"))


async def on_models_command(
    command: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, respond: AsyncRespond
) -> None:
    """`/models [FILTER]`: the models of this channel, by provider (ephemeral)."""
    text = f"/models {(command.get('text') or '').strip()}".strip()
    await _channel_command(
        context, client, respond, command["channel_id"], command["user_id"], text, command.get("trigger_id")
    )


async def _channel_command(
    context: AsyncBoltContext,
    client: AsyncWebClient,
    respond: AsyncRespond,
    channel: str,
    user: str,
    text: str,
    trigger: str | None,
    *,
    replace: bool = False,
) -> None:
    event_id = f"command:{trigger}" if trigger else None
    msg = await incoming(context, client, channel=channel, thread="", user=user, text=text, event_id=event_id)
    await drive(msg, place(context, client, channel, "", user, respond, replace=replace))


# ---------------------------------------------------------------- interactions


def _channel_of(body: dict[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")


def _thread_of(body: dict[str, Any], block_id: str) -> str:
    """The thread an interactive element belongs to: written into its block id when it was rendered."""
    _, _, thread = block_id.partition("|")
    if thread or block_id.startswith(("sbp|", "sbc|")):
        return thread
    container = body.get("container") or {}
    message = body.get("message") or {}
    return str(container.get("thread_ts") or message.get("thread_ts") or message.get("ts") or "")


async def on_thread_model(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    """The model menu under a reply: switch that thread."""
    name = (action.get("selected_option") or {}).get("value")
    channel, thread, user = _channel_of(body), _thread_of(body, action.get("block_id", "")), body["user"]["id"]
    if not name or not thread:
        return
    msg = await incoming(
        context,
        client,
        channel=channel,
        thread=thread,
        user=user,
        text=f"!model {name}",
        event_id=f"action:{action['action_ts']}",
    )
    await drive(msg, place(context, client, channel, thread, user, respond))


async def on_channel_model(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    """The /model picker: set the channel default; the answer replaces the picker."""
    name = (action.get("selected_option") or {}).get("value")
    if name:
        await _channel_command(
            context,
            client,
            respond,
            _channel_of(body),
            body["user"]["id"],
            f"/model {name}",
            action.get("action_ts"),
            replace=True,
        )


async def on_choice(
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    respond: AsyncRespond,
) -> None:
    """A button from Reply.choices (a budget confirmation, "did you mean", next page): run its command as the
    user who clicked, where the buttons were shown."""
    command, label = action.get("value") or "", (action.get("text") or {}).get("text", "")
    channel, user = _channel_of(body), body["user"]["id"]
    thread = _thread_of(body, action.get("block_id", ""))
    ephemeral = bool((body.get("container") or {}).get("is_ephemeral"))
    message = body.get("message")
    if message and not ephemeral:  # the buttons are used up: show who chose what instead
        blocks = render.chose_blocks(message.get("blocks") or [], user, label)
        await respond(text=message.get("text") or label, blocks=blocks, replace_original=True)
    event_id = f"action:{action['action_ts']}"
    msg = await incoming(context, client, channel=channel, thread=thread, user=user, text=command, event_id=event_id)
    await drive(msg, place(context, client, channel, thread, user, respond, replace=ephemeral or not thread))


async def _options(ack: AsyncAck, context: AsyncBoltContext, channel: str, thread: str, query: str) -> None:
    menu = await model_menu(workspace_of(context), channel, thread, query)
    await ack(option_groups=render.option_groups(menu.groups))


async def thread_model_options(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await _options(ack, context, _channel_of(body), _thread_of(body, body.get("block_id", "")), body.get("value") or "")


async def channel_model_options(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    await _options(ack, context, _channel_of(body), "", body.get("value") or "")


def _modal_target(view: dict[str, Any]) -> tuple[str, str]:
    meta = json.loads(view.get("private_metadata") or "{}")
    return str(meta.get("c") or ""), str(meta.get("t") or "")


async def modal_model_options(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
    channel, thread = _modal_target(body.get("view") or {})
    await _options(ack, context, channel, thread, body.get("value") or "")


async def open_switch_modal(shortcut: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient) -> None:
    """The "Switch model for this thread" message shortcut: a modal with the model picker."""
    channel = shortcut["channel"]["id"]
    message = shortcut.get("message") or {}
    thread = message.get("thread_ts") or message.get("ts") or shortcut.get("message_ts") or ""
    menu = await model_menu(workspace_of(context), channel, thread)
    view = render.switch_modal(menu.groups, menu.total, menu.current, channel, thread)
    try:
        await client.views_open(trigger_id=shortcut["trigger_id"], view=view)
    except SlackApiError as exc:
        await report(workspace_of(context), "views.open", exc)


async def on_switch_submitted(
    body: dict[str, Any], view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    channel, thread = _modal_target(view)
    chosen = view["state"]["values"].get(render.MODAL_BLOCK, {}).get(render.MODAL_MODEL, {}).get("selected_option")
    if not (channel and thread and chosen):
        return
    user = body["user"]["id"]
    msg = await incoming(
        context,
        client,
        channel=channel,
        thread=thread,
        user=user,
        text=f"!model {chosen['value']}",
        event_id=f"view:{view['id']}",
    )
    await drive(msg, place(context, client, channel, thread, user))
