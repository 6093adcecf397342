"""The Discord bot process: `switchboard discord`.

An AutoShardedBot (this process runs DISCORD_SHARD_IDS of DISCORD_SHARD_COUNT, or every shard Discord
recommends), cogs for conversations, models and usage, and application commands synced to DISCORD_GUILD_IDS
(instant, for development) or globally.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any
from urllib.parse import urlsplit

import discord
import discord.gateway
import discord.http
import yarl
from discord.ext import commands

from bot.discord import notices
from bot.discord.permissions import invite_url
from bot.discord.respond import CommandButton, send_private
from core import runtime
from core.logs import configure_logging, register_secret
from core.runtime import connect_database, prepare_worker
from core.settings import Settings, get_settings
from core.threads.notices import NoticeDelivery

log = logging.getLogger("switchboard.discord")
EXTENSIONS = ("bot.discord.cogs.conversation", "bot.discord.cogs.models", "bot.discord.cogs.usage")
DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg/"


def intents() -> discord.Intents:
    """Guilds and their messages, DMs, and message content (privileged: enable it in the developer portal)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    return wanted


def parse_ids(text: str) -> list[int]:
    """`"1, 2 3"` -> [1, 2, 3]; a clear error for anything that is not an id."""
    ids = []
    for part in text.replace(",", " ").split():
        if not part.isdigit():
            raise ValueError(f"'{part}' is not a Discord id (a number)")
        ids.append(int(part))
    return ids


def gateway_url(settings: Settings) -> str:
    """DISCORD_GATEWAY_URL, else derived from DISCORD_API_BASE (same host, ws/wss), else Discord's."""
    if settings.discord_gateway_url:
        return settings.discord_gateway_url
    if not settings.discord_api_base:
        return DEFAULT_GATEWAY
    parts = urlsplit(settings.discord_api_base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/"


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py's REST and gateway at DISCORD_API_BASE / DISCORD_GATEWAY_URL (both, or neither:
    a plain client never asks Discord where the gateway is)."""
    discord.http.Route.BASE = (settings.discord_api_base or DEFAULT_API_BASE).rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url(settings))


class SwitchboardBot(commands.AutoShardedBot):
    """The bot: no prefix commands (the core answers `!commands` typed in threads), slash commands in cogs."""

    def __init__(
        self,
        *,
        guild_ids: list[int],
        shard_ids: list[int] | None = None,
        shard_count: int | None = None,
        ready_timeout: float = 2.0,
        identify_delay_s: float = 5.0,
    ) -> None:
        sharding: dict[str, Any] = {"shard_ids": shard_ids} if shard_ids is not None else {}
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            shard_count=shard_count,
            **sharding,
            guild_ready_timeout=ready_timeout,
            allowed_mentions=discord.AllowedMentions.none(),  # model output must never ping @everyone
            help_command=None,
            chunk_guilds_at_startup=False,
        )
        self.guild_ids = guild_ids
        self.identify_delay_s = identify_delay_s
        self.notices: NoticeDelivery | None = None

    async def setup_hook(self) -> None:
        for name in EXTENSIONS:
            await self.load_extension(name)
        self.add_dynamic_items(CommandButton)
        self.tree.error(self.on_app_command_error)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """To the development guilds when DISCORD_GUILD_IDS is set (instant), else globally (up to an hour)."""
        if not self.guild_ids:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
            return
        for gid in self.guild_ids:
            guild = discord.Object(gid)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), gid)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        if not initial and self.identify_delay_s:  # Discord allows one IDENTIFY per 5 s (max_concurrency 1)
            await asyncio.sleep(self.identify_delay_s)

    async def on_message(self, message: discord.Message) -> None:
        """Replaces the prefix-command dispatch: conversations are the Conversations cog's job."""

    async def on_ready(self) -> None:
        if self.notices is None:  # on_ready comes again after a reconnect
            self.notices = notices.delivery(self)
            self.notices.start()
        if self.application_id is not None:
            log.info(
                "Discord bot ready as %s on %d guilds. Invite: %s",
                self.user,
                len(self.guilds),
                invite_url(self.application_id),
            )

    async def close(self) -> None:
        delivery, self.notices = self.notices, None
        if delivery is not None:
            await delivery.stop()
        await super().close()
        await runtime.release()

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: discord.app_commands.AppCommandError
    ) -> None:
        original: Any = getattr(error, "original", error)
        log.error("command /%s failed", interaction.command.name if interaction.command else "?", exc_info=original)
        text = (
            "Something went wrong on our side while answering. Your conversation is saved; try again in a "
            "moment, and tell an admin if it keeps happening."
        )
        if isinstance(original, discord.HTTPException) and original.status >= 500:
            text = "Discord had a problem while I was answering. Try again in a moment."
        try:
            await send_private(interaction, text)
        except discord.HTTPException:
            log.warning("could not tell the user about the error (interaction expired?)")


def create_bot(settings: Settings | None = None, **overrides: Any) -> SwitchboardBot:
    """The bot as configured by settings (endpoints included); `overrides` are SwitchboardBot arguments."""
    s = settings or get_settings()
    configure_endpoints(s)
    shard_ids = parse_ids(s.discord_shard_ids) or None
    if shard_ids is not None and s.discord_shard_count is None:
        raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total number of shards).")
    if shard_ids and s.discord_shard_count is not None and max(shard_ids) >= s.discord_shard_count:
        raise ValueError(f"DISCORD_SHARD_IDS must be below DISCORD_SHARD_COUNT ({s.discord_shard_count}).")
    options: dict[str, Any] = {
        "guild_ids": parse_ids(s.discord_guild_ids),
        "shard_ids": shard_ids,
        "shard_count": s.discord_shard_count,
        **overrides,
    }
    return SwitchboardBot(**options)


async def run_until_stopped(bot: SwitchboardBot, token: str) -> None:
    """Run the bot until SIGTERM or SIGINT, then close it: a stopped process exits 0, as Procfile runners
    expect (discord.py's own `run` handles only Ctrl-C and dies of SIGTERM)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
    async with bot:
        await bot.start(token)
    log.info("Discord bot stopped")


def main() -> None:
    """Run the Discord bot until stopped."""
    s = get_settings()
    configure_logging(s.log_level)
    token = s.discord_bot_token.get_secret_value() if s.discord_bot_token else ""
    if not token:
        sys.exit("DISCORD_BOT_TOKEN is not set. Create a bot (README 'Discord') and put its token in .env.")
    register_secret(token)
    try:
        bot = create_bot(s)
    except ValueError as exc:
        sys.exit(str(exc))
    connect_database()
    prepare_worker()
    try:
        asyncio.run(run_until_stopped(bot, token))
    except discord.PrivilegedIntentsRequired:
        sys.exit(
            "Discord refused the Message Content intent. Enable it: Developer Portal → your app → Bot → "
            "Privileged Gateway Intents → MESSAGE CONTENT INTENT."
        )
    except discord.LoginFailure:
        sys.exit("Discord rejected DISCORD_BOT_TOKEN. Copy the token again from Developer Portal → Bot.")
