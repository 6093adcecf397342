"""Switchboard's Slack app in production HTTP mode, driven like Slack drives it.

`serve()` starts the real app (bolt's ASGI handler under uvicorn on loopback, `SWITCHBOARD_SLACK_MODE=http`)
with its Web API client pointed at a `FakeSlack` (SLACK_API_URL). A `Bot` sends what Slack would send when a
user does something (signed Events API, slash command and interactivity requests) and reads what Slack saw.
The models behind it are `tests.chatkit`'s loopback OpenAI fakes, reached through the real litellm.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web
from sqlmodel import col, select

from core.settings import reload_settings
from core.storage.db import session
from core.storage.tables import Message as StoredMessage
from tests.fakes.slack import AsgiServer, FakeSlack, Message, SlackSender, Workspace

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0GENERAL01"
ADA = "U0USER00001"


async def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll until predicate() is truthy: the app answers after it has acked."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout} s")


def install(client_id: str, ws: Workspace) -> None:
    """Store `ws` as installed through OAuth (what completing /slack/install leaves behind), by bolt's store."""
    from slack_sdk.oauth.installation_store.models.installation import Installation

    from bot.slack.install import SecretInstallationStore
    from core.storage.db import get_engine

    SecretInstallationStore(client_id=client_id, engine=get_engine()).save(
        Installation(
            app_id=ws.app_id,
            team_id=ws.team_id,
            bot_token=ws.token,
            bot_id=ws.bot_id,
            bot_user_id=ws.bot_user_id,
            bot_scopes=ws.scopes,
            user_id="U0INSTALLER",
        )
    )


def footer_of(message: Message) -> str:
    """The text of a bot message's footer context block ('' when it has none)."""
    for block in message.blocks or []:
        if block.get("type") == "context":
            texts = [e.get("text", "") for e in block.get("elements", [])]
            if texts and " tokens · " in texts[0]:
                return str(texts[0])
    return ""


def block_of(message: Message, kind: str) -> list[dict[str, Any]]:
    return [b for b in message.blocks or [] if b.get("type") == kind]


def stored(role: str | None = None) -> list[StoredMessage]:
    """Messages the core stored, oldest first."""
    with session() as s:
        stmt = select(StoredMessage).order_by(col(StoredMessage.id))
        if role:
            stmt = stmt.where(StoredMessage.role == role)
        return list(s.exec(stmt).all())


class FakeSlackOAuth(FakeSlack):
    """FakeSlack that also answers oauth.v2.access: `grant(code, workspace)` makes `code` install `workspace`.

    oauth.v2.access authenticates with the app's client id and secret rather than a token, so it is answered
    before the token check every other method gets.
    """

    def __init__(self, workspaces: list[Workspace] | None = None) -> None:
        super().__init__(workspaces)
        self.grants: dict[str, Workspace] = {}

    def grant(self, code: str, workspace: Workspace) -> None:
        self.grants[code] = workspace

    def _handle(self, call: Any, ws: Workspace | None) -> tuple[int, dict[str, str], dict[str, Any]]:
        if call.method != "oauth.v2.access":
            return super()._handle(call, ws)
        granted = self.grants.pop(str(call.params.get("code")), None)
        if granted is None:
            return 200, {}, {"ok": False, "error": "invalid_code"}
        self.add_workspace(granted)
        return (
            200,
            {},
            {
                "ok": True,
                "access_token": granted.token,
                "token_type": "bot",
                "scope": granted.scopes,
                "bot_user_id": granted.bot_user_id,
                "app_id": granted.app_id,
                "team": {"id": granted.team_id, "name": granted.team},
                "enterprise": None,
                "is_enterprise_install": False,
                "authed_user": {"id": "U0INSTALLER"},
            },
        )


