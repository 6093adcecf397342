"""Slack requests as the core sees them: which workspace, which place, who is asking."""

from __future__ import annotations

import re

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.people import person
from bot.slack.picker import PLATFORM
from bot.slack.reply import Place
from core.settings import get_settings
from core.types import IncomingFile, IncomingMessage

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
STREAMING_SCOPE = "assistant:write"  # granted with the Agents & AI Apps feature, which chat streaming needs


def workspace_of(context: AsyncBoltContext) -> str:
    """The authenticated installation's id: the org for org-wide installs, else the workspace."""
    result = context.authorize_result
    if context.is_enterprise_install:
        return str((result.enterprise_id if result else None) or context.enterprise_id or "")
    return str((result.team_id if result else None) or context.team_id or context.enterprise_id or "")


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """The message without the mention of the bot."""
    if not bot_user_id:
        return text.strip()
    cleaned = _MENTION.sub(lambda m: "" if m.group(1) == bot_user_id else m.group(0), text)
    return re.sub(r"^[\s,:]+", "", cleaned).strip()


def can_stream(context: AsyncBoltContext) -> bool:
    """Whether replies may use Slack's chat streaming API (SWITCHBOARD_SLACK_STREAMING; `auto`: when the
    installation has the scope that feature comes with)."""
    mode = get_settings().slack_streaming
    if mode != "auto":
        return mode == "native"
    scopes = context.authorize_result.bot_scopes if context.authorize_result else None
    return STREAMING_SCOPE in (scopes or [])


async def incoming(
    context: AsyncBoltContext,
    client: AsyncWebClient,
    *,
    channel: str,
    thread: str,
    user: str,
    text: str,
    event_id: str | None,
    files: tuple[IncomingFile, ...] = (),
) -> IncomingMessage:
    """The core's view of a Slack message: the authenticated workspace, who wrote it (users.info, cached), and the
    files posted with it."""
    workspace = workspace_of(context)
    who = await person(client, workspace, user)
    return IncomingMessage(
        platform=PLATFORM,
        workspace=workspace,
        channel=channel,
        thread=thread,
        user=user,
        text=text,
        event_id=event_id,
        user_name=who.name,
        user_is_admin=who.is_admin,
        is_dm=channel.startswith("D"),
        files=files,
    )


def place(
    context: AsyncBoltContext,
    client: AsyncWebClient,
    channel: str,
    thread: str,
    user: str,
    respond: AsyncRespond | None = None,
    *,
    replace: bool = False,
) -> Place:
    """Where the answers to this request go (`thread` "" for channel level: ephemeral)."""
    return Place(
        client=client,
        workspace=workspace_of(context),
        channel=channel,
        thread_ts=thread,
        user=user,
        respond=respond,
        replace_original=replace,
        native_streaming=can_stream(context),
        interval=get_settings().slack_update_interval_s,
    )
