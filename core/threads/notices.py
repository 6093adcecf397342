"""Notices a thread is told without waiting for its next message (a reply interrupted by a dead process).

Each chat bot process runs a `NoticeDelivery` for its platform: every SWITCHBOARD_NOTICE_POLL_SECONDS it lists
the threads with a pending notice, claims each with `take_notice` (atomic: one process, or the thread's next
message, gets it) and posts it. A notice that could not be posted is put back, and tried again later with a
growing pause; meanwhile the thread's next message still shows it first. A workspace the process cannot post in
is left alone, unclaimed, for a process (or a message) that can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from core.settings import get_settings
from core.threads import conversations
from core.threads.conversations import PendingNotice as PendingNotice  # what Post receives: adapters take it from here

log = logging.getLogger(__name__)

Post = Callable[[PendingNotice, str], Awaitable[None]]  # show the text in the notice's thread; raise on failure
PosterFor = Callable[[str], Awaitable[Post | None]]  # how to post in a workspace; None: not from this process
BATCH = 50
RETRY_MAX_S = 3600.0
STOP_WAIT_S = 5.0


class NoticeDelivery:
    """Posts `platform`'s pending notices from this process, until stopped."""

    def __init__(self, platform: str, poster_for: PosterFor, *, interval: float | None = None) -> None:
        self.platform = platform
        self.interval = interval if interval is not None else get_settings().notice_poll_s
        self._poster_for = poster_for
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._retry_at: dict[int, tuple[float, float]] = {}  # conversation id -> (when, pause after that)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.platform}-notices")

    async def stop(self) -> None:
        """Finish the notice being posted (a few seconds at most), then stop."""
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, STOP_WAIT_S)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.deliver_pending()
            except Exception:
                log.exception("delivering %s notices failed; trying again in %.3g s", self.platform, self.interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    async def deliver_pending(self) -> int:
        """One pass over every pending notice of the platform, `BATCH` at a time. Returns how many were posted."""
        posters: dict[str, Post | None] = {}
        posted, after = 0, 0
        while not self._stop.is_set():
            page = await asyncio.to_thread(conversations.pending_notices, self.platform, after=after, limit=BATCH)
            for notice in page:
                if self._stop.is_set():
                    break
                if self._retry_at.get(notice.conversation_id, (0.0, 0.0))[0] > time.monotonic():
                    continue
                if notice.workspace not in posters:
                    posters[notice.workspace] = await self._poster_for(notice.workspace)
                post = posters[notice.workspace]
                if post is not None and await self._deliver(notice, post):
                    posted += 1
            if len(page) < BATCH:
                break
            after = page[-1].conversation_id
        return posted

    async def _deliver(self, notice: PendingNotice, post: Post) -> bool:
        text = await asyncio.to_thread(conversations.take_notice, notice.conversation_id)
        if text is None:
            return False  # another process, or the thread's next message, took it
        try:
            await post(notice, text)
        except Exception as exc:
            await asyncio.to_thread(conversations.restore_notice, notice.conversation_id, text)
            pause = self._retry_later(notice.conversation_id)
            log.warning(
                "could not post the notice of %s conversation %d (workspace %s): %s; kept, next try in %.3g s",
                self.platform,
                notice.conversation_id,
                notice.workspace,
                _describe(exc),
                pause,
            )
            return False
        except BaseException:  # cancelled mid-post at shutdown: being told twice beats never being told
            conversations.restore_notice(notice.conversation_id, text)
            raise
        self._retry_at.pop(notice.conversation_id, None)
        return True

    def _retry_later(self, conversation_id: int) -> float:
        _, previous = self._retry_at.get(conversation_id, (0.0, 0.0))
        pause = min(RETRY_MAX_S, max(self.interval, previous * 2))
        self._retry_at[conversation_id] = (time.monotonic() + pause, pause)
        return pause


def _describe(exc: Exception) -> str:
    """The failure in one line for the log: the platform's error, never a request with its token."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
