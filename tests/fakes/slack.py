"""A loopback fake of the Slack Web API, plus a sender of real signed Slack requests.

`FakeSlack` serves `/api/<method>` so the real `slack_sdk` clients work against it unchanged
(`AsyncWebClient(token=..., base_url=fake.api_url)`). It keeps a message store (threads, edits with arrival
times, streams, reactions, ephemerals, views, assistant-thread state), answers with the response shapes Slack
documents, and can inject failures and 429s. It also hosts `response_url` endpoints.

`SlackSender` builds payloads shaped like Slack's (Events API envelopes, slash commands, interactivity) and
POSTs them, signed with the v0 scheme, to an app's HTTP endpoint. `AsgiServer` runs an ASGI app (bolt's
`AsyncSlackRequestHandler`) under uvicorn on a thread so those requests travel over real HTTP.

Everything binds to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import math
import secrets
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from aiohttp import web

from tests.fakes.base import FakeServer

# Params that Slack accepts as JSON strings in form bodies (slack-sdk sends some methods as forms).
_JSON_PARAMS = {"blocks", "attachments", "metadata", "chunks", "view", "prompts", "users"}

MAX_TEXT = 40_000  # chat.postMessage / chat.update `text`
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELD = 2_000
MAX_HEADER_TEXT = 150
MAX_MARKDOWN_BLOCK = 12_000  # per markdown block and cumulative per payload
MAX_BLOCKS = 50
TRIGGER_TTL_S = 3.0  # trigger_ids expire 3 s after the interaction
RESPONSE_URL_MAX_USES = 5


class SlackError(Exception):
    """Raised by a method handler; becomes `{"ok": false, "error": ...}` (HTTP 200 unless `status`)."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


# --------------------------------------------------------------------------------------------- data model


@dataclass
class Workspace:
    """One installation: a bot token and the identity auth.test reports for it."""

    token: str = "xoxb-1111-2222-fake-token"
    team_id: str = "T0000000001"
    team: str = "Acme"
    domain: str = "acme"
    bot_user_id: str = "U0BOT000001"
    bot_id: str = "B0BOT000001"
    app_id: str = "A0APP000001"
    bot_name: str = "switchboard"
    enterprise_id: str | None = None
    scopes: str = (
        "app_mentions:read,assistant:write,channels:history,chat:write,commands,im:history,reactions:write,users:read"
    )

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"


@dataclass
class User:
    id: str
    team_id: str
    name: str
    real_name: str = ""
    is_bot: bool = False
    tz: str = "Europe/London"
    email: str | None = None

    def to_api(self) -> dict[str, Any]:
        real = self.real_name or self.name.title()
        profile: dict[str, Any] = {
            "real_name": real,
            "display_name": self.name,
            "real_name_normalized": real,
            "display_name_normalized": self.name,
            "image_48": f"https://avatars.example/{self.id}_48.png",
            "team": self.team_id,
        }
        if self.email and not self.is_bot:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": False,
            "real_name": real,
            "tz": self.tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }


@dataclass
class Channel:
    id: str
    team_id: str
    name: str = ""
    is_im: bool = False
    is_private: bool = False
    user: str | None = None  # the other party of an IM

    def to_api(self) -> dict[str, Any]:
        if self.is_im:
            return {
                "id": self.id,
                "created": 1700000000,
                "is_im": True,
                "is_org_shared": False,
                "context_team_id": self.team_id,
                "user": self.user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "created": 1700000000,
            "is_archived": False,
            "is_general": self.name == "general",
            "is_member": True,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "context_team_id": self.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class Edit:
    """One change to a message: a chat.update, a stream append/stop, or a response_url replace."""

    method: str
    text: str
    blocks: list[dict[str, Any]] | None
    at: float  # time.monotonic() when the call arrived at the fake


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    user: str | None
    team: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    metadata: dict[str, Any] | None = None
    posted_at: float = 0.0
    edits: list[Edit] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    deleted: bool = False
    edited_ts: str | None = None  # set by chat.update, shown as `edited`
    # Streaming (chat.startStream): "in_progress" until chat.stopStream, then "completed".
    stream_state: str | None = None
    chunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def update_times(self) -> list[float]:
        """Arrival times of the post and every later change, for cadence assertions."""
        return [self.posted_at, *(e.at for e in self.edits)]


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    message_ts: str
    via: str  # "chat.postEphemeral" or "response_url"


@dataclass
class View:
    id: str
    team_id: str
    type: str
    body: dict[str, Any]
    hash: str
    user_id: str | None = None  # home tab owner
    root_view_id: str | None = None
    previous_view_id: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_api(self, ws: Workspace) -> dict[str, Any]:
        body = self.body
        return {
            "id": self.id,
            "team_id": self.team_id,
            "type": self.type,
            "title": body.get("title"),
            "submit": body.get("submit"),
            "close": body.get("close"),
            "blocks": body.get("blocks", []),
            "private_metadata": body.get("private_metadata", ""),
            "callback_id": body.get("callback_id", ""),
            "external_id": body.get("external_id", ""),
            "state": {"values": {}},
            "hash": self.hash,
            "clear_on_close": bool(body.get("clear_on_close", False)),
            "notify_on_close": bool(body.get("notify_on_close", False)),
            "root_view_id": self.root_view_id or self.id,
            "previous_view_id": self.previous_view_id,
            "app_id": ws.app_id,
            "app_installed_team_id": ws.team_id,
            "bot_id": ws.bot_id,
        }


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    token: str | None
    team_id: str | None
    at: float
    http_method: str
    content_type: str
    status: int = 0
    response: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response and self.response.get("ok"))


@dataclass
class ResponseUrlPost:
    id: str
    body: dict[str, Any]
    at: float
    status: int


@dataclass
class _ResponseUrl:
    id: str
    team_id: str
    channel: str
    user: str
    message_ts: str | None
    uses: int = 0


@dataclass
class _Fault:
    error: str | None  # None for a 429
    status: int
    retry_after: int
    extra: dict[str, Any]


# ---------------------------------------------------------------------------------------------- helpers


