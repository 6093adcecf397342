"""Showing what the core says: a turn streamed into a channel or thread, a command answered on an interaction,
and the buttons (Reply.choices) whose click sends their command back to the core.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from contextlib import aclosing
from typing import Any

import discord

from bot.discord import identity
from bot.discord.permissions import permission_problem
from bot.discord.render import BUTTON_STYLES, Outgoing, render_reply
from bot.discord.stream import ChannelSink, EditPacer, StreamedReply
from core.chat import handle
from core.types import Accepted, Choice, Delta, Done, IncomingMessage, Notice, Reply

log = logging.getLogger("switchboard.discord")
CUSTOM_ID_PREFIX = "sb:"
pacer = EditPacer()  # one per process: every edit of a message goes through it
_turn_locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = weakref.WeakValueDictionary()


# ---------------------------------------------------------------- buttons


class CommandButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"sb:(?P<command>.+)"):
    """A button whose custom id carries a core command; a click runs it for the clicking user, where they are.
    Dynamic, so buttons keep working after a restart and on every shard."""

    def __init__(self, command: str, label: str = "…", style: discord.ButtonStyle = discord.ButtonStyle.secondary):
        super().__init__(discord.ui.Button(label=label[:80], style=style, custom_id=CUSTOM_ID_PREFIX + command))
        self.command = command

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CommandButton:
        button = item if isinstance(item, discord.ui.Button) else None
        return cls(match["command"], (button.label if button else None) or "…")

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()  # a component: acknowledged without a new message
        msg = identity.from_interaction(interaction, self.command)
        try:
            await answer_interaction(interaction, msg, ephemeral=True, thinking=False)
        except discord.Forbidden:
            action = (
                "reply in this thread" if isinstance(interaction.channel, discord.Thread) else "reply in this channel"
            )
            await send_private(interaction, await permission_problem(interaction.channel, action))
        except Exception:
            log.exception("button %r failed", self.command)
            await send_private(interaction, "Something went wrong on our side. Try again in a moment.")


def view_for(choices: tuple[Choice, ...]) -> discord.ui.View | None:
    """Reply.choices as buttons (at most 25, each command at most once)."""
    view = discord.ui.View(timeout=None)
    seen: set[str] = set()
    for c in choices:
        command = c.command.strip()
        if command in seen or len(CUSTOM_ID_PREFIX + command) > 100 or len(view.children) >= 25:
            continue
        seen.add(command)
        view.add_item(CommandButton(command, c.label, BUTTON_STYLES.get(c.style, discord.ButtonStyle.secondary)))
    return view if view.children else None


def _message_kwargs(out: Outgoing) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if out.content is not None:
        kwargs["content"] = out.content
    if out.embeds:
        kwargs["embeds"] = out.embeds
    view = view_for(out.choices)
    if view is not None:
        kwargs["view"] = view
    return kwargs


# ---------------------------------------------------------------- turns in a channel or thread


def _lock(msg: IncomingMessage) -> asyncio.Lock:
    """Turns of one conversation are answered one after another, in the order they arrived."""
    key = (msg.workspace, msg.channel, msg.thread)
    lock = _turn_locks.get(key)
    if lock is None:
        lock = _turn_locks[key] = asyncio.Lock()
    return lock


async def send_outgoing(channel: discord.abc.Messageable, outs: list[Outgoing]) -> list[discord.Message]:
    return [await channel.send(**_message_kwargs(out)) for out in outs]


async def converse(msg: IncomingMessage, channel: discord.abc.Messageable) -> None:
    """Hand `msg` to the core and show what comes back in `channel`: a streamed reply with its footer, or a
    command's answer. Raises discord.HTTPException (e.g. Forbidden) when Discord refuses to show it."""
    async with _lock(msg):
        stream = StreamedReply(ChannelSink(channel), pacer)
        try:
            async with aclosing(handle(msg)) as events:
                async for event in events:
                    if isinstance(event, Accepted):  # a first delivery (never a duplicate): a model is asked
                        with contextlib.suppress(discord.HTTPException):
                            await channel.typing()  # "Switchboard is typing…" until the first part arrives
                    elif isinstance(event, Delta):
                        stream.add(event.text)
                    elif isinstance(event, Notice):
                        stream.notice(event.text)
                    elif isinstance(event, Reply):
                        await send_outgoing(channel, render_reply(event))
                    elif isinstance(event, Done):
                        footer = None if event.result.status == "error" else event.footer
                        await stream.finish(footer, view_for(event.choices))
            if stream.unfinished:  # the core ended without a footer: still show everything that came
                await stream.finish(None)
        except BaseException:
            await stream.abort()
            raise


# ---------------------------------------------------------------- interactions


