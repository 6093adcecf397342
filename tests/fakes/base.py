"""A loopback aiohttp server on its own thread, the base of every fake in tests/fakes.

It runs in a thread with its own event loop so that sync code (the CLI in a subprocess, Streamlit) and async
code (the test's loop) can both talk to it. Every request is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    extra: dict[str, Any] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class FakeServer:
    """Subclass and implement `routes(app)`. Use as a context manager or call start()/stop()."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    # -- to implement
    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    # -- helpers for subclasses
    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        with self._lock:
            self.requests.append(
                Recorded(request.method, request.path, dict(request.headers), dict(request.query), body)
            )
        return await handler(request)

    def calls(self, path: str | None = None, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r for r in self.requests if (path is None or r.path == path) and (method is None or r.method == method)
            ]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle
    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application(middlewares=[self._record], client_max_size=64 * 1024 * 1024)
        self.routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, self.host, self.port or 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def call_in_loop(self, fn: Any, *args: Any) -> None:
        """Run fn(*args) on the server's loop (for state that handlers also touch)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)
