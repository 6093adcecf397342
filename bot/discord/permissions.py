"""The permissions the bot needs, its invite URL, and what happens when Discord refuses an action.

A refusal (403, code 50013 "Missing Permissions") is told to the user with what to fix, and recorded for the
admin's health view (`core.alerts.report_platform_problem`, once per guild, problem and day).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

import discord

from core.alerts import report_platform_problem

log = logging.getLogger("switchboard.discord")

# discord.Permissions flag -> the name Discord's settings show. Exactly what the bot uses:
PERMISSIONS: dict[str, str] = {
    "view_channel": "View Channels",  # see the channels it is mentioned in
    "send_messages": "Send Messages",  # answer in channels (permission problems, hints)
    "send_messages_in_threads": "Send Messages in Threads",  # stream replies in conversation threads
    "create_public_threads": "Create Public Threads",  # a thread per conversation
    "embed_links": "Embed Links",  # /models, /usage and /compare as embeds
    "read_message_history": "Read Message History",  # reply to the message that mentioned it
}
SCOPES = ("bot", "applications.commands")

# What each action needs (first: the one most likely missing).
NEEDS: dict[str, tuple[str, ...]] = {
    "start a thread": ("create_public_threads", "view_channel"),
    "reply in this thread": ("send_messages_in_threads", "embed_links", "view_channel"),
    "reply in this channel": ("send_messages", "embed_links", "view_channel"),
}


def required_permissions() -> discord.Permissions:
    return discord.Permissions(**dict.fromkeys(PERMISSIONS, True))


def invite_url(application_id: int) -> str:
    """The URL that adds the bot to a server with exactly the permissions it needs."""
    return discord.utils.oauth_url(application_id, permissions=required_permissions(), scopes=SCOPES)


def _missing(channel: object, needed: tuple[str, ...]) -> list[str]:
    """Which of `needed` the bot lacks in `channel` as far as its cache knows; all of them when it can't tell
    (Discord refused, so something is missing even if the cache disagrees)."""
    guild = getattr(channel, "guild", None)
    me = guild.me if guild is not None else None
    if me is not None and hasattr(channel, "permissions_for"):
        have = channel.permissions_for(me)
        lacking = [PERMISSIONS[p] for p in needed if not getattr(have, p, True)]
        if lacking:
            return lacking
    return [PERMISSIONS[needed[0]]]


def _where(channel: object) -> str:
    mention = getattr(channel, "mention", None)
    return str(mention) if mention else "this channel"


async def permission_problem(channel: object, action: str) -> str:
    """Record that Discord refused `action` in `channel` and return what to tell the user."""
    lacking = _missing(channel, NEEDS.get(action, ("send_messages",)))
    names = ", ".join(f"**{p}**" for p in lacking)
    plural = "s" if len(lacking) > 1 else ""
    guild = getattr(channel, "guild", None)
    workspace = str(guild.id) if guild is not None else "dm"
    name = getattr(channel, "name", None) or "direct messages"
    admin_text = (
        f"missing permission{plural} {', '.join(lacking)} to {action} in #{name} ({getattr(channel, 'id', '?')})"
    )
    day = datetime.now(UTC).date().isoformat()
    try:
        await asyncio.to_thread(report_platform_problem, "discord", workspace, admin_text, day_key=day)
    except Exception:  # the user still gets told, even if the database is unhappy
        log.exception("could not record a Discord permission problem")
    log.warning("discord guild %s: %s", workspace, admin_text)
    return (
        f"I can't {action} in {_where(channel)}: I'm missing the {names} permission{plural}. "
        "A server admin can grant it to my role (Server Settings → Roles), or in the channel's permission "
        "settings. Until then, try another channel or use `/chat` where I can post."
    )


async def tell(message: discord.Message, text: str) -> bool:
    """Tell the author of `message`: a reply where they wrote, else a DM. False when neither worked."""
    with contextlib.suppress(discord.HTTPException):
        await message.reply(text, mention_author=True)
        return True
    with contextlib.suppress(discord.HTTPException):
        await message.author.send(text)
        return True
    return False
