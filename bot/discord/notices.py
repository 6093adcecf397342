"""Thread notices (an interrupted reply) posted from the Discord process without waiting for the thread's next
message: core.threads.notices lists and claims them, this module posts each into its thread (or DM) over REST, which
any shard's process can do, rendered like the notices under a reply."""

from __future__ import annotations

import discord

from bot.discord.identity import PLATFORM
from bot.discord.render import notice_line
from core.threads.notices import NoticeDelivery, PendingNotice, Post


def delivery(client: discord.Client) -> NoticeDelivery:
    """The notice poller of this process (start it once the bot is ready, stop it when it closes)."""

    async def post(notice: PendingNotice, text: str) -> None:
        # a guild conversation's thread is its own channel; a DM's thread is the DM channel
        where = client.get_partial_messageable(int(notice.thread or notice.channel))
        await where.send(notice_line(text))

    async def poster_for(workspace: str) -> Post | None:
        return post  # one bot token posts in every guild and DM

    return NoticeDelivery(PLATFORM, poster_for)
