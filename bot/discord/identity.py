"""Discord events as neutral IncomingMessages, and where a Discord channel sits in a conversation's key.

A conversation is (platform, workspace, channel, thread):
- a thread in a guild: (discord, guild id, parent channel id, thread id);
- a plain guild channel: (discord, guild id, channel id, "") — channel-level, e.g. `/model` sets its default;
- a DM: (discord, "dm", DM channel id, DM channel id) — the DM itself is the conversation.

The workspace always comes from the gateway's guild id, never from anything a user typed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord

from bot.discord.files import incoming_files
from core.threads.aio import is_conversation
from core.types import IncomingFile, IncomingMessage

PLATFORM = "discord"
DM_WORKSPACE = "dm"


@dataclass(frozen=True)
class Place:
    workspace: str
    channel: str
    thread: str
    is_dm: bool = False


def place_of(channel: object, guild_id: int | None) -> Place:
    """Where `channel` sits in a conversation's key (see the module docstring)."""
    if guild_id is None:
        cid = str(getattr(channel, "id", ""))
        return Place(DM_WORKSPACE, cid, cid, is_dm=True)
    if isinstance(channel, discord.Thread):
        return Place(str(guild_id), str(channel.parent_id), str(channel.id))
    return Place(str(guild_id), str(getattr(channel, "id", "")), "")


def _is_admin(user: discord.abc.User) -> bool:
    return isinstance(user, discord.Member) and user.guild_permissions.manage_guild


def incoming(
    place: Place,
    user: discord.abc.User,
    text: str,
    event_id: str,
    *,
    thread: str | None = None,
    files: tuple[IncomingFile, ...] = (),
) -> IncomingMessage:
    return IncomingMessage(
        platform=PLATFORM,
        workspace=place.workspace,
        channel=place.channel,
        thread=place.thread if thread is None else thread,
        user=str(user.id),
        user_name=user.display_name,
        user_is_admin=_is_admin(user),
        is_dm=place.is_dm,
        text=text,
        event_id=event_id,
        files=files,
    )


def from_message(message: discord.Message, text: str, *, where: object | None = None) -> IncomingMessage:
    """A user's message as a turn, with its attachments; `where` is the thread it continues in when that is not
    its own channel."""
    guild_id = message.guild.id if message.guild else None
    place = place_of(where or message.channel, guild_id)
    return incoming(place, message.author, text, str(message.id), files=incoming_files(message.attachments))


def from_interaction(
    interaction: discord.Interaction,
    text: str,
    *,
    where: object | None = None,
    event_id: str | None = None,
    attachments: tuple[discord.Attachment, ...] = (),
) -> IncomingMessage:
    """A slash command or button click, as the command text the core answers (with the files given to it)."""
    place = place_of(where or interaction.channel, interaction.guild_id)
    files = incoming_files(attachments)
    return incoming(place, interaction.user, text, event_id or str(interaction.id), files=files)


def in_thread(interaction: discord.Interaction) -> bool:
    """Whether a command answers for a conversation (a thread or a DM) rather than a channel."""
    return bool(place_of(interaction.channel, interaction.guild_id).thread)


def is_mentioned(message: discord.Message, me: discord.abc.User) -> bool:
    """The bot was addressed: its user mention, or its own managed role (what Discord's picker often inserts)."""
    if any(u.id == me.id for u in message.mentions):
        return True
    return any(r.tags is not None and r.tags.bot_id == me.id for r in message.role_mentions)


def clean_text(message: discord.Message, me: discord.abc.User) -> str:
    """The message text with the bot's mention removed and other user mentions as readable @names."""
    text = message.content
    for role in message.role_mentions:
        if role.tags is not None and role.tags.bot_id == me.id:
            text = text.replace(f"<@&{role.id}>", "")
    for user in message.mentions:
        replacement = "" if user.id == me.id else f"@{user.display_name}"
        text = re.sub(rf"<@!?{user.id}>", replacement, text)
    return text.strip()


async def is_bot_thread(thread: discord.Thread, me: discord.abc.User) -> bool:
    """Threads the bot started, or threads that already are a conversation (e.g. one where someone used
    /model or mentioned the bot): in those every message is a turn."""
    if thread.owner_id == me.id:
        return True
    if thread.guild is None:
        return False
    return await is_conversation(PLATFORM, str(thread.guild.id), str(thread.parent_id), str(thread.id))
