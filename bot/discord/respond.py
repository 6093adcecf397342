"""Discord's surfaces for the reply driver (core.delivery): a channel, thread or DM (`ChannelSurface`) and an
interaction (`InteractionAnswer`), plus the buttons (Reply.choices) whose click sends their command back to the
core. Pacing, splitting and the order of what is shown are the driver's; these only send, edit and render.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import discord

from bot.discord import identity
from bot.discord.permissions import permission_problem
from bot.discord.render import (
    BUTTON_STYLES,
    MESSAGE_LIMIT,
    Outgoing,
    footer_line,
    notice_line,
    render_reply,
    thinking_text,
    tool_text,
)
from core.delivery.driver import drive
from core.delivery.surface import Later, Silent, Tail, Thought
from core.types import Choice, IncomingMessage, Reply, ToolActivity

log = logging.getLogger("switchboard.discord")
CUSTOM_ID_PREFIX = "sb:"
EDIT_INTERVAL_S = 1.0


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


# ---------------------------------------------------------------- surfaces


class EditPacer:
    """Keeps edits of an interaction's own message at least `interval` apart (Discord asks for >= 1 s between
    edits of one message), measured from when the previous edit finished. Streamed replies are paced by the
    reply driver; this covers the "thinking…" message and the listings paged in place."""

    def __init__(self, interval: float = EDIT_INTERVAL_S) -> None:
        self.interval = interval
        self._last: dict[int, float] = {}

    async def wait(self, message_id: int) -> None:
        last = self._last.get(message_id)
        if last is not None:
            delay = last + self.interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    def touched(self, message_id: int) -> None:
        self._last[message_id] = time.monotonic()
        if len(self._last) > 5000:  # old messages are never edited again
            for key in list(self._last)[:1000]:
                del self._last[key]


pacer = EditPacer()  # one per process

T = TypeVar("T")
SHOW_ATTEMPTS = 5  # a whole answer Discord still rate-limits after discord.py's own retries is tried this many times


def asked_to_wait(exc: Exception) -> float | None:
    """Seconds Discord asked us to wait when a 429 outlasted discord.py's own five tries (or its timeout); None
    for any other error."""
    if isinstance(exc, discord.RateLimited):
        return float(exc.retry_after)
    if isinstance(exc, discord.HTTPException) and exc.status == 429:
        try:
            return max(0.5, float(exc.response.headers.get("Retry-After", 1)))
        except (AttributeError, TypeError, ValueError):
            return 1.0
    return None


async def patiently(send: Callable[[], Awaitable[T]]) -> T:
    """Send a whole answer, waiting out 429s discord.py gave up on, so a busy bot delays it rather than loses it."""
    for attempt in range(1, SHOW_ATTEMPTS + 1):
        try:
            return await send()
        except (discord.HTTPException, discord.RateLimited) as exc:
            wait = asked_to_wait(exc)
            if wait is None or attempt == SHOW_ATTEMPTS:
                raise
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


@contextlib.contextmanager
def later_on_429() -> Iterator[None]:
    """A streamed write Discord still rate-limits becomes the reply driver's Later: it is written again after."""
    try:
        yield
    except (discord.HTTPException, discord.RateLimited) as exc:
        wait = asked_to_wait(exc)
        if wait is None:
            raise
        raise Later(wait) from exc


async def send_outgoing(channel: discord.abc.Messageable, outs: list[Outgoing]) -> list[discord.Message]:
    return [await patiently(functools.partial(channel.send, **_message_kwargs(out))) for out in outs]


