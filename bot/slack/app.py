"""Wiring: the bolt AsyncApp (one workspace's bot token, or OAuth for many) and the `switchboard slack` process.

- Socket Mode (SWITCHBOARD_SLACK_MODE=socket): one process, no public URL; needs SLACK_APP_TOKEN.
- HTTP (SWITCHBOARD_SLACK_MODE=http): an ASGI app under uvicorn on PORT serving POST /slack/events (signature
  checked), GET /slack/install + /slack/oauth_redirect with OAuth, and GET /healthz for load balancers. Any
  number of workers and hosts can run behind a load balancer: all state is in the database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import handlers, inflight, install, notices
from core import runtime
from core.logs import configure_logging, register_secret
from core.runtime import connect_database, prepare_worker
from core.settings import Settings, get_settings

log = logging.getLogger("switchboard.slack")
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
RATE_LIMIT_RETRIES = 3
DRAIN_S = 25.0  # at shutdown, how long replies in progress may take to finish
APP_NAME = "app.py"  # bolt's name for the app (its loggers)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def uses_oauth(settings: Settings) -> bool:
    return bool(settings.slack_client_id)


def _secret(value: Any) -> str | None:
    text = value.get_secret_value() if value is not None else None
    register_secret(text)
    return text or None


def web_client(settings: Settings) -> AsyncWebClient:
    """The Web API client every request's client is copied from: SLACK_API_URL, and 429s retried after the
    Retry-After Slack sends (plus jitter)."""
    token = None if uses_oauth(settings) else _secret(settings.slack_bot_token)
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_app(settings: Settings | None = None) -> AsyncApp:
    """The bolt app with every listener; OAuth when SLACK_CLIENT_ID is set, else the single bot token."""
    settings = settings or get_settings()
    signing_secret = _secret(settings.slack_signing_secret)
    _secret(settings.slack_client_secret)
    # `name` is what bolt would work out itself (this file's name) with inspect.stack(), which reads the source
    # of every frame on the stack: 0.3-0.5 s of each bot's startup
    if uses_oauth(settings):
        app = AsyncApp(
            name=APP_NAME,
            signing_secret=signing_secret,
            client=web_client(settings),
            oauth_settings=install.oauth_settings(settings),
            installation_store_bot_only=True,
        )
        app.enable_token_revocation_listeners()
    else:
        app = AsyncApp(name=APP_NAME, signing_secret=signing_secret, client=web_client(settings))
    handlers.register(app, oauth=uses_oauth(settings))
    return app


class SlackAsgi:
    """bolt's ASGI handler, plus a health check for load balancers and a shutdown that lets replies in
    progress finish (uvicorn stops taking requests first)."""

    def __init__(self, app: AsyncApp) -> None:
        self.bolt = AsyncSlackRequestHandler(app, path=EVENTS_PATH)
        self.notices = notices.delivery(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == HEALTH_PATH:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await self.bolt(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.notices.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.notices.stop()
                await inflight.drain(DRAIN_S)
                await runtime.release()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_asgi_app() -> SlackAsgi:
    """The HTTP-mode ASGI app: migrates the database, then serves."""
    connect_database()
    return SlackAsgi(build_app())


def serve_asgi_app() -> SlackAsgi:
    """The uvicorn factory, run in each worker process: the app, then the worker set up for serving."""
    app = create_asgi_app()
    prepare_worker()
    return app


def config_problems(settings: Settings) -> list[str]:
    """What is missing to start in the configured mode, in words an operator can act on."""
    problems = []
    if not (settings.slack_bot_token or uses_oauth(settings)):
        problems.append("Set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET (OAuth).")
    if uses_oauth(settings) and not settings.slack_client_secret:
        problems.append("OAuth needs SLACK_CLIENT_SECRET as well as SLACK_CLIENT_ID.")
    if settings.slack_mode == "http" and not settings.slack_signing_secret:
        problems.append("HTTP mode needs SLACK_SIGNING_SECRET to check that requests come from Slack.")
    if settings.slack_mode == "socket" and not settings.slack_app_token:
        problems.append(
            "Socket Mode needs SLACK_APP_TOKEN (an app-level token, xapp-...), or set SWITCHBOARD_SLACK_MODE=http."
        )
    if settings.slack_mode == "socket" and uses_oauth(settings):
        problems.append("OAuth installs need the HTTP endpoints: set SWITCHBOARD_SLACK_MODE=http (see README 'Slack').")
    return problems


async def run_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    connect_database()
    app = build_app(settings)
    handler = AsyncSocketModeHandler(app, _secret(settings.slack_app_token))
    prepare_worker()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("Slack bot connected in Socket Mode")
    delivery = notices.delivery(app)
    delivery.start()
    await stop.wait()
    await delivery.stop()
    await handler.close_async()  # type: ignore[no-untyped-call]
    await inflight.drain(DRAIN_S)
    await runtime.release()


def _exit_cleanly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def main() -> None:
    """`switchboard slack`: run the bot in the configured mode."""
    settings = get_settings()
    configure_logging(settings.log_level)
    problems = config_problems(settings)
    if problems:
        sys.stderr.write("Cannot start the Slack bot:\n" + "".join(f"  - {p}\n" for p in problems))
        sys.stderr.write("See README 'Slack' for creating the app from manifest.yml.\n")
        raise SystemExit(2)
    if settings.slack_mode == "socket":
        asyncio.run(run_socket_mode(settings))
        return
    import uvicorn

    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then raises the signal again to die of it; exit 0 instead
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit_cleanly)
    log.info("Slack bot serving %s on %s:%s", EVENTS_PATH, settings.slack_host, settings.port)
    uvicorn.run(
        "bot.slack.app:serve_asgi_app",
        factory=True,
        host=settings.slack_host,
        port=settings.port,
        workers=settings.slack_workers,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
