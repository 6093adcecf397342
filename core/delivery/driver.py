"""The one loop over `core.chat.handle`: every adapter hands a message and a surface to `drive`, nothing else.

What each event becomes:
- Accepted: the surface shows "typing…" (only a first delivery that goes to a model gets one).
- Delta: the reply streams into the surface (core.delivery.stream: pacing, splitting).
- Thinking: a reasoning model's thinking, in a message of its own above the answer (core.delivery.thinking),
  finished as done when the answer starts (or a tool is called; thinking after the tools ran is a new message).
- ToolActivity: each tool call a message of its own, updated as it ends (core.delivery.tools), in the order the
  calls started, below the text the model wrote before calling them. Text that comes after them (the next
  round's answer) starts a new message below them; the text above is finished as a piece, with nothing under it.
- Notice: before the reply starts, a message of its own; once it streams, a line in the reply's tail.
- Reply: shown at once, unless a reply is streaming: then it waits under the finished reply, so what a command
  or an error says never lands between the pieces of a reply.
- Done: the reply is finished with its footer and buttons; a model that sent nothing shows that it did.
If the turn is cancelled or a surface fails, the open reply and tool calls still running are closed as cut off
and the error goes on to the adapter (which knows how to explain, say, a missing permission). The core stores the
turn either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field

from core.chat import handle
from core.delivery.stream import EMPTY_REPLY, ReplyStream
from core.delivery.surface import Surface, Tail
from core.delivery.thinking import ThinkingStream
from core.delivery.tools import ToolMessage
from core.threads.conversations import TurnStart
from core.types import (
    Accepted,
    Delta,
    Done,
    Event,
    IncomingMessage,
    Notice,
    Reply,
    Thinking,
    ToolActivity,
    TurnResult,
)

PROBLEM_KINDS = ("error", "refusal")


@dataclass
class Outcome:
    """What a turn showed: the model's result (if a model was asked) and every whole reply."""

    result: TurnResult | None = None
    replies: list[Reply] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        """The reply waits for the user to confirm it (an expensive turn)."""
        return any(r.kind == "confirm" for r in self.replies)

    @property
    def ok(self) -> bool:
        """Nothing went wrong: no error or refusal, and a model's reply (if any) finished."""
        answered = self.result is None or self.result.status in ("ok", "partial")
        return answered and not any(r.kind in PROBLEM_KINDS for r in self.replies)


async def drive(msg: IncomingMessage, surface: Surface, received: TurnStart | None = None) -> Outcome:
    """Run `msg` through the core and show everything it yields on `surface` (`received`: see core.chat.receive)."""
    async with aclosing(handle(msg, received)) as events:
        return await present(events, surface)


async def present(events: AsyncIterator[Event], surface: Surface) -> Outcome:
    """Show a turn's events on `surface` as they come; what `drive` does with the core's."""
    outcome = Outcome()
    turn = _Turn(surface)
    try:
        async for event in events:
            if isinstance(event, Reply):
                outcome.replies.append(event)
            elif isinstance(event, Done):
                outcome.result = event.result
            await turn.show(event)
        await turn.end()
    except BaseException:
        await turn.abort()
        raise
    return outcome


class _Turn:
    def __init__(self, surface: Surface) -> None:
        self.surface = surface
        self.stream: ReplyStream | None = None
        self.thinking: ThinkingStream | None = None
        self.thoughts: list[ThinkingStream] = []  # thinking of earlier rounds, wrapped up, to close at the end
        self.tools: dict[str, ToolMessage] = {}  # call_id -> its message, in the order the calls started
        self.calls = 0  # tool calls started so far: a stream or thinking opened before the last one is above it
        self.stream_calls = 0
        self.thinking_calls = 0
        self.held: list[Reply] = []

    async def show(self, event: Event) -> None:
        if isinstance(event, Accepted):
            await self.surface.typing()
        elif isinstance(event, Delta):
            if self.stream is not None and self.stream_calls != self.calls:
                stream, self.stream = self.stream, None  # the text before the tool calls: finished above them
                await stream.finish(None)
                self.stream = await self._open_stream(stream.notices)
            elif self.stream is None:
                self.stream = await self._open_stream(())
            self.stream.add(event.text)
        elif isinstance(event, Thinking):
            if self.thinking is not None and self.thinking_calls != self.calls:
                await self.thinking.wrap_up()  # a new round thinks below the tool calls of the last one
                self.thoughts.append(self.thinking)
                self.thinking = None
            if self.thinking is None:
                await self._below_tools()
                self.thinking, self.thinking_calls = ThinkingStream(self.surface), self.calls
            self.thinking.add(event.text)
        elif isinstance(event, ToolActivity):
            await self._tool(event)
        elif isinstance(event, Notice):
            if self.stream is None:
                await self._below_tools()
                await self.surface.notice(event.text)
            else:
                self.stream.note(event.text)
        elif isinstance(event, Reply):
            if self.stream is None:
                await self._below_tools()
                await self.surface.show(event)
            else:
                self.held.append(event)
        else:
            await self._done(event)

    async def _open_stream(self, notices: tuple[str, ...]) -> ReplyStream:
        if self.thinking is not None:
            await self.thinking.wrap_up()  # the thinking stays above the answer
        await self._below_tools()
        self.stream_calls = self.calls
        return ReplyStream(self.surface, notices)

    async def _tool(self, activity: ToolActivity) -> None:
        message = self.tools.get(activity.call_id)
        if message is None:
            if self.thinking is not None:
                await self.thinking.wrap_up()  # the model stopped thinking to call the tool
            above = [self.stream.shown] if self.stream is not None else []  # what it wrote before calling
            above += [m.posted for m in self.tools.values()]  # the calls started before this one

            async def ready() -> None:
                for done in above:
                    await done()

            message = self.tools[activity.call_id] = ToolMessage(self.surface, ready)
            self.calls += 1
        message.update(activity)

    async def _below_tools(self) -> None:
        """Until every tool call's message is on the surface, so what is posted next lands below them."""
        for message in self.tools.values():
            await message.posted()

    async def _done(self, done: Done) -> None:
        result = done.result
        failed = result.status == "error"
        if self.stream is None and not failed:
            self.stream = await self._open_stream(())
            self.stream.add(EMPTY_REPLY)
        notices = self.stream.notices if self.stream else ()
        await self._finish(Tail(None if failed else done.footer, notices, done.choices, result.via or result.model))

    async def _finish(self, tail: Tail) -> None:
        stream, self.stream = self.stream, None
        thinking, self.thinking = self.thinking, None
        thoughts, self.thoughts = [*self.thoughts, *([thinking] if thinking else [])], []
        if thinking is not None:
            await thinking.wrap_up()  # above the answer, even one that had no text until now
        if stream is not None:
            await stream.finish(tail)
        for earlier in thoughts:
            await earlier.close()
        for message in self.tools.values():
            await message.close()  # (kept until closed: a failure here still aborts those not closed yet)
        self.tools = {}
        held, self.held = self.held, []
        for reply in held:
            await self.surface.show(reply)

    async def end(self) -> None:
        """The core is done: a reply it left open (no Done) still shows everything that came."""
        if self.stream is not None or self.thinking is not None or self.thoughts or self.tools or self.held:
            await self._finish(Tail(None, self.stream.notices if self.stream else ()))

    async def abort(self) -> None:
        for earlier in [*self.thoughts, *([self.thinking] if self.thinking else [])]:
            await earlier.abort()
        for message in self.tools.values():
            await message.abort()
        if self.stream is not None:
            await self.stream.abort()
