"""What a chat surface implements so the reply driver can show a turn on it.

A surface is one place answers go: a Slack thread, a Discord channel, a Discord interaction, a terminal. It
declares its limits (characters per message, seconds between writes of one message) and does the writing; the
driver decides what to write and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from core.types import Choice, Reply, ToolActivity

ELLIPSIS = "…"


@dataclass(frozen=True)
class Thought:
    """The thinking so far; `done`: the answer has started (or the turn ended), it will not grow."""

    text: str
    done: bool = False

    @property
    def words(self) -> int:
        return len(self.text.split())

    def tail(self, limit: int, prefix: str = "") -> tuple[list[str], bool]:
        """The latest thinking as lines (blank ones left out), each starting with `prefix`, together at most `limit`
        characters with the line breaks between them; and whether earlier thinking was left out to fit (the first
        line kept then starts with '…' after `prefix`, cut at a word where a line is cut)."""
        lines = [line.strip() for line in self.text.splitlines() if line.strip()]
        kept: list[str] = []
        used = -1  # no line break before the first line
        for index in range(len(lines) - 1, -1, -1):
            line = lines[index]
            cost = 1 + len(prefix) + len(line)
            if used + cost <= limit and (index == 0 or used + cost + len(ELLIPSIS) <= limit):
                kept.insert(0, prefix + line)
                used += cost
                continue
            room = limit - used - 1 - len(prefix) - len(ELLIPSIS)  # what of this line fits after '…'
            start = max(0, len(line) - room)
            if room > 0 and start > 0 and line[start - 1] != " ":  # from the first whole word that fits
                space = line.find(" ", start)
                if space != -1:
                    start = space + 1
                elif kept:  # rather no part of this line than a piece of a word
                    start = len(line)
            if room > 0 and start < len(line):
                kept.insert(0, prefix + ELLIPSIS + line[start:])
            elif kept:  # no word of it fits: the line kept first says that more came before (room was kept)
                kept[0] = prefix + ELLIPSIS + kept[0][len(prefix) :]
            return kept, True
        return kept, False


class Later(Exception):
    """The platform asked us to wait (e.g. HTTP 429 with Retry-After): the driver retries this write after."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


class Gone(Exception):
    """The surface can no longer show this reply (its message was deleted, a permission is missing, and the
    surface has already told whoever needs to know). The driver stops writing it; the turn itself still ends
    normally, so the reply is stored."""


@dataclass(frozen=True)
class Tail:
    """What goes under the last piece of a reply: the footer (None after an error), the notices of the turn, the
    reply's buttons, and the model the thread is on now (for a model menu)."""

    footer: str | None
    notices: tuple[str, ...] = ()
    choices: tuple[Choice, ...] = ()
    model: str | None = None


class Surface(Protocol):
    """Where the driver shows one turn."""

    @property
    def limit(self) -> int:
        """Characters of reply text one message holds."""
        ...

    @property
    def interval(self) -> float:
        """Seconds between two writes of one message, from when the previous write ended."""
        ...

    @property
    def first_delay(self) -> float:
        """How long the first piece may wait, so a short reply goes out in one call."""
        ...

    @property
    def appends_only(self) -> bool:
        """An open message can only grow (Slack's chat streaming, a terminal): the driver never takes text back."""
        ...

    async def typing(self) -> None:
        """A model is being asked: show "typing…" where the platform has it."""

    async def show(self, reply: Reply) -> None:
        """A whole answer that is not a stream: a command's output, a refusal, an error."""

    async def notice(self, text: str) -> None:
        """Something to know before the reply starts (e.g. the previous reply was interrupted)."""

    def tail_text(self, tail: Tail) -> str:
        """The part of `tail` written as text at the end of the last piece ("" when the surface shows it apart)."""
        ...

    async def post(self, text: str, *, final: bool, tail: Tail | None) -> Any:
        """Start a new message of the reply with `text`; `final`: it will not change again. Returns a handle."""

    async def edit(self, handle: Any, text: str, *, final: bool, tail: Tail | None) -> None:
        """Show `text` in a message posted before (on an append-only surface `text` extends what was shown)."""

    async def abort(self, handles: list[Any]) -> None:
        """The turn ended without finishing (cancelled, crashed): close what is open, marked as cut off."""

    async def think(self, handle: Any, thought: Thought) -> Any:
        """Show a reasoning model's thinking apart from the answer (core.delivery.thinking): a message of its own
        when `handle` is None, else that one updated; at most as much of it as the platform takes
        (`thought.tail`). Returns the handle to update next time."""

    async def tool(self, handle: Any, activity: ToolActivity) -> Any:
        """Show a tool call of the reply (core.delivery.tools: `tool_line` is the text to start from): a message of
        its own when `handle` is None, else that one updated to the call's latest state. `activity.args` is
        already a masked summary, and it comes from a model: escape it for the platform's markup so it can neither
        mention anyone nor break the formatting. Returns the handle to update next time."""


class Silent:
    """A surface that shows nothing: for callers that only read the outcome (a command whose replies decide
    what happens next)."""

    limit = 1_000_000_000
    interval = 0.0
    first_delay = 0.0
    appends_only = False

    async def typing(self) -> None:
        return None

    async def show(self, reply: Reply) -> None:
        return None

    async def notice(self, text: str) -> None:
        return None

    def tail_text(self, tail: Tail) -> str:
        return ""

    async def post(self, text: str, *, final: bool, tail: Tail | None) -> None:
        return None

    async def edit(self, handle: Any, text: str, *, final: bool, tail: Tail | None) -> None:
        return None

    async def abort(self, handles: list[Any]) -> None:
        return None

    async def think(self, handle: Any, thought: Thought) -> None:
        return None

    async def tool(self, handle: Any, activity: ToolActivity) -> None:
        return None