class ChannelSurface:
    """A channel, thread or DM as a surface of the reply driver: replies are messages, a streamed reply is
    edited in place, and its footer is small text at the end of its last message (so it counts in the limit)."""

    limit = MESSAGE_LIMIT
    interval = EDIT_INTERVAL_S
    first_delay = 0.0
    appends_only = False

    def __init__(self, channel: discord.abc.Messageable) -> None:
        self.channel = channel

    async def typing(self) -> None:
        with contextlib.suppress(discord.HTTPException):
            await self.channel.typing()  # "Switchboard is typing…" until the first part arrives

    async def show(self, reply: Reply) -> None:
        await send_outgoing(self.channel, render_reply(reply))

    async def notice(self, text: str) -> None:
        await patiently(lambda: self.channel.send(notice_line(text)))

    def tail_text(self, tail: Tail) -> str:
        lines = [notice_line(n) for n in tail.notices] + ([footer_line(tail.footer)] if tail.footer else [])
        return "\n\n" + "\n".join(lines) if lines else ""

    async def post(self, text: str, *, final: bool, tail: Tail | None) -> discord.Message:
        view = view_for(tail.choices) if tail else None
        with later_on_429():
            if view is None:
                return await self.channel.send(text)
            return await self.channel.send(text, view=view)

    async def edit(self, handle: discord.Message, text: str, *, final: bool, tail: Tail | None) -> None:
        view = view_for(tail.choices) if tail else None
        with later_on_429():
            if view is None:
                await handle.edit(content=text)
            else:
                await handle.edit(content=text, view=view)

    async def abort(self, handles: list[discord.Message]) -> None:
        return None  # an edited message keeps what it showed

    async def think(self, handle: discord.Message | None, thought: Thought) -> discord.Message:
        """A reasoning model's thinking as a message of its own above the answer (render.thinking_text), edited
        as it grows (the driver keeps edits `interval` apart)."""
        with later_on_429():
            if handle is None:
                return await self.channel.send(thinking_text(thought))
            await handle.edit(content=thinking_text(thought))
        return handle

    async def tool(self, handle: discord.Message | None, activity: ToolActivity) -> discord.Message:
        """A tool call of the reply as a message of its own (render.tool_text), sent as it starts and edited as it
        ends (the driver keeps edits `interval` apart). Links in its arguments are not previewed, and nothing in
        them mentions anyone."""
        text = tool_text(activity)
        with later_on_429():
            if handle is None:
                return await self.channel.send(
                    text, suppress_embeds=True, allowed_mentions=discord.AllowedMentions.none()
                )
            await handle.edit(content=text)
        return handle


async def converse(msg: IncomingMessage, channel: discord.abc.Messageable) -> None:
    """Hand `msg` to the core and show what comes back in `channel`. Raises discord.HTTPException (e.g.
    Forbidden) when Discord refuses to show it."""
    await drive(msg, ChannelSurface(channel))


class InteractionAnswer(ChannelSurface):
    """Core events shown on one interaction. A deferred command has a "thinking…" message: the first answer
    replaces it (or, when the answer is private but the thinking was public, it is deleted and the answer
    sent privately). Later answers are followups; a button click that pages (/models) edits its message. A
    streamed reply goes to the interaction's channel."""

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool, thinking: bool) -> None:
        super().__init__(interaction.channel)  # type: ignore[arg-type]
        self.interaction = interaction
        self.ephemeral = ephemeral
        self.thinking = thinking  # a deferred "thinking…" message waits to be replaced
        self.progress = False  # the original holds a progress note that the next answer replaces
        self.original_id: int | None = None

    async def typing(self) -> None:
        return None  # the deferred interaction already shows "thinking…"

    async def _edit_original(self, out: Outgoing) -> None:
        # Until the first edit tells us its id, the thinking message is known by the interaction's id.
        key = self.original_id or (self.interaction.id if self.thinking or self.progress else self._clicked_id())
        kwargs = _message_kwargs(out)
        kwargs.setdefault("content", None)
        kwargs.setdefault("embeds", [])
        kwargs.setdefault("view", None)
        await pacer.wait(key)
        try:
            edited = await patiently(lambda: self.interaction.edit_original_response(**kwargs))
            self.original_id = edited.id
        finally:
            pacer.touched(key)
            if self.original_id:
                pacer.touched(self.original_id)  # later edits (e.g. a button on it) keep their distance too

    def _clicked_id(self) -> int:
        message = self.interaction.message
        return message.id if message is not None else self.interaction.id

    async def show(self, reply: Reply) -> None:
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
        await patiently(lambda: self.interaction.followup.send(**_message_kwargs(out), ephemeral=ephemeral, wait=True))

    async def notice(self, text: str) -> None:
        """Progress ("Comparing…"): shown in the thinking message, replaced by the answer."""
        if self.thinking or self.progress:
            await self._edit_original(Outgoing(content=f"*{text}*"))
            self.thinking, self.progress = False, True
        else:
            await self._followup(Outgoing(content=f"*{text}*"), ephemeral=True)

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
        await drive(msg, answer)
    finally:
        await answer.close()


async def run_command(msg: IncomingMessage) -> list[Reply]:
    """A command's replies, collected (for commands whose answer decides what happens next)."""
    return (await drive(msg, Silent())).replies


async def send_private(interaction: discord.Interaction, text: str) -> None:
    """An ephemeral message to the user of an interaction, whether or not it was answered yet."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)