class InteractionAnswer:
    """Core events shown on one interaction. A deferred command has a "thinking…" message: the first answer
    replaces it (or, when the answer is private but the thinking was public, it is deleted and the answer
    sent privately). Later answers are followups; a button click that pages (/models) edits its message."""

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool, thinking: bool) -> None:
        self.interaction = interaction
        self.ephemeral = ephemeral
        self.thinking = thinking  # a deferred "thinking…" message waits to be replaced
        self.progress = False  # the original holds a progress note that the next answer replaces
        self.stream: StreamedReply | None = None
        self.original_id: int | None = None

    async def _edit_original(self, out: Outgoing) -> None:
        # Until the first edit tells us its id, the thinking message is known by the interaction's id.
        key = self.original_id or (self.interaction.id if self.thinking or self.progress else self._clicked_id())
        kwargs = _message_kwargs(out)
        kwargs.setdefault("content", None)
        kwargs.setdefault("embeds", [])
        kwargs.setdefault("view", None)
        await pacer.wait(key)
        try:
            edited = await self.interaction.edit_original_response(**kwargs)
            self.original_id = edited.id
        finally:
            pacer.touched(key)
            if self.original_id:
                pacer.touched(self.original_id)  # later edits (e.g. a button on it) keep their distance too

    def _clicked_id(self) -> int:
        message = self.interaction.message
        return message.id if message is not None else self.interaction.id

    async def reply(self, reply: Reply) -> None:
        outs = render_reply(reply)
        paging = reply.kind == "models" and self.interaction.type is discord.InteractionType.component
        for i, out in enumerate(outs):
            if self.thinking or self.progress:
                if reply.ephemeral and not self.ephemeral:
                    await self.interaction.delete_original_response()
                    self.thinking = self.progress = False
                    await self._followup(out, ephemeral=True)
                else:
                    await self._edit_original(out)
                    self.thinking = self.progress = False
            elif paging and i == 0 and len(outs) == 1:
                await self._edit_original(out)  # Previous/Next: the list changes page in place
            else:
                await self._followup(out, ephemeral=reply.ephemeral)

    async def _followup(self, out: Outgoing, *, ephemeral: bool) -> None:
        await self.interaction.followup.send(**_message_kwargs(out), ephemeral=ephemeral, wait=True)

    async def note(self, text: str) -> None:
        """Progress ("Comparing…"): shown in the thinking message, replaced by the answer."""
        if self.thinking or self.progress:
            await self._edit_original(Outgoing(content=f"*{text}*"))
            self.thinking, self.progress = False, True
        elif self.stream is not None:
            self.stream.notice(text)
        else:
            await self._followup(Outgoing(content=f"*{text}*"), ephemeral=True)

    def delta(self, text: str) -> None:
        if self.stream is None:
            channel = self.interaction.channel
            assert isinstance(channel, discord.abc.Messageable)
            self.stream = StreamedReply(ChannelSink(channel), pacer)
        self.stream.add(text)

    async def done(self, event: Done) -> None:
        footer = None if event.result.status == "error" else event.footer
        if self.stream is None:
            self.stream = StreamedReply(ChannelSink(self.interaction.channel), pacer)  # type: ignore[arg-type]
        await self.stream.finish(footer, view_for(event.choices))

    async def close(self) -> None:
        """Nothing (more) to show: a thinking message left over is removed, so it does not spin forever."""
        if self.thinking:
            with contextlib.suppress(discord.HTTPException):
                await self.interaction.delete_original_response()
            self.thinking = False


async def answer_interaction(
    interaction: discord.Interaction, msg: IncomingMessage, *, ephemeral: bool, thinking: bool = True
) -> None:
    """Run `msg` through the core and show the result on an interaction already deferred with `ephemeral`
    (and a thinking message when `thinking`)."""
    answer = InteractionAnswer(interaction, ephemeral=ephemeral, thinking=thinking)
    try:
        async with aclosing(handle(msg)) as events:
            async for event in events:
                if isinstance(event, Reply):
                    await answer.reply(event)
                elif isinstance(event, Notice):
                    await answer.note(event.text)
                elif isinstance(event, Delta):
                    answer.delta(event.text)
                elif isinstance(event, Done):
                    await answer.done(event)
    except BaseException:
        if answer.stream is not None:
            await answer.stream.abort()
        raise
    finally:
        await answer.close()
    if answer.stream is not None and answer.stream.unfinished:
        await answer.stream.finish(None)


async def run_command(msg: IncomingMessage) -> list[Reply]:
    """A command's replies, collected (for commands whose answer decides what happens next)."""
    replies: list[Reply] = []
    async with aclosing(handle(msg)) as events:
        async for event in events:
            if isinstance(event, Reply):
                replies.append(event)
    return replies


async def send_private(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral message to the user of an interaction, whether or not it was answered yet."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)
