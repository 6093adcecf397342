"""Run an ASGI app (bolt's `AsyncSlackRequestHandler`) under uvicorn on a thread, for SlackSender."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


class AsgiServer:
    """Serve an ASGI app with uvicorn on its own thread and loop at 127.0.0.1 (random port).

    Mirrors production HTTP mode: bolt's `AsyncSlackRequestHandler(app)` under uvicorn.
    """

    def __init__(self, asgi_app: Any, *, log_level: str = "warning") -> None:
        import uvicorn

        self._config = uvicorn.Config(asgi_app, lifespan="on", log_level=log_level, access_log=False)
        self._server = uvicorn.Server(self._config)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AsgiServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="AsgiServer", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._sock.close()

    def __enter__(self) -> AsgiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