class TsClock:
    """Slack message ids: `seconds.micros`, strictly increasing so ordering by ts is ordering by time."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            now = int(time.time() * 1_000_000)
            self._last = max(now, self._last + 1)
            return f"{self._last // 1_000_000}.{self._last % 1_000_000:06d}"


def _loads_maybe(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in {"1", "true"})


def validate_blocks(blocks: Any) -> list[str]:
    """Block Kit limits Slack enforces with `invalid_blocks`; returns Slack-style error strings."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        errors.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    markdown_total = 0
    for i, block in enumerate(blocks):
        where = f"/blocks/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        kind = block["type"]
        text = block.get("text")
        if kind == "section":
            section_text = text.get("text", "") if isinstance(text, dict) else ""
            fields = block.get("fields") or []
            if not section_text and not fields and not block.get("expand"):
                errors.append(f"must provide text or fields [json-pointer:{where}]")
            if len(section_text) > MAX_SECTION_TEXT:
                errors.append(f"must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:{where}/text/text]")
            if len(fields) > 10:
                errors.append(f"no more than 10 items allowed [json-pointer:{where}/fields]")
            for j, f in enumerate(fields):
                if len(f.get("text", "")) > MAX_SECTION_FIELD:
                    errors.append(
                        f"must be less than {MAX_SECTION_FIELD + 1} characters [json-pointer:{where}/fields/{j}/text]"
                    )
        elif kind == "header":
            header = text.get("text", "") if isinstance(text, dict) else ""
            if len(header) > MAX_HEADER_TEXT:
                errors.append(f"must be less than {MAX_HEADER_TEXT + 1} characters [json-pointer:{where}/text/text]")
        elif kind == "markdown":
            md = text if isinstance(text, str) else ""
            markdown_total += len(md)
            if len(md) > MAX_MARKDOWN_BLOCK:
                errors.append(f"must be less than {MAX_MARKDOWN_BLOCK + 1} characters [json-pointer:{where}/text]")
        elif kind == "actions" and len(block.get("elements") or []) > 25:
            errors.append(f"no more than 25 items allowed [json-pointer:{where}/elements]")
        elif kind == "context" and len(block.get("elements") or []) > 10:
            errors.append(f"no more than 10 items allowed [json-pointer:{where}/elements]")
    if markdown_total > MAX_MARKDOWN_BLOCK and not errors:
        errors.append(f"markdown blocks exceed {MAX_MARKDOWN_BLOCK} characters in total [json-pointer:/blocks]")
    return errors


def _check_text_and_blocks(params: dict[str, Any], *, require_content: bool = True) -> None:
    text = params.get("text")
    blocks = params.get("blocks")
    if require_content and not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    if blocks is not None:
        if isinstance(blocks, str):  # form value that was not valid JSON
            raise SlackError("invalid_blocks_format")
        errors = validate_blocks(blocks)
        if errors:
            raise SlackError(
                "invalid_blocks",
                errors=errors,
                response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
            )


# -------------------------------------------------------------------------------------------- the fake


