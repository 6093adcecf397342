"""Small helpers shared by tests."""

from __future__ import annotations

import signal
import socket


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sigint_as_in_a_terminal() -> None:
    """`preexec_fn` for a child a test will stop with Ctrl-C (SIGINT): a child inherits an ignored SIGINT from
    whatever started pytest (a background job, nohup), and would then never see it. A terminal's Ctrl-C reaches
    a process that has not chosen to ignore it, so the child starts with SIGINT at its default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
