"""Work running after Slack's ack: kept referenced while it runs, logged with its traceback when it fails, and
waited for at shutdown so a deploy does not cut replies off mid-stream."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

log = logging.getLogger(__name__)
P = ParamSpec("P")
_running: set[asyncio.Task[Any]] = set()


def tracked(fn: Callable[P, Awaitable[None]]) -> Callable[P, Awaitable[None]]:
    """Wrap a lazy listener (bolt still sees its parameters: it unwraps)."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> None:
        task = asyncio.current_task()
        if task is not None:
            _running.add(task)
        try:
            await fn(*args, **kwargs)
        except Exception:
            log.exception("slack listener %s failed", fn.__name__)
        finally:
            if task is not None:
                _running.discard(task)

    return run


def running() -> int:
    return len(_running)


async def drain(timeout: float) -> int:
    """Wait up to `timeout` seconds for running work; cancel what is left (the core then stores it as
    interrupted). Returns how many were cancelled."""
    pending = {t for t in _running if not t.done() and t is not asyncio.current_task()}
    if not pending:
        return 0
    log.info("waiting for %d replies in progress", len(pending))
    _, late = await asyncio.wait(pending, timeout=timeout)
    for task in late:
        task.cancel()
    if late:
        await asyncio.wait(late, timeout=5)
    return len(late)
