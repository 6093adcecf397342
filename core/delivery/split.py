"""Cut long Markdown into pieces that fit a chat platform's message limit.

Pieces end at a paragraph break when there is one, else at a line break, else between words; a code fence is
never left open: when a cut has to fall inside one, the piece closes the fence and the next piece reopens it
with the same info string, so every piece renders on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESERVE = 8  # room kept under the limit for the fence closer a cut may add
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


@dataclass(frozen=True)
class Cut:
    """Where the first piece of a text ends.

    `head` is the piece to show (fences balanced); the remainder is `reopen + text[rest:]`.
    """

    head: str
    rest: int
    reopen: str = ""


@dataclass(frozen=True)
class _LineEnd:
    at: int  # index just after the line's newline
    blank: bool  # the line that ends here is empty (a paragraph break)
    fence: str | None  # the opening line of the fence still open after this line, if any


def _line_ends(text: str, upto: int) -> list[_LineEnd]:
    ends: list[_LineEnd] = []
    fence: str | None = None
    marker = ""
    pos = 0
    while pos < upto:
        nl = text.find("\n", pos)
        if nl == -1 or nl >= upto:
            break
        line = text[pos:nl]
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence, marker = line.strip(), m.group(1)
            elif m.group(1).startswith(marker[0]) and len(m.group(1)) >= len(marker) and not m.group(2).strip():
                fence, marker = None, ""
        ends.append(_LineEnd(nl + 1, not line.strip(), fence))
        pos = nl + 1
    return ends


def _fence_at(text: str, index: int) -> str | None:
    """The opening line of the fence that is open at `index` (mid-line cuts), if any."""
    ends = _line_ends(text, index)
    return ends[-1].fence if ends else None


def _closer(fence: str) -> str:
    m = _FENCE.match(fence)
    return m.group(1) if m else "```"


def cut(text: str, limit: int, *, min_cut: int = 0) -> Cut:
    """The first piece of `text` (longer than `limit`), at least `min_cut` characters long.

    The head is at most `limit` characters. Prefers, in order: a paragraph break outside code, a line break
    outside code, a line break inside code (closing and reopening the fence), a space, a hard cut.
    """
    window = max(1, limit - RESERVE)
    floor = min(window, max(min_cut, 1, window // 3))
    ends = [e for e in _line_ends(text, window + 1) if floor <= e.at <= window]
    for pick in (
        lambda e: e.blank and e.fence is None,
        lambda e: e.fence is None,
    ):
        found = [e for e in ends if pick(e)]
        if found:
            end = found[-1].at
            rest = end
            while rest < len(text) and text[rest] == "\n":
                rest += 1
            return Cut(text[:end], rest)
    inside = [e for e in ends if e.fence is not None]
    if inside:
        e = inside[-1]
        assert e.fence is not None
        return Cut(text[: e.at] + _closer(e.fence), e.at, e.fence + "\n")
    space = text.rfind(" ", floor, window + 1)
    end = space + 1 if space >= floor else window
    fence = _fence_at(text, end)
    if fence is not None:
        return Cut(text[:end] + "\n" + _closer(fence), end, fence + "\n")
    return Cut(text[:end], end)


def split(text: str, limit: int) -> list[str]:
    """`text` as pieces of at most `limit` characters (see `cut`), trailing whitespace trimmed."""
    pieces: list[str] = []
    rest, reopened = text, 0
    while len(rest) > limit:
        c = cut(rest, limit, min_cut=reopened + 1)
        pieces.append(c.head.rstrip())
        rest, reopened = c.reopen + rest[c.rest :], len(c.reopen)
    if rest.strip() or not pieces:
        pieces.append(rest.rstrip("\n") if pieces else rest)
    return pieces


def open_fence(text: str) -> str | None:
    """The closer (``` or ~~~) for a code fence still open at the end of `text`, counting a last unfinished line."""
    ends = _line_ends(text + "\n", len(text) + 1)
    fence = ends[-1].fence if ends else None
    return _closer(fence) if fence is not None else None
