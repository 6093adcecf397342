"""Keep this process's Slack calls inside Slack's documented rate limits, so a burst of replies gets no 429s.

Slack limits each Web API method per app and workspace over a minute (docs.slack.dev, "Rate limits", and each
method's page): chat.update is Tier 3 (50 a minute), chat.postEphemeral and chat.appendStream Tier 4 (100),
chat.stopStream Tier 2 (20), and chat.postMessage allows about one message per second per channel.
chat.startStream's tier is not published where we looked; it is held to Tier 2 like chat.stopStream, since every
stream started must be stopped. Edits of one message are already paced by the reply stream (one a second), but a
hundred replies streaming at once in one workspace would still ask for a hundred edits a second.

Each limit is a sliding window, counted the way Slack counts, except that a call is stamped when its answer
arrives: Slack counts it on arrival, which is earlier, so however the network or a busy loop delays calls they
cannot reach Slack closer together than the window allows. A call under way counts until it ends.

Calls that matter wait for room: a first post, a final edit (the whole answer with its footer), the end of a
stream, an ephemeral answer. A progress edit (more text of a reply still streaming) never waits: it is skipped
when progress edits already fill their share of the window, and the next edit, or the final one, shows the text
it would have shown. A reply starts a Slack stream only while chat.startStream has room, else it is posted and
edited. So a busy workspace sees its replies update less often, and every answer still arrives whole.

The windows are this process's. Several workers answering one workspace share Slack's limit: give each its part
with SWITCHBOARD_SLACK_UPDATES_PER_MINUTE; a 429 that still arrives is waited out (core.delivery's Later).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

from core.settings import get_settings

PROGRESS_SHARE = 0.6  # the part of a window progress edits may use; the rest is kept for answers to finish
POLL_S = 0.05  # how often a caller looks again while the window is full of calls still under way


@dataclass(frozen=True)
class Limit:
    calls: int
    seconds: float
    per_channel: bool = False


def limits() -> dict[str, Limit]:
    return {
        "chat.postMessage": Limit(1, 1.0, per_channel=True),
        "chat.update": Limit(max(1, get_settings().slack_updates_per_minute), 60.0),
        "chat.postEphemeral": Limit(100, 60.0),
        "chat.startStream": Limit(20, 60.0),
        "chat.appendStream": Limit(100, 60.0),
        "chat.stopStream": Limit(20, 60.0),
    }


class Window:
    """One method's calls in the last `seconds`: when each ended (monotonic), and how many are under way."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.ended: deque[float] = deque()
        self.under_way = 0

    def wait(self, now: float, allowed: int) -> float:
        """Seconds until a call fits with fewer than `allowed` calls in the window (0: now)."""
        while self.ended and now - self.ended[0] >= self.limit.seconds:
            self.ended.popleft()
        excess = len(self.ended) + self.under_way - allowed
        if excess < 0:
            return 0.0
        if excess >= len(self.ended):
            return POLL_S  # room comes back only when a call under way ends
        return self.ended[excess] + self.limit.seconds - now


class Slot:
    """A call being made: counted in its window from now, and stamped when it ends (use it as `with`)."""

    def __init__(self, window: Window | None) -> None:
        self.window = window
        if window is not None:
            window.under_way += 1

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.window is not None:
            self.window.under_way -= 1
            self.window.ended.append(time.monotonic())
            self.window = None


_windows: dict[tuple[str, str, str], Window] = {}


def _window(workspace: str, method: str, channel: str) -> Window | None:
    limit = limits().get(method)
    if limit is None:
        return None
    key = (workspace, method, channel if limit.per_channel else "")
    window = _windows.get(key)
    if window is None or window.limit != limit:
        window = _windows[key] = Window(limit)
    return window


async def slot(workspace: str, method: str, channel: str = "") -> Slot:
    """Wait until `method` may be called in `workspace` (and `channel`) without going over Slack's limit."""
    window = _window(workspace, method, channel)
    if window is not None:
        # Room comes back with time (calls leaving the window), so sleeping until then is the wait.
        while (delay := window.wait(time.monotonic(), window.limit.calls)) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)
    return Slot(window)


def try_slot(workspace: str, method: str, channel: str = "", *, share: float = 1.0) -> Slot | None:
    """Room for a call that may be skipped, if calls fill less than `share` of the window now; else None."""
    window = _window(workspace, method, channel)
    if window is not None and window.wait(time.monotonic(), max(1, int(window.limit.calls * share))) > 0:
        return None
    return Slot(window)


def forget() -> None:
    """Start every window empty (tests that reuse one fake workspace)."""
    _windows.clear()
