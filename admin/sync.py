"""The one bridge from Streamlit's synchronous scripts to the async core.

Core functions that talk to providers or Ollama are coroutines. Pages call them through `run(...)`, which runs
the coroutine on a private event loop living on a daemon thread for the life of the process (so clients and
background tasks survive script reruns), or start long work with `spawn(...)` and read its progress from the
database later. There are no hand-written sync twins of core functions.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_running: set[concurrent.futures.Future[Any]] = set()


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=serve, name="admin-async", daemon=True).start()
            ready.wait(10)
            _loop = loop
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: float | None = 120.0) -> T:
    """Run `coro` on the admin's event loop and return its result (its exception is raised here)."""
    future = asyncio.run_coroutine_threadsafe(coro, _get_loop())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


def spawn(coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
    """Start `coro` in the background and return at once (e.g. a pull job whose progress is in the database)."""
    future = asyncio.run_coroutine_threadsafe(coro, _get_loop())
    _running.add(future)
    future.add_done_callback(_running.discard)
    return future
