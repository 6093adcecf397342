"""Conversations: a mention opens a thread, every message in a bot thread is a turn (its text, its attachments or
both), `/chat` starts one."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import autocomplete, identity
from bot.discord.permissions import permission_problem, tell
from bot.discord.render import MESSAGE_LIMIT, render_reply, split_message, thread_name
from bot.discord.respond import InteractionAnswer, converse, run_command, send_outgoing, send_private
from core.types import Reply

THREADABLE = (discord.TextChannel,)  # News channels are TextChannels in discord.py
TURN_TYPES = (discord.MessageType.default, discord.MessageType.reply)
THREAD_EXISTS = 160004
HINT = "Mention me with a question to start a thread, or use `/chat`. `/models` lists the models you can use here."


class Conversations(commands.Cog):
    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    # ------------------------------------------------------------ messages
    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or message.type not in TURN_TYPES:
            return  # our own messages come back on the gateway too; other bots are not users
        channel = message.channel
        mentioned = identity.is_mentioned(message, me)
        if isinstance(channel, discord.DMChannel):
            await self._turn(message, channel)
        elif isinstance(channel, discord.Thread):
            if mentioned or await identity.is_bot_thread(channel, me):
                await self._turn(message, channel)
        elif mentioned:
            await self._start_thread(message)

    async def _start_thread(self, message: discord.Message) -> None:
        assert self.bot.user is not None
        text = identity.clean_text(message, self.bot.user)
        if not text and not message.attachments:
            await tell(message, HINT)
            return
        channel = message.channel
        if not isinstance(channel, THREADABLE):  # e.g. a voice channel's chat: answer in place
            await self._turn(message, channel)
            return
        try:
            title = text or message.attachments[0].filename  # a file posted with no words names the thread
            thread = await message.create_thread(name=thread_name(title), auto_archive_duration=1440)
        except discord.Forbidden:
            await tell(message, await permission_problem(channel, "start a thread"))
            return
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:  # a redelivered mention: the thread is already there
                raise
            thread = channel.get_thread(message.id) or await channel.guild.fetch_channel(message.id)  # type: ignore[assignment]
            assert isinstance(thread, discord.Thread)
        await self._turn(message, thread)

    async def _turn(self, message: discord.Message, where: Any) -> None:
        assert self.bot.user is not None
        text = identity.clean_text(message, self.bot.user)
        if not text and not message.attachments:  # files alone are a turn too
            return
        msg = identity.from_message(message, text, where=where)
        try:
            await converse(msg, where)
        except discord.Forbidden:
            action = "reply in this thread" if isinstance(where, discord.Thread) else "reply in this channel"
            await tell(message, await permission_problem(where, action))

    # ------------------------------------------------------------ /chat
    @app_commands.command(name="chat")
    @app_commands.describe(
        prompt="What you want to ask",
        model="The model for this conversation (default: this channel's); start typing to search",
        file="An image or a file to ask about",
    )
    @app_commands.autocomplete(model=autocomplete.models)
    async def chat(
        self,
        interaction: discord.Interaction,
        prompt: str,
        model: str | None = None,
        file: discord.Attachment | None = None,
    ) -> None:
        """Start a conversation in a new thread (in a thread or a DM: continue it there)."""
        await interaction.response.defer(thinking=True)
        channel = interaction.channel
        attached = f"\n📎 {discord.utils.escape_markdown(file.filename)}" if file is not None else ""
        shown = split_message(f"💬 **{interaction.user.display_name}**: {prompt}", MESSAGE_LIMIT - 1 - len(attached))
        starter = shown[0] + ("…" if len(shown) > 1 else "") + attached  # the whole prompt still goes to the model
        original = await interaction.edit_original_response(content=starter)
        where: Any = channel
        new_thread = False
        if isinstance(channel, THREADABLE) and interaction.guild_id is not None:
            try:
                where = await original.create_thread(name=thread_name(prompt), auto_archive_duration=1440)
                new_thread = True
            except discord.Forbidden:
                await send_private(interaction, await permission_problem(channel, "start a thread"))
                return
        attachments = (file,) if file is not None else ()
        msg = identity.from_interaction(interaction, prompt, where=where, attachments=attachments)
        try:
            if model and not await self._pick_model(interaction, where, model, new_thread=new_thread):
                return
            await converse(msg, where)
        except discord.Forbidden:
            action = "reply in this thread" if isinstance(where, discord.Thread) else "reply in this channel"
            await send_private(interaction, await permission_problem(where, action))

    async def _pick_model(self, interaction: discord.Interaction, where: Any, model: str, *, new_thread: bool) -> bool:
        """Set the conversation's model before its first turn. False when it can't be: the user sees why (with
        the candidates as buttons, which act in this conversation) and the prompt is not sent."""
        event_id = f"{interaction.id}:model"
        msg = identity.from_interaction(interaction, f"!model {model}", where=where, event_id=event_id)
        replies = await run_command(msg)
        if all(r.kind == "model_set" for r in replies):  # none: a redelivery, already set
            if not new_thread:  # an existing conversation: everyone in it sees the switch
                await send_outgoing(where, [o for r in replies for o in render_reply(r)])
            return True
        note = Reply("Your message was not sent to a model: pick one, then ask again here.", kind="info")
        if new_thread:
            await send_outgoing(where, [o for r in [*replies, note] for o in render_reply(r)])
        else:
            answer = InteractionAnswer(interaction, ephemeral=True, thinking=False)
            for r in [*replies, note]:
                await answer.show(replace(r, ephemeral=True))
        return False


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Conversations(bot))
