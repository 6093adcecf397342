"""The reply driver's streaming, on a recording surface: pacing, coalescing, splitting, append-only surfaces,
platform rate limits and the tail. No platform here; the adapters' own tests cover their surfaces."""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time

import pytest

from core.delivery.stream import EMPTY_REPLY, ReplyStream
from core.delivery.surface import Tail
from tests.recording_surface import RecordingSurface


def words(text: str) -> list[str]:
    """What a reader gets, whatever the boundaries: the words, without the fences a split adds."""
    return re.sub(r"(```|~~~)[\w+#.-]*", " ", text).split()


async def trickle(stream: ReplyStream, text: str, pieces: int, seconds: float) -> None:
    step = max(1, len(text) // pieces)
    for i in range(0, len(text), step):
        stream.add(text[i : i + step])
        await asyncio.sleep(seconds / pieces)


async def test_edits_of_one_message_keep_their_distance_and_coalesce() -> None:
    surface = RecordingSurface(interval=0.2, write_seconds=0.02)
    stream = ReplyStream(surface)
    text = "word " * 200
    await trickle(stream, text, pieces=100, seconds=1.0)
    await stream.finish(Tail("model-x · 10 tokens"))

    writes = surface.writes_to(1)
    assert len(surface.pieces) == 1 and surface.pieces[0].text == text
    assert 3 <= len(writes) <= 9  # 100 deltas over a second at one write per 0.2 s, not 100 writes
    gaps = [b.at - a.at for a, b in itertools.pairwise(writes)]
    assert min(gaps) >= 0.2 + 0.02 - 0.01  # measured from when the previous write ended
    assert writes[-1].final and writes[-1].tail == Tail("model-x · 10 tokens")
    assert not any(w.final for w in writes[:-1])


async def test_a_reply_done_before_the_first_delay_goes_out_in_one_call() -> None:
    surface = RecordingSurface(first_delay=0.3)
    stream = ReplyStream(surface)
    stream.add("Short answer.")
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await stream.finish(Tail("footer"))
    assert [(w.text, w.final) for w in surface.writes] == [("Short answer.", True)]
    assert time.monotonic() - started < 0.2  # finishing does not sit out the rest of the first delay


@pytest.mark.parametrize("append_only", [False, True])
async def test_long_replies_split_at_markdown_boundaries_and_finished_pieces_never_change(append_only: bool) -> None:
    rng = random.Random(7)
    blocks = []
    for i in range(12):
        if i % 3 == 1:
            blocks.append("```python\n" + "\n".join(f"x_{j} = {j} * {rng.randint(1, 99)}" for j in range(40)) + "\n```")
        else:
            blocks.append(" ".join(rng.choice(["alpha", "beta", "gamma", "**delta**"]) for _ in range(90)))
    text = "\n\n".join(blocks)
    surface = RecordingSurface(limit=600, interval=0.01, append_only=append_only)
    stream = ReplyStream(surface)
    await trickle(stream, text, pieces=300, seconds=0.6)
    await stream.finish(Tail("the footer"))

    pieces = surface.pieces
    assert len(pieces) >= 6
    assert all(p.final and len(p.text) <= 600 for p in pieces)
    assert all(len(re.findall(r"^```", p.text, re.M)) % 2 == 0 for p in pieces)  # no fence left open
    assert words("\n".join(p.text for p in pieces)) == words(text)
    assert [p.tail for p in pieces] == [None] * (len(pieces) - 1) + [Tail("the footer")]
    for handle in range(1, len(pieces) + 1):
        writes = surface.writes_to(handle)
        assert [w.final for w in writes].count(True) == 1 and writes[-1].final  # closed once, then left alone
        if append_only:  # nothing shown is ever taken back
            assert all(b.text.startswith(a.text) for a, b in itertools.pairwise(writes))


async def test_the_preview_closes_an_open_code_fence_where_text_can_change() -> None:
    surface = RecordingSurface(interval=0.05)
    stream = ReplyStream(surface)
    stream.add("Here:\n```sql\nSELECT 1")
    await asyncio.sleep(0.1)
    assert surface.writes[-1].text == "Here:\n```sql\nSELECT 1\n```"
    stream.add(";\n```\nDone.")
    await stream.finish(Tail("f"))
    assert surface.pieces[0].text == "Here:\n```sql\nSELECT 1;\n```\nDone."


async def test_a_rate_limited_edit_waits_as_asked_and_loses_nothing() -> None:
    surface = RecordingSurface(interval=0.05, later_once=0.4)
    stream = ReplyStream(surface)
    stream.add("one ")
    await asyncio.sleep(0.1)
    stream.add("two ")
    await asyncio.sleep(0.05)
    stream.add("three")
    await stream.finish(Tail("f"))
    writes = surface.writes_to(1)
    assert writes[-1].text == "one two three" and writes[-1].final
    assert writes[1].at - writes[0].at >= 0.4


async def test_the_footer_counts_against_the_limit_where_it_is_text() -> None:
    surface = RecordingSurface(limit=100, interval=0.01, tail_as_text=True)
    stream = ReplyStream(surface)
    stream.add("x " * 45)  # 90 characters: the footer no longer fits beside them
    await stream.finish(Tail("model-x · 12 tokens · $0.0001", notices=("older turns left out",)))
    pieces = surface.pieces
    assert len(pieces) == 2 and all(len(p.text) <= 100 for p in pieces)
    assert pieces[-1].text.endswith("-# note: older turns left out\n-# model-x · 12 tokens · $0.0001")


async def test_an_empty_reply_says_so() -> None:
    surface = RecordingSurface()
    stream = ReplyStream(surface)
    stream.add("  ")
    await stream.finish(Tail("f"))
    assert [p.text for p in surface.pieces] == [EMPTY_REPLY]


async def test_abort_closes_what_is_open() -> None:
    surface = RecordingSurface(interval=0.01, append_only=True)
    stream = ReplyStream(surface)
    stream.add("partial answer")
    await asyncio.sleep(0.05)
    await stream.abort()
    assert surface.aborted == [1]