class FakeSlackSocket(FakeSlack):
    """FakeSlack with Socket Mode: apps.connections.open hands out a loopback websocket on which `deliver`
    pushes Events API envelopes the way Slack does, and the app's acks are recorded in `acks`."""

    def __init__(self, workspaces: list[Workspace] | None = None) -> None:
        super().__init__(workspaces)
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: list[str] = []

    def routes(self, app: web.Application) -> None:
        super().routes(app)
        app.router.add_get("/socket", self._socket)

    def _handle(self, call: Any, ws: Workspace | None) -> tuple[int, dict[str, str], dict[str, Any]]:
        if call.method != "apps.connections.open":
            return super()._handle(call, ws)
        if not str(call.token or "").startswith("xapp-"):
            return 200, {}, {"ok": False, "error": "not_allowed_token_type"}
        return 200, {}, {"ok": True, "url": f"ws://{self.host}:{self.port}/socket"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        self.sockets.append(sock)
        await sock.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP000001"}})
        async for frame in sock:
            if frame.type == WSMsgType.TEXT:
                self.acks.append(json.loads(frame.data).get("envelope_id", ""))
        return sock

    def deliver(self, envelope: dict[str, Any]) -> str:
        """Push an Events API envelope to the connected app; returns its envelope id."""
        envelope_id = str(uuid.uuid4())
        frame = {
            "envelope_id": envelope_id,
            "type": "events_api",
            "payload": envelope,
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        sock = self.sockets[-1]
        self.call_in_loop(lambda: asyncio.ensure_future(sock.send_json(frame)))
        return envelope_id


@dataclass
class Bot:
    """The running app, and ada (in #general of the first workspace) talking to it."""

    fake: FakeSlack
    url: str
    ada: SlackSender

    def person(
        self, user: str, name: str, *, workspace: Workspace | None = None, channel: str = CHANNEL
    ) -> SlackSender:
        """Someone else (possibly in another workspace) talking to the same app."""
        return SlackSender(
            self.url, SECRET, fake=self.fake, workspace=workspace, user_id=user, user_name=name, channel_id=channel
        )

    async def mention(self, text: str, *, by: SlackSender | None = None, **kw: Any) -> dict[str, Any]:
        """`@switchboard text` in a channel. Like Slack, sends `app_mention` and `message` for it."""
        by = by or self.ada
        event = by.app_mention(text, **kw)
        resp = await by.send_event(event)
        assert resp.status == 200, resp.text
        assert resp.elapsed < 3.0, f"acked after {resp.elapsed:.2f} s"
        plain = by.message(event["text"], ts=event["ts"], channel=event["channel"], thread_ts=kw.get("thread_ts"))
        assert (await by.send_event(plain)).status == 200
        return event

    async def say(self, text: str, *, by: SlackSender | None = None, **kw: Any) -> dict[str, Any]:
        """A plain message (no mention): in a thread with `thread_ts=`, in a DM with `channel="D..."`."""
        by = by or self.ada
        event = by.message(text, **kw)
        resp = await by.send_event(event)
        assert resp.status == 200 and resp.elapsed < 3.0, (resp.status, resp.elapsed)
        return event

    async def deliver(self, event: dict[str, Any], *, by: SlackSender | None = None) -> dict[str, Any]:
        """Send `event` in an Events API envelope, as Slack does; returns the envelope (for `redeliver`)."""
        by = by or self.ada
        envelope = by.envelope(event)
        resp = await by.send_envelope(envelope)
        assert resp.status == 200 and resp.elapsed < 3.0, (resp.status, resp.elapsed, resp.text)
        return envelope

    async def redeliver(self, envelope: dict[str, Any], *, by: SlackSender | None = None, retry_num: int = 1) -> None:
        """Slack's retry of an envelope it thinks was not acked: the same body (same event_id), retry headers."""
        resp = await (by or self.ada).send_envelope(envelope, retry_num=retry_num, retry_reason="http_timeout")
        assert resp.status == 200 and resp.elapsed < 3.0, (resp.status, resp.elapsed, resp.text)

    async def settled(self, timeout: float = 30.0) -> None:
        """Until the work the app started after the requests it acked is done (bot.slack.inflight, which a
        shutdown waits for too). Bolt answers an event before its lazy listener's task has run a step (inflight
        counts it from its first step), so first one more request goes to the app: it runs on the same event
        loop, where that step was queued ahead of this request, so once it is answered the earlier work counts."""
        from bot.slack import inflight

        resp = await self.ada.send_envelope(self.ada.url_verification())
        assert resp.status == 200, resp.text
        await wait_for(lambda: inflight.running() == 0, timeout=timeout, what="the app's work after its acks")

    async def command(self, name: str, text: str = "", *, by: SlackSender | None = None) -> dict[str, str]:
        by = by or self.ada
        form = by.slash_command(name, text)
        resp = await by.send_command(form)
        assert resp.status == 200 and resp.elapsed < 3.0, (resp.status, resp.text)
        return form

    async def interact(self, payload: dict[str, Any], *, by: SlackSender | None = None) -> Any:
        resp = await (by or self.ada).send_interaction(payload)
        assert resp.status == 200 and resp.elapsed < 3.0, (resp.status, resp.text)
        return resp

    def replies(self, thread_ts: str, channel: str = CHANNEL) -> list[Message]:
        return [m for m in self.fake.bot_messages(channel, thread_ts) if m.ts != thread_ts]

    async def finished(self, thread_ts: str, count: int = 1, channel: str = CHANNEL) -> list[Message]:
        """The bot's messages in a thread once `count` model replies there carry their footer."""

        def done() -> list[Message] | None:
            msgs = self.replies(thread_ts, channel)
            return msgs if sum(1 for m in msgs if footer_of(m)) >= count else None

        return list(await wait_for(done, what=f"{count} finished replies in {thread_ts}"))

    def ephemerals(self, user: str = ADA) -> list[str]:
        return [e.text for e in self.fake.ephemerals if e.user == user]


@asynccontextmanager
async def serve(fake: FakeSlack, **env: str) -> AsyncIterator[Bot]:
    """Run the app in HTTP mode against `fake` (env: extra settings, e.g. SWITCHBOARD_SLACK_STREAMING)."""
    from bot.slack.app import create_asgi_app
    from bot.slack.pacing import forget as forget_windows
    from bot.slack.people import forget
    from bot.slack.reply import forget_refusals

    values = {
        "SLACK_API_URL": fake.api_url,
        "SLACK_SIGNING_SECRET": SECRET,
        "SWITCHBOARD_SLACK_MODE": "http",
        **({} if "SLACK_CLIENT_ID" in env else {"SLACK_BOT_TOKEN": fake.workspace().token}),
        **env,
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    reload_settings()
    forget()
    forget_refusals()
    forget_windows()
    try:
        with AsgiServer(create_asgi_app()) as server:
            url = f"{server.url}/slack/events"
            yield Bot(fake, url, SlackSender(url, SECRET, fake=fake))
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        reload_settings()
