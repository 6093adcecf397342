"""The one loop over `core.chat.handle`: every adapter hands a message and a surface to `drive`, nothing else.

What each event becomes:
- Accepted: the surface shows "typing…" (only a first delivery that goes to a model gets one).
- Delta: the reply streams into the surface (core.delivery.stream: pacing, splitting).
- Thinking: a reasoning model's thinking, in a message of its own above the answer (core.delivery.thinking),
  finished as done when the answer starts.
- Notice: before the reply starts, a message of its own; once it streams, a line in the reply's tail.
- Reply: shown at once, unless a reply is streaming: then it waits under the finished reply, so what a command
  or an error says never lands between the pieces of a reply.
- Done: the reply is finished with its footer and buttons; a model that sent nothing shows that it did.
If the turn is cancelled or a surface fails, the open reply is closed as cut off and the error goes on to the
adapter (which knows how to explain, say, a missing permission). The core stores the turn either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field

from core.chat import handle
from core.delivery.stream import EMPTY_REPLY, ReplyStream
from core.delivery.surface import Surface, Tail
from core.delivery.thinking import ThinkingStream
from core.threads.conversations import TurnStart
from core.types import Accepted, Delta, Done, Event, IncomingMessage, Notice, Reply, Thinking, TurnResult

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
        self.held: list[Reply] = []

    async def show(self, event: Event) -> None:
        if isinstance(event, Accepted):
            await self.surface.typing()
        elif isinstance(event, Delta):
            if self.stream is None:
                if self.thinking is not None:
                    await self.thinking.wrap_up()  # the thinking stays above the answer
                self.stream = ReplyStream(self.surface)
            self.stream.add(event.text)
        elif isinstance(event, Thinking):
            if self.thinking is None:
                self.thinking = ThinkingStream(self.surface)
            self.thinking.add(event.text)
        elif isinstance(event, Notice):
            if self.stream is None:
                await self.surface.notice(event.text)
            else:
                self.stream.note(event.text)
        elif isinstance(event, Reply):
            if self.stream is None:
                await self.surface.show(event)
            else:
                self.held.append(event)
        else:
            await self._done(event)

    async def _done(self, done: Done) -> None:
        result = done.result
        failed = result.status == "error"
        if self.stream is None and not failed:
            self.stream = ReplyStream(self.surface)
            self.stream.add(EMPTY_REPLY)
        notices = self.stream.notices if self.stream else ()
        await self._finish(Tail(None if failed else done.footer, notices, done.choices, result.via or result.model))

    async def _finish(self, tail: Tail) -> None:
        stream, self.stream = self.stream, None
        thinking, self.thinking = self.thinking, None
        if thinking is not None:
            await thinking.wrap_up()  # above the answer, even one that had no text until now
        if stream is not None:
            await stream.finish(tail)
        if thinking is not None:
            await thinking.close()
        held, self.held = self.held, []
        for reply in held:
            await self.surface.show(reply)

    async def end(self) -> None:
        """The core is done: a reply it left open (no Done) still shows everything that came."""
        if self.stream is not None or self.thinking is not None or self.held:
            await self._finish(Tail(None, self.stream.notices if self.stream else ()))

    async def abort(self) -> None:
        if self.thinking is not None:
            await self.thinking.abort()
        if self.stream is not None:
            await self.stream.abort()