class FakeSlack(FakeServer):
    """A Slack Web API on 127.0.0.1. Thread-safe: handlers run on the server thread, assertions anywhere."""

    def __init__(self, workspaces: list[Workspace] | None = None, *, strict: bool = False) -> None:
        """`strict`: unknown channels/users answer `channel_not_found`/`user_not_found` (default: created)."""
        super().__init__()
        self.strict = strict
        self.trigger_ttl_s = TRIGGER_TTL_S
        self.clock = TsClock()
        self._state = threading.RLock()
        self._workspaces: dict[str, Workspace] = {}
        self._revoked: set[str] = set()
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self._messages: dict[str, dict[str, Message]] = defaultdict(dict)
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.home_views: dict[str, View] = {}
        self.assistant_status: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.assistant_prompts: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.assistant_titles: dict[tuple[str, str], str] = {}
        self.api_calls: list[ApiCall] = []
        self.response_url_posts: list[ResponseUrlPost] = []
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._triggers: dict[str, tuple[float, bool]] = {}  # id -> (issued monotonic, used)
        self._faults: dict[str, deque[_Fault]] = defaultdict(deque)
        self._delays: dict[str, float] = {}
        self._limits: dict[str, tuple[int, float, str, int | None]] = {}
        self._windows: dict[tuple[str, ...], deque[float]] = defaultdict(deque)
        self._ids = itertools.count(1)
        for ws in workspaces or [Workspace()]:
            self.add_workspace(ws)
        self._handlers: dict[str, Callable[..., dict[str, Any]]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "assistant.threads.setStatus": self._assistant_set_status,
            "assistant.threads.setSuggestedPrompts": self._assistant_set_prompts,
            "assistant.threads.setTitle": self._assistant_set_title,
        }

    # ------------------------------------------------------------------------------ setup helpers

    def start(self) -> FakeSlack:
        super().start()
        return self

    def __enter__(self) -> FakeSlack:
        return self.start()

    @property
    def api_url(self) -> str:
        """Pass as `base_url` to slack-sdk clients (the trailing slash matters: it urljoins method names)."""
        return f"{self.url}/api/"

    def client(self, token: str | None = None, **kwargs: Any) -> Any:
        """A real `AsyncWebClient` pointed at this fake (default: the first workspace's token)."""
        from slack_sdk.web.async_client import AsyncWebClient

        return AsyncWebClient(token=token or self.workspace().token, base_url=self.api_url, **kwargs)

    def add_workspace(self, ws: Workspace | None = None, **fields: Any) -> Workspace:
        """Register an installation; `add_workspace(token="xoxb-b", team_id="T2")` derives the other ids."""
        if ws is None:
            team_id = fields.get("team_id", f"T{len(self._workspaces) + 1:010d}")
            suffix = team_id[1:]
            defaults = {
                "token": f"xoxb-{suffix}-fake",
                "team_id": team_id,
                "team": f"Team {suffix}",
                "domain": f"team{suffix.lower()}",
                "bot_user_id": f"UB{suffix}",
                "bot_id": f"BB{suffix}",
            }
            ws = Workspace(**{**defaults, **fields})
        with self._state:
            self._workspaces[ws.token] = ws
            self.users[ws.bot_user_id] = User(ws.bot_user_id, ws.team_id, ws.bot_name, "Switchboard", is_bot=True)
        return ws

    def workspace(self, key: str | None = None) -> Workspace:
        """By token or team_id; the first registered one when `key` is None."""
        with self._state:
            if key is None:
                return next(iter(self._workspaces.values()))
            if key in self._workspaces:
                return self._workspaces[key]
            for ws in self._workspaces.values():
                if ws.team_id == key:
                    return ws
        raise KeyError(key)

    def revoke(self, token: str) -> None:
        """Later calls with this token get `token_revoked` (an uninstalled workspace)."""
        with self._state:
            self._revoked.add(token)

    def add_user(self, user_id: str, name: str | None = None, *, team_id: str | None = None, **kw: Any) -> User:
        with self._state:
            user = User(user_id, team_id or self.workspace().team_id, name or user_id.lower(), **kw)
            self.users[user_id] = user
            return user

    def add_channel(
        self, channel_id: str, name: str | None = None, *, team_id: str | None = None, **kw: Any
    ) -> Channel:
        with self._state:
            is_im = kw.pop("is_im", channel_id.startswith("D"))
            ch = Channel(channel_id, team_id or self.workspace().team_id, name or "", is_im=is_im, **kw)
            if not ch.name and not is_im:
                ch.name = f"channel-{channel_id.lower()}"
            self.channels[channel_id] = ch
            return ch

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0USER00001",
        ts: str | None = None,
        thread_ts: str | None = None,
        team_id: str | None = None,
        bot_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Seed a message as if a person (or another app) had posted it. Idempotent on (channel, ts)."""
        with self._state:
            ch = self._channel(channel, team_id or self.workspace().team_id, create=True)
            existing = self._messages[ch.id].get(ts or "")
            if existing is not None:
                return existing
            msg = Message(
                ch.id,
                ts or self.clock.next(),
                text,
                user,
                team_id or ch.team_id,
                blocks=blocks,
                thread_ts=thread_ts,
                bot_id=bot_id,
                posted_at=time.monotonic(),
            )
            self._messages[ch.id][msg.ts] = msg
            return msg

    def new_trigger_id(self) -> str:
        """A trigger_id Slack would put in an interaction: valid for 3 s and for one views.open/push."""
        trigger = f"{int(time.time())}.{next(self._ids)}.{secrets.token_hex(16)}"
        with self._state:
            self._triggers[trigger] = (time.monotonic(), False)
        return trigger

    def response_url(
        self, *, channel: str, user: str, message_ts: str | None = None, team_id: str | None = None
    ) -> str:
        """A response_url served by this fake; what the app posts there lands in `response_url_posts`."""
        rid = secrets.token_hex(8)
        with self._state:
            self._response_urls[rid] = _ResponseUrl(rid, team_id or self.workspace().team_id, channel, user, message_ts)
        return f"{self.url}/response_url/{rid}"

    # ------------------------------------------------------------------------------ fault injection

    def fail_next(
        self, method: str, error: str = "internal_error", *, times: int = 1, status: int = 200, **extra: Any
    ) -> None:
        """The next `times` calls of `method` answer `{"ok": false, "error": error, **extra}`."""
        with self._state:
            self._faults[method].extend(_Fault(error, status, 0, extra) for _ in range(times))

    def rate_limit_next(self, method: str, retry_after: int = 1, *, times: int = 1) -> None:
        """The next `times` calls of `method` answer HTTP 429 with `Retry-After: retry_after`."""
        with self._state:
            self._faults[method].extend(_Fault(None, 429, retry_after, {}) for _ in range(times))

    def set_rate_limit(
        self,
        method: str,
        calls: int,
        per_seconds: float,
        *,
        scope: str = "workspace",
        retry_after: int | None = None,
    ) -> None:
        """Enforce a sliding-window limit (scope "workspace" or "channel"), answering 429 beyond it."""
        with self._state:
            self._limits[method] = (calls, per_seconds, scope, retry_after)

    def set_delay(self, method: str, seconds: float) -> None:
        """Slow a method down (e.g. to test that the app acks within 3 s while Slack is slow)."""
        with self._state:
            self._delays[method] = seconds

    def reset(self) -> None:
        """Forget messages, calls and faults; keep workspaces."""
        with self._state:
            self._messages.clear()
            self.ephemerals.clear()
            self.views.clear()
            self.home_views.clear()
            self.assistant_status.clear()
            self.assistant_prompts.clear()
            self.assistant_titles.clear()
            self.api_calls.clear()
            self.response_url_posts.clear()
            self._faults.clear()
            self._windows.clear()
        with self._lock:
            self.requests.clear()

    # ------------------------------------------------------------------------------ assertion helpers

    def calls_to(self, method: str, *, ok_only: bool = False) -> list[dict[str, Any]]:
        """Parsed params (query + form/JSON, JSON-string fields decoded) of every call of `method`."""
        return [c.params for c in self.api_calls_to(method) if c.ok or not ok_only]

    def api_calls_to(self, method: str) -> list[ApiCall]:
        with self._state:
            return [c for c in self.api_calls if c.method == method]

    def messages(self, channel: str, thread_ts: str | None = None, *, include_deleted: bool = False) -> list[Message]:
        """All messages of a channel in ts order, or one thread (parent first) when `thread_ts` is given."""
        with self._state:
            msgs = sorted(self._messages.get(channel, {}).values(), key=lambda m: float(m.ts))
            if thread_ts is not None:
                msgs = [m for m in msgs if m.ts == thread_ts or m.thread_ts == thread_ts]
            return [m for m in msgs if include_deleted or not m.deleted]

    def message(self, channel: str, ts: str) -> Message:
        with self._state:
            return self._messages[channel][ts]

    def bot_messages(self, channel: str, thread_ts: str | None = None) -> list[Message]:
        return [m for m in self.messages(channel, thread_ts) if m.bot_id is not None]

    def thread_text(self, channel: str, thread_ts: str, *, bots_only: bool = False) -> str:
        """The replies of a thread (not its parent), one per line, as they read now (edits applied)."""
        replies = [m for m in self.messages(channel, thread_ts) if m.is_reply]
        return "\n".join(m.text for m in replies if m.bot_id is not None or not bots_only)

    def edits(self, channel: str, ts: str) -> list[Edit]:
        return list(self.message(channel, ts).edits)

    def update_intervals(self, channel: str, ts: str) -> list[float]:
        """Seconds between consecutive changes of a message (post -> 1st edit -> 2nd edit ...)."""
        times = self.message(channel, ts).update_times
        return [b - a for a, b in itertools.pairwise(times)]

    def stream_text(self, channel: str, ts: str) -> str:
        return self.message(channel, ts).text

    def posts_to_response_url(self, url_or_id: str) -> list[dict[str, Any]]:
        rid = url_or_id.rstrip("/").rsplit("/", 1)[-1]
        with self._state:
            return [p.body for p in self.response_url_posts if p.id == rid]

    # ------------------------------------------------------------------------------ HTTP plumbing

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response_url/{rid}", self._response_url)

    async def _parse(self, request: web.Request) -> tuple[dict[str, Any], str]:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.method == "POST" and request.body_exists:
            if ctype == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:  # urlencoded or multipart
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        for key in _JSON_PARAMS & params.keys():
            params[key] = _loads_maybe(params[key])
        return params, ctype

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, ctype = await self._parse(request)
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        token = params.pop("token", None) or token
        with self._state:
            ws = self._workspaces.get(token or "")
            call = ApiCall(method, params, token, ws.team_id if ws else None, time.monotonic(), request.method, ctype)
            self.api_calls.append(call)
            delay = self._delays.get(method, 0.0)
        if delay:
            await asyncio.sleep(delay)
        status, headers, body = self._handle(call, ws)
        call.status, call.response = status, body
        return web.json_response(body, status=status, headers=headers)

    def _handle(self, call: ApiCall, ws: Workspace | None) -> tuple[int, dict[str, str], dict[str, Any]]:
        method, token = call.method, call.token
        headers = {"x-oauth-scopes": ws.scopes} if ws else {}
        with self._state:
            try:
                if method != "api.test":
                    if not token:
                        raise SlackError("not_authed")
                    if token in self._revoked:
                        raise SlackError("token_revoked")
                    if ws is None:
                        raise SlackError("invalid_auth")
                retry_after = self._rate_limited(method, call, ws)
                if retry_after is not None:
                    return (
                        429,
                        {**headers, "Retry-After": str(retry_after)},
                        {"ok": False, "error": "ratelimited"},
                    )
                fault = self._faults[method].popleft() if self._faults.get(method) else None
                if fault is not None and fault.error is None:
                    headers["Retry-After"] = str(fault.retry_after)
                    return 429, headers, {"ok": False, "error": "ratelimited"}
                if fault is not None:
                    raise SlackError(fault.error or "internal_error", fault.status, **fault.extra)
                handler = self._handlers.get(method)
                # Unknown methods: accept and record, so new client calls don't break tests.
                body = handler(call.params, ws, call) if handler else {"ok": True}
                return 200, headers, body
            except SlackError as e:
                return e.status, headers, {"ok": False, "error": e.error, **e.extra}

    def _rate_limited(self, method: str, call: ApiCall, ws: Workspace | None) -> int | None:
        limit = self._limits.get(method)
        if limit is None:
            return None
        calls, per, scope, retry_after = limit
        key: tuple[str, ...] = (method, ws.team_id if ws else "")
        if scope == "channel":
            key = (*key, str(call.params.get("channel", "")))
        window = self._windows[key]
        while window and call.at - window[0] >= per:
            window.popleft()
        if len(window) >= calls:
            return retry_after if retry_after is not None else max(1, math.ceil(per - (call.at - window[0])))
        window.append(call.at)
        return None

    # ------------------------------------------------------------------------------ store internals

    def _channel(self, channel_id: str, team_id: str, *, create: bool = False) -> Channel:
        if not channel_id:
            raise SlackError("channel_not_found")
        if channel_id[0] in "UW":  # posting to a user id goes to the app's DM with that user
            user_id, channel_id = (
                channel_id,
                "D" + hashlib.sha256(channel_id.encode()).hexdigest()[:10].upper(),
            )
            if channel_id not in self.channels:
                self.channels[channel_id] = Channel(channel_id, team_id, is_im=True, user=user_id)
        ch = self.channels.get(channel_id)
        if ch is None:
            if self.strict and not create:
                raise SlackError("channel_not_found")
            ch = self.add_channel(channel_id, team_id=team_id)
        return ch

    def _find(self, channel: str, ts: str | None) -> Message:
        msg = self._messages.get(channel, {}).get(ts or "")
        if msg is None or msg.deleted:
            raise SlackError("message_not_found")
        return msg

    def _new_bot_message(self, ws: Workspace, ch: Channel, params: dict[str, Any], text: str, at: float) -> Message:
        thread_ts = params.get("thread_ts") or None
        msg = Message(
            ch.id,
            self.clock.next(),
            text,
            ws.bot_user_id,
            ws.team_id,
            blocks=params.get("blocks"),
            thread_ts=str(thread_ts) if thread_ts else None,
            bot_id=ws.bot_id,
            app_id=ws.app_id,
            metadata=params.get("metadata") if isinstance(params.get("metadata"), dict) else None,
            posted_at=at,
        )
        self._messages[ch.id][msg.ts] = msg
        return msg

    def message_json(self, msg: Message) -> dict[str, Any]:
        """A message as Slack's API returns it (chat.postMessage `message`, conversations.replies items)."""
        out: dict[str, Any] = {"type": "message", "text": msg.text, "ts": msg.ts, "team": msg.team}
        if msg.user:
            out["user"] = msg.user
        if msg.bot_id:
            ws = next((w for w in self._workspaces.values() if w.bot_id == msg.bot_id), None)
            out["bot_id"] = msg.bot_id
            out["app_id"] = msg.app_id
            if ws is not None:
                out["bot_profile"] = {
                    "id": ws.bot_id,
                    "app_id": ws.app_id,
                    "name": ws.bot_name,
                    "team_id": ws.team_id,
                    "deleted": False,
                    "updated": 1700000000,
                    "icons": {},
                }
        if msg.blocks:
            out["blocks"] = msg.blocks
        if msg.metadata:
            out["metadata"] = msg.metadata
        if msg.thread_ts:
            out["thread_ts"] = msg.thread_ts
            if msg.is_reply:
                parent = self._messages.get(msg.channel, {}).get(msg.thread_ts)
                if parent is not None and parent.user:
                    out["parent_user_id"] = parent.user
        replies = [
            m
            for m in self._messages.get(msg.channel, {}).values()
            if m.thread_ts == msg.ts and m.is_reply and not m.deleted
        ]
        if replies:
            out["thread_ts"] = msg.ts
            out["reply_count"] = len(replies)
            users = list(dict.fromkeys(m.user for m in replies if m.user))
            out["reply_users"] = users
            out["reply_users_count"] = len(users)
            out["latest_reply"] = max(replies, key=lambda m: float(m.ts)).ts
            out["is_locked"] = False
            out["subscribed"] = False
        if msg.edited_ts:
            out["edited"] = {"user": msg.user, "ts": msg.edited_ts}
        if msg.reactions:
            out["reactions"] = [{"name": n, "users": u, "count": len(u)} for n, u in msg.reactions.items()]
        return out

    @staticmethod
    def _channel_param(params: dict[str, Any], name: str = "channel") -> str:
        value = params.get(name)
        if not value:
            raise SlackError("channel_not_found")
        return str(value)

    # ------------------------------------------------------------------------------ method handlers
    # Each takes (params, workspace, call) and returns the JSON body; raise SlackError for ok:false.

    def _api_test(self, params: dict[str, Any], ws: Workspace | None, call: ApiCall) -> dict[str, Any]:
        return {"ok": True, "args": {k: v for k, v in params.items() if isinstance(v, str)}}

    def _auth_test(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        return {
            "ok": True,
            "url": ws.url,
            "team": ws.team,
            "user": ws.bot_name,
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
            **({"enterprise_id": ws.enterprise_id} if ws.enterprise_id else {}),
        }

    def _chat_post_message(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        _check_text_and_blocks(params)
        msg = self._new_bot_message(ws, ch, params, str(params.get("text") or ""), call.at)
        return {"ok": True, "channel": ch.id, "ts": msg.ts, "message": self.message_json(msg)}

    def _chat_update(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        msg = self._find(ch.id, params.get("ts"))
        if msg.bot_id != ws.bot_id:
            raise SlackError("cant_update_message")
        _check_text_and_blocks(params, require_content=False)
        if "text" in params:
            msg.text = str(params["text"])
        if "blocks" in params:
            msg.blocks = params["blocks"] or None
        msg.edits.append(Edit("chat.update", msg.text, msg.blocks, call.at))
        msg.edited_ts = self.clock.next()
        return {
            "ok": True,
            "channel": ch.id,
            "ts": msg.ts,
            "text": msg.text,
            "message": self.message_json(msg),
        }

    def _chat_delete(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        msg = self._find(ch.id, params.get("ts"))
        if msg.bot_id != ws.bot_id:
            raise SlackError("cant_delete_message")
        msg.deleted = True
        return {"ok": True, "channel": ch.id, "ts": msg.ts}

    def _chat_post_ephemeral(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        if not params.get("user"):
            raise SlackError("user_not_found")
        _check_text_and_blocks(params)
        ts = self.clock.next()
        self.ephemerals.append(
            Ephemeral(
                ch.id,
                str(params["user"]),
                str(params.get("text") or ""),
                params.get("blocks"),
                params.get("thread_ts"),
                ts,
                "chat.postEphemeral",
            )
        )
        return {"ok": True, "message_ts": ts}

    def _chat_get_permalink(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        msg = self._find(ch.id, params.get("message_ts"))
        link = f"{ws.url}archives/{ch.id}/p{msg.ts.replace('.', '')}"
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={ch.id}"
        return {"ok": True, "channel": ch.id, "permalink": link}

    @staticmethod
    def _stream_piece(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """The text (markdown_text + markdown_text chunks) and chunks a stream call adds."""
        pieces = [str(params["markdown_text"])] if params.get("markdown_text") else []
        chunks = params.get("chunks") or []
        if not isinstance(chunks, list) or not all(isinstance(c, dict) and "type" in c for c in chunks):
            raise SlackError("invalid_chunks")
        pieces += [str(c.get("text", "")) for c in chunks if c["type"] == "markdown_text"]
        return "".join(pieces), chunks

    def _stream_append(self, msg: Message, params: dict[str, Any], method: str, at: float) -> None:
        text, chunks = self._stream_piece(params)
        if len(msg.text) + len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        msg.text += text
        msg.chunks += chunks
        msg.edits.append(Edit(method, msg.text, msg.blocks, at))

    def _chat_start_stream(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        text, chunks = self._stream_piece(params)
        msg = self._new_bot_message(ws, ch, {**params, "blocks": None}, text, call.at)
        msg.stream_state, msg.chunks = "in_progress", list(chunks)
        return {"ok": True, "channel": ch.id, "ts": msg.ts}

    def _streaming(self, params: dict[str, Any], ws: Workspace) -> Message:
        ch = self._channel(self._channel_param(params), ws.team_id)
        msg = self._find(ch.id, params.get("ts"))
        if msg.bot_id != ws.bot_id:
            raise SlackError("message_not_owned_by_app")
        if msg.stream_state != "in_progress":
            raise SlackError("message_not_in_streaming_state")
        return msg

    def _chat_append_stream(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        msg = self._streaming(params, ws)
        self._stream_append(msg, params, "chat.appendStream", call.at)
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _chat_stop_stream(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        msg = self._streaming(params, ws)
        if params.get("blocks") is not None:
            _check_text_and_blocks(params, require_content=False)
            msg.blocks = params["blocks"]
        if isinstance(params.get("metadata"), dict):
            msg.metadata = params["metadata"]
        self._stream_append(msg, params, "chat.stopStream", call.at)
        msg.stream_state = "completed"
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "message": self.message_json(msg)}

    def _conversations_info(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        return {"ok": True, "channel": ch.to_api()}

    def _page(self, items: list[dict[str, Any]], params: dict[str, Any], key: str, default: int) -> dict[str, Any]:
        limit = int(params.get("limit") or default)
        start = int(base64.b64decode(params["cursor"]).decode().split(":")[1]) if params.get("cursor") else 0
        page = items[start : start + limit]
        more = start + limit < len(items)
        cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return {"ok": True, key: page, "has_more": more, "response_metadata": {"next_cursor": cursor}}

    def _conversations_replies(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        ts = str(params.get("ts") or "")
        parent = self._messages.get(ch.id, {}).get(ts)
        if parent is None or parent.deleted:
            raise SlackError("thread_not_found")
        root = parent.thread_ts or parent.ts  # a reply's ts returns its whole thread, as Slack does
        items = [self.message_json(m) for m in self.messages(ch.id, root)]
        return self._page(items, params, "messages", 1000)

    def _conversations_history(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        ch = self._channel(self._channel_param(params), ws.team_id)
        top = [m for m in reversed(self.messages(ch.id)) if not m.is_reply]
        return self._page([self.message_json(m) for m in top], params, "messages", 100)

    def _conversations_open(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        users = str(params.get("users") or "").split(",")
        if not users[0]:
            raise SlackError("users_list_not_supplied")
        ch = self._channel(users[0], ws.team_id)
        return {"ok": True, "channel": {"id": ch.id}}

    def _users_info(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        user_id = str(params.get("user") or "")
        user = self.users.get(user_id)
        if user is None:
            if self.strict or user_id[:1] not in {"U", "W"}:
                raise SlackError("user_not_found")
            user = self.add_user(user_id, team_id=ws.team_id)
        return {"ok": True, "user": user.to_api()}

    def _reactions_add(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        msg = self._find(self._channel_param(params), params.get("timestamp"))
        name = str(params.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        users = msg.reactions.setdefault(name, [])
        if ws.bot_user_id in users:
            raise SlackError("already_reacted")
        users.append(ws.bot_user_id)
        return {"ok": True}

    def _reactions_remove(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        msg = self._find(self._channel_param(params), params.get("timestamp"))
        name = str(params.get("name") or "").strip(":")
        if ws.bot_user_id not in msg.reactions.get(name, []):
            raise SlackError("no_reaction")
        msg.reactions[name].remove(ws.bot_user_id)
        if not msg.reactions[name]:
            del msg.reactions[name]
        return {"ok": True}

    def _use_trigger(self, trigger_id: Any) -> None:
        if not trigger_id:
            raise SlackError("invalid_arguments")
        issued = self._triggers.get(str(trigger_id))
        if issued is None:
            return  # minted outside the fake: accept it
        at, used = issued
        if used:
            raise SlackError("exchanged_trigger_id")
        if time.monotonic() - at > self.trigger_ttl_s:
            raise SlackError("expired_trigger_id")
        self._triggers[str(trigger_id)] = (at, True)

    def _new_view(self, body: Any, ws: Workspace, **kw: Any) -> View:
        if not isinstance(body, dict) or "type" not in body:
            raise SlackError("invalid_arguments")
        if "blocks" in body:
            errors = validate_blocks(body["blocks"])
            if errors:
                raise SlackError("invalid_arguments", response_metadata={"messages": errors})
        view = View(f"V{next(self._ids):010d}", ws.team_id, body["type"], body, self._hash(), **kw)
        self.views[view.id] = view
        return view

    @staticmethod
    def _hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    def _views_open(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        self._use_trigger(params.get("trigger_id"))
        view = self._new_view(params.get("view"), ws)
        return {"ok": True, "view": view.to_api(ws)}

    def _views_push(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        self._use_trigger(params.get("trigger_id"))
        roots = [v for v in self.views.values() if v.type == "modal" and v.team_id == ws.team_id]
        previous = roots[-1] if roots else None
        view = self._new_view(
            params.get("view"),
            ws,
            previous_view_id=previous.id if previous else None,
            root_view_id=(previous.root_view_id or previous.id) if previous else None,
        )
        return {"ok": True, "view": view.to_api(ws)}

    def _views_update(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        view = self.views.get(str(params.get("view_id") or ""))
        if view is None and params.get("external_id"):
            view = next((v for v in self.views.values() if v.body.get("external_id") == params["external_id"]), None)
        if view is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != view.hash:
            raise SlackError("hash_conflict")
        body = params.get("view")
        if not isinstance(body, dict):
            raise SlackError("invalid_arguments")
        view.history.append(view.body)
        view.body, view.type, view.hash = body, body.get("type", view.type), self._hash()
        return {"ok": True, "view": view.to_api(ws)}

    def _views_publish(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        user_id = str(params.get("user_id") or "")
        if not user_id:
            raise SlackError("invalid_arguments")
        body = params.get("view")
        if not isinstance(body, dict) or body.get("type") != "home":
            raise SlackError("invalid_arguments")
        current = self.home_views.get(user_id)
        if current is not None and params.get("hash") and params["hash"] != current.hash:
            raise SlackError("hash_conflict")
        if current is None:
            current = self._new_view(body, ws, user_id=user_id)
            self.home_views[user_id] = current
        else:
            current.history.append(current.body)
            current.body, current.hash = body, self._hash()
        return {"ok": True, "view": current.to_api(ws)}

    @staticmethod
    def _thread_key(params: dict[str, Any]) -> tuple[str, str]:
        channel, thread_ts = params.get("channel_id"), params.get("thread_ts")
        if not channel or not thread_ts:
            raise SlackError("invalid_arguments")
        return str(channel), str(thread_ts)

    def _assistant_set_status(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        if "status" not in params:
            raise SlackError("invalid_arguments")
        self.assistant_status[self._thread_key(params)].append(str(params["status"]))
        return {"ok": True}

    def _assistant_set_prompts(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        prompts = params.get("prompts")
        if not isinstance(prompts, list) or not prompts:
            raise SlackError("invalid_arguments")
        self.assistant_prompts[self._thread_key(params)] = prompts
        return {"ok": True}

    def _assistant_set_title(self, params: dict[str, Any], ws: Workspace, call: ApiCall) -> dict[str, Any]:
        self.assistant_titles[self._thread_key(params)] = str(params.get("title") or "")
        return {"ok": True}

    # ------------------------------------------------------------------------------ response_url

    async def _response_url(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        raw = await request.read()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = dict(parse_qsl(raw.decode()))
            body = _loads_maybe(body.get("payload", body))
        at = time.monotonic()
        with self._state:
            target = self._response_urls.get(rid)
            status, text = 200, "ok"
            if target is None:
                status, text = 404, "no_service"
            elif target.uses >= RESPONSE_URL_MAX_USES:  # Slack allows 5 responses per response_url
                status, text = 404, "used_url"
            elif not isinstance(body, dict) or not (
                body.get("text") or body.get("blocks") or body.get("delete_original")
            ):
                status, text = 400, "no_text"
            else:
                target.uses += 1
                self._apply_response(target, body, at)
            self.response_url_posts.append(ResponseUrlPost(rid, body if isinstance(body, dict) else {}, at, status))
        return web.Response(status=status, text=text)

    def _apply_response(self, target: _ResponseUrl, body: dict[str, Any], at: float) -> None:
        ws = self.workspace(target.team_id)
        ch = self._channel(target.channel, ws.team_id, create=True)
        original = self._messages.get(ch.id, {}).get(target.message_ts or "")
        text = str(body.get("text") or "")
        blocks = body.get("blocks")
        if _truthy(body.get("delete_original")) and original is not None:
            original.deleted = True
        elif _truthy(body.get("replace_original")) and original is not None:
            original.text, original.blocks = text, blocks
            original.edits.append(Edit("response_url", text, blocks, at))
        elif body.get("response_type") == "in_channel":
            self._new_bot_message(ws, ch, {"blocks": blocks, "thread_ts": body.get("thread_ts")}, text, at)
        else:
            self.ephemerals.append(
                Ephemeral(ch.id, target.user, text, blocks, body.get("thread_ts"), self.clock.next(), "response_url")
            )


# ---------------------------------------------------------------------------------------- signing & sending


def sign(signing_secret: str, body: str | bytes, timestamp: int | str) -> str:
    """Slack's v0 request signature: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class SentResponse:
    status: int
    headers: dict[str, str]
    text: str
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.text)


class SlackSender:
    """Builds Slack-shaped payloads and POSTs them, signed, to an app's request URL.

    With `fake=`, ids and state come from the fake: messages the user "types" are stored there (so
    conversations.replies sees them), trigger_ids expire like Slack's, and response_urls point at the fake.
    """

    def __init__(
        self,
        url: str,
        signing_secret: str,
        *,
        fake: FakeSlack | None = None,
        workspace: Workspace | None = None,
        user_id: str = "U0USER00001",
        user_name: str = "ada",
        channel_id: str = "C0GENERAL01",
        channel_name: str = "general",
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.signing_secret = signing_secret
        self.fake = fake
        self.ws = workspace or (fake.workspace() if fake else Workspace())
        self.user_id = user_id
        self.user_name = user_name
        self.channel_id = channel_id
        self.channel_name = channel_name
        self.timeout = timeout
        self._clock = fake.clock if fake else TsClock()
        self._event_ids = itertools.count(1)
        if fake is not None and not channel_id.startswith("D"):
            fake.add_channel(channel_id, channel_name, team_id=self.ws.team_id)

    # ------------------------------------------------------------------------------ transport

    def signed_headers(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        bad_signature: bool = False,
        stale: bool = False,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> dict[str, str]:
        """The headers Slack sends. `stale` signs with a timestamp 6 minutes old (apps must reject > 5 min);
        `bad_signature` signs with the wrong secret; `retry_num` adds X-Slack-Retry-Num/-Reason."""
        ts = timestamp if timestamp is not None else int(time.time()) - (360 if stale else 0)
        secret = self.signing_secret + "-wrong" if bad_signature else self.signing_secret
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(secret, body, ts),
        }
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return headers

    async def post(
        self, body: str, content_type: str, *, headers: dict[str, str] | None = None, **sign_opts: Any
    ) -> SentResponse:
        """POST a raw body with Slack's signed headers (options as in `signed_headers`)."""
        sent = {**self.signed_headers(body, content_type, **sign_opts), **(headers or {})}
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            resp = await http.post(self.url, content=body.encode(), headers=sent)
        return SentResponse(resp.status_code, dict(resp.headers), resp.text, time.monotonic() - started)

    async def send_envelope(self, envelope: dict[str, Any], **opts: Any) -> SentResponse:
        """POST an Events API body (JSON). Re-send the same envelope with `retry_num=1` to mimic a retry."""
        return await self.post(json.dumps(envelope), "application/json", **opts)

    async def send_event(self, event: dict[str, Any], **opts: Any) -> SentResponse:
        return await self.send_envelope(self.envelope(event), **opts)

    async def send_command(self, form: dict[str, str], **opts: Any) -> SentResponse:
        return await self.post(urlencode(form), "application/x-www-form-urlencoded", **opts)

    async def send_interaction(self, payload: dict[str, Any], **opts: Any) -> SentResponse:
        """Interactivity: form-encoded with the JSON in a `payload` field."""
        return await self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded", **opts)

    # ------------------------------------------------------------------------------ Events API

    def envelope(self, event: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        ws = self.ws
        return {
            "token": "legacy-verification-token",
            "team_id": ws.team_id,
            "context_team_id": ws.team_id,
            "context_enterprise_id": ws.enterprise_id,
            "api_app_id": ws.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._event_ids):09d}{secrets.token_hex(1).upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": ws.enterprise_id,
                    "team_id": ws.team_id,
                    "user_id": ws.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("="),
        }

    def url_verification(
        self, challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    ) -> dict[str, Any]:
        return {"token": "legacy-verification-token", "challenge": challenge, "type": "url_verification"}

    @staticmethod
    def _rich_text(text: str) -> list[dict[str, Any]]:
        """The rich_text block Slack attaches to typed messages (mentions become `user` elements)."""
        elements: list[dict[str, Any]] = []
        for i, part in enumerate(text.split("<@")):
            if i == 0:
                if part:
                    elements.append({"type": "text", "text": part})
                continue
            user, _, rest = part.partition(">")
            elements.append({"type": "user", "user_id": user})
            if rest:
                elements.append({"type": "text", "text": rest})
        return [
            {
                "type": "rich_text",
                "block_id": secrets.token_hex(2),
                "elements": [{"type": "rich_text_section", "elements": elements}],
            }
        ]

    def _typed(
        self,
        channel: str,
        text: str,
        user: str,
        ts: str | None,
        thread_ts: str | None,
        bot_id: str | None = None,
    ) -> str:
        ts = ts or self._clock.next()
        if self.fake is not None:
            self.fake.add_message(
                channel, text, user=user, ts=ts, thread_ts=thread_ts, team_id=self.ws.team_id, bot_id=bot_id
            )
        return ts

    def app_mention(
        self,
        text: str,
        *,
        channel: str | None = None,
        user: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """An `app_mention` event; `<@bot>` is prefixed to `text` unless it already mentions the bot."""
        channel, user = channel or self.channel_id, user or self.user_id
        mention = f"<@{self.ws.bot_user_id}>"
        if mention not in text:
            text = f"{mention} {text}"
        ts = self._typed(channel, text, user, ts, thread_ts)
        event: dict[str, Any] = {
            "user": user,
            "type": "app_mention",
            "ts": ts,
            "client_msg_id": str(uuid.uuid4()),
            "text": text,
            "team": self.ws.team_id,
            "blocks": self._rich_text(text),
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return event

    def message(
        self,
        text: str,
        *,
        channel: str | None = None,
        user: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
        channel_type: str | None = None,
        bot_id: str | None = None,
        subtype: str | None = None,
    ) -> dict[str, Any]:
        """A `message` event. DMs: a `D...` channel gives `channel_type: im`. `bot_id` makes it a bot's post
        (pass `bot_id=sender.ws.bot_id, user=sender.ws.bot_user_id` for the app's own message)."""
        channel, user = channel or self.channel_id, user or self.user_id
        ts = self._typed(channel, text, user, ts, thread_ts, bot_id)
        if channel_type is None:
            channel_type = {"D": "im", "G": "group"}.get(channel[0], "channel")
        event: dict[str, Any] = {
            "type": "message",
            "text": text,
            "user": user,
            "ts": ts,
            "team": self.ws.team_id,
        }
        if bot_id:
            event["bot_id"] = bot_id
            if bot_id == self.ws.bot_id:
                event["app_id"] = self.ws.app_id
                event["bot_profile"] = {
                    "id": bot_id,
                    "app_id": self.ws.app_id,
                    "name": self.ws.bot_name,
                    "team_id": self.ws.team_id,
                    "deleted": False,
                }
        else:
            event["client_msg_id"] = str(uuid.uuid4())
            event["blocks"] = self._rich_text(text)
        if subtype:
            event["subtype"] = subtype
        if thread_ts:
            event["thread_ts"] = thread_ts
            event["parent_user_id"] = user
        event.update({"channel": channel, "event_ts": ts, "channel_type": channel_type})
        return event

    def message_changed(
        self,
        ts: str,
        new_text: str,
        *,
        old_text: str = "",
        channel: str | None = None,
        user: str | None = None,
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A user edited message `ts`: `subtype: message_changed` with `message` and `previous_message`."""
        channel, user = channel or self.channel_id, user or self.user_id
        if self.fake is not None:
            msg = self.fake.add_message(channel, old_text, user=user, ts=ts, thread_ts=thread_ts)
            old_text = old_text or msg.text
            with self.fake._state:
                msg.text = new_text
                msg.edits.append(Edit("user_edit", new_text, msg.blocks, time.monotonic()))
        now = self._clock.next()
        inner: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": new_text,
            "ts": ts,
            "team": self.ws.team_id,
            "edited": {"user": user, "ts": now},
        }
        previous: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": old_text,
            "ts": ts,
            "team": self.ws.team_id,
        }
        if thread_ts:
            inner["thread_ts"] = previous["thread_ts"] = thread_ts
        return {
            "type": "message",
            "subtype": "message_changed",
            "message": inner,
            "previous_message": previous,
            "channel": channel,
            "hidden": True,
            "ts": now,
            "event_ts": now,
            "channel_type": {"D": "im", "G": "group"}.get(channel[0], "channel"),
        }

    def assistant_thread_started(
        self,
        *,
        channel: str = "D0DM0000001",
        thread_ts: str | None = None,
        user: str | None = None,
        context_channel: str | None = None,
    ) -> dict[str, Any]:
        """The user opened the app's assistant container: a new DM thread (Slack posts its root)."""
        user = user or self.user_id
        thread_ts = thread_ts or self._clock.next()
        if self.fake is not None:
            self.fake.add_channel(channel, team_id=self.ws.team_id, is_im=True, user=user)
            self.fake.add_message(channel, "", user=self.ws.bot_user_id, ts=thread_ts, bot_id=self.ws.bot_id)
        context: dict[str, Any] = {}
        if context_channel:
            context = {
                "channel_id": context_channel,
                "team_id": self.ws.team_id,
                "enterprise_id": self.ws.enterprise_id,
            }
        return {
            "type": "assistant_thread_started",
            "assistant_thread": {
                "user_id": user,
                "context": context,
                "channel_id": channel,
                "thread_ts": thread_ts,
            },
            "event_ts": self._clock.next(),
        }

    # ------------------------------------------------------------------------------ commands & interactivity

    def _response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        if self.fake is not None:
            return self.fake.response_url(channel=channel, user=user, message_ts=message_ts, team_id=self.ws.team_id)
        return f"https://hooks.slack.com/actions/{self.ws.team_id}/{secrets.randbelow(10**12)}/{secrets.token_hex(12)}"

    def _trigger(self) -> str:
        if self.fake is not None:
            return self.fake.new_trigger_id()
        return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"

    def _team(self) -> dict[str, Any]:
        return {"id": self.ws.team_id, "domain": self.ws.domain}

    def _user(self, user: str | None) -> dict[str, Any]:
        uid = user or self.user_id
        name = self.user_name if uid == self.user_id else uid.lower()
        return {"id": uid, "username": name, "name": name, "team_id": self.ws.team_id}

    def slash_command(
        self, command: str, text: str = "", *, channel: str | None = None, user: str | None = None
    ) -> dict[str, str]:
        """The form a slash command posts (ephemeral by default when answered via response_url)."""
        channel, user = channel or self.channel_id, user or self.user_id
        return {
            "token": "legacy-verification-token",
            "team_id": self.ws.team_id,
            "team_domain": self.ws.domain,
            "channel_id": channel,
            "channel_name": self.channel_name if channel == self.channel_id else "directmessage",
            "user_id": user,
            "user_name": self.user_name,
            "command": command if command.startswith("/") else f"/{command}",
            "text": text,
            "api_app_id": self.ws.app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(channel, user),
            "trigger_id": self._trigger(),
        }

    def _container_message(
        self, channel: str, message_ts: str | None, thread_ts: str | None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """`container` and `message` of a payload, the message from the fake's store when it is there."""
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        message: dict[str, Any] | None = None
        if self.fake is not None and message_ts:
            with self.fake._state:
                stored = self.fake._messages.get(channel, {}).get(message_ts)
                if stored is not None:
                    message = self.fake.message_json(stored)
                    thread_ts = thread_ts or stored.thread_ts
        if message is None and message_ts:
            message = {
                "type": "message",
                "user": self.ws.bot_user_id,
                "bot_id": self.ws.bot_id,
                "text": "",
                "ts": message_ts,
                "team": self.ws.team_id,
            }
            if thread_ts:
                message["thread_ts"] = thread_ts
        if thread_ts:
            container["thread_ts"] = thread_ts
        return container, message

    @staticmethod
    def _block_id_for(message: dict[str, Any] | None, action_id: str) -> str:
        for block in (message or {}).get("blocks", []):
            elements = block.get("elements", []) + ([block["accessory"]] if "accessory" in block else [])
            if any(e.get("action_id") == action_id for e in elements):
                return str(block.get("block_id", ""))
        return secrets.token_hex(2)

    def block_actions(
        self,
        action_id: str,
        value: str,
        *,
        text: str | None = None,
        element_type: str = "static_select",
        message_ts: str | None = None,
        thread_ts: str | None = None,
        channel: str | None = None,
        user: str | None = None,
        block_id: str | None = None,
    ) -> dict[str, Any]:
        """A user chose `value` in a select (static_select/external_select) or clicked a `button`."""
        channel = channel or self.channel_id
        container, message = self._container_message(channel, message_ts, thread_ts)
        action: dict[str, Any] = {
            "type": element_type,
            "action_id": action_id,
            "block_id": block_id or self._block_id_for(message, action_id),
            "action_ts": self._clock.next(),
        }
        if element_type == "button":
            action.update({"value": value, "text": {"type": "plain_text", "text": text or value, "emoji": True}})
        else:
            action["selected_option"] = {
                "text": {"type": "plain_text", "text": text or value, "emoji": True},
                "value": value,
            }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.ws.app_id,
            "token": "legacy-verification-token",
            "container": container,
            "trigger_id": self._trigger(),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self.channel_name},
            "state": {"values": {}},
            "response_url": self._response_url(channel, user or self.user_id, message_ts),
            "actions": [action],
        }
        if message is not None:
            payload["message"] = message
        return payload

    def block_suggestion(
        self,
        action_id: str,
        query: str,
        *,
        message_ts: str | None = None,
        channel: str | None = None,
        user: str | None = None,
        block_id: str | None = None,
    ) -> dict[str, Any]:
        """An external_select asking for options matching what the user typed (`value`)."""
        channel = channel or self.channel_id
        container, message = self._container_message(channel, message_ts, None)
        payload: dict[str, Any] = {
            "type": "block_suggestion",
            "user": self._user(user),
            "container": container,
            "api_app_id": self.ws.app_id,
            "token": "legacy-verification-token",
            "action_id": action_id,
            "block_id": block_id or self._block_id_for(message, action_id),
            "value": query,
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": self.channel_name},
        }
        if message is not None:
            payload["message"] = message
        return payload

    def message_action(
        self,
        callback_id: str,
        *,
        message_ts: str,
        channel: str | None = None,
        user: str | None = None,
        text: str = "",
    ) -> dict[str, Any]:
        """A message shortcut run on message `message_ts`."""
        channel = channel or self.channel_id
        _, message = self._container_message(channel, message_ts, None)
        if message is not None and text:
            message["text"] = text
        return {
            "type": "message_action",
            "token": "legacy-verification-token",
            "action_ts": self._clock.next(),
            "team": self._team(),
            "user": self._user(user),
            "channel": {"id": channel, "name": self.channel_name},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger(),
            "response_url": self._response_url(channel, user or self.user_id, message_ts),
            "message_ts": message_ts,
            "message": message,
        }

    def view_submission(
        self,
        values: dict[str, dict[str, dict[str, Any]]],
        *,
        view_id: str | None = None,
        callback_id: str = "",
        private_metadata: str = "",
        user: str | None = None,
    ) -> dict[str, Any]:
        """A modal submitted. `values` is Slack's `state.values`: {block_id: {action_id: {type, value...}}}.
        With `view_id` of a view opened on the fake, that view's callback_id/metadata/blocks are used."""
        view: dict[str, Any] = {
            "id": view_id or f"V{secrets.randbelow(10**10):010d}",
            "team_id": self.ws.team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": "Modal"},
            "external_id": "",
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.ws.app_id,
            "app_installed_team_id": self.ws.team_id,
            "bot_id": self.ws.bot_id,
        }
        if self.fake is not None and view_id:
            with self.fake._state:
                stored = self.fake.views.get(view_id)
                if stored is not None:
                    view = stored.to_api(self.ws)
        view["state"] = {"values": values}
        return {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.ws.app_id,
            "token": "legacy-verification-token",
            "trigger_id": self._trigger(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }


# ------------------------------------------------------------------------------------------ ASGI server


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
