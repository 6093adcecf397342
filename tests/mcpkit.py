"""The loopback MCP server (tests/fakes/mcp_server.py) for tests: its stdio command line, and its streamable HTTP
form as a subprocess on a free port, waited for until it answers, which a test can stop and start again."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from tests.helpers import closed_port

FAKE = Path(__file__).resolve().parent / "fakes" / "mcp_server.py"


def stdio_command(log: Path | None = None) -> str:
    """The command line that runs the fake over stdio. By its path, not `-m tests.fakes.mcp_server`: the client
    starts it with a minimal environment from wherever the test runs, where `tests` is not importable."""
    return shlex.join([sys.executable, str(FAKE), "stdio", *(["--log", str(log)] if log else [])])


def alive(pid: int) -> bool:
    """Whether a process (a server the client started) is still running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class HttpMcp:
    """`with HttpMcp(token="t") as server:` the fake over streamable HTTP at `server.url` (127.0.0.1)."""

    def __init__(self, *, token: str | None = None, log: Path | None = None, port: int | None = None) -> None:
        self.token, self.log = token, log
        self.port = port or closed_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self, wait_s: float = 30.0) -> HttpMcp:
        argv = [sys.executable, str(FAKE), "http", "--port", str(self.port)]
        argv += ["--token", self.token] if self.token else []
        argv += ["--log", str(self.log)] if self.log else []
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the fake MCP server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the fake MCP server did not listen on port {self.port} within {wait_s:g} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> HttpMcp:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
