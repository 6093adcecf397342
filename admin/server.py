"""The admin's web server: Streamlit's own ASGI app (`st.App`) running admin/app.py, plus the session-cookie route
Streamlit's websocket cannot offer (admin/cookie.py), and the first-run link.

`switchboard admin` runs `streamlit run admin/server.py`; Streamlit finds `app` below and serves it. At startup,
while no admin account exists, the console gets a one-time link that creates the first one (the way Jupyter
prints its login link): only the link's hash is stored, and it works once (core.admins.new_setup_token).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from admin import cookie
from core import admins

log = logging.getLogger("switchboard.admin")


def first_run_message() -> str | None:
    """While no admin account exists: what to open to create one (a fresh one-time link), else None."""
    token = admins.new_setup_token()
    if token is None:
        return None
    return (
        "\n  No admin account exists yet. To create one, open this link (it works once, for "
        f"{admins.SETUP_TOKEN_HOURS:g} hours):\n\n    {cookie.public_url()}?setup={token}\n"
    )


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    try:
        message = await run_in_threadpool(first_run_message)
    except Exception as exc:  # the app still serves; its login page says what to do
        log.error("could not make the first-run link: %s", type(exc).__name__)
        message = None
    if message:
        print(message, flush=True)  # the operator's own console; never the log
    yield


def _stopped(_signum: int, _frame: Any) -> None:
    """SIGTERM once uvicorn has shut the server down: it hands the signal back to the handler it found, and the
    default one would end the process as killed. A stop that was asked for ends with exit code 0."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if threading.current_thread() is threading.main_thread():
    # `switchboard up`, systemd and container platforms stop the admin with SIGTERM; uvicorn (under st.App) shuts
    # down gracefully on it, then raises it again for this handler.
    signal.signal(signal.SIGTERM, _stopped)

app = st.App(
    Path(__file__).with_name("app.py"),
    routes=[Route(cookie.route_path(), cookie.route, methods=["POST", "DELETE"])],
    lifespan=lifespan,
)
