"""A loopback fake of Discord: REST API v10 and the gateway (websocket), for the real discord.py client.

Point discord.py at it (both are plain class attributes; `pointed_at(fake)` sets and restores them):

    discord.http.Route.BASE = fake.api_base                               # http://127.0.0.1:PORT/api/v10
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

discord.py 2.7 never asks `GET /gateway/bot` unless an AutoShardedClient has no shard_count: it connects to
DEFAULT_GATEWAY, then resumes on READY's `resume_gateway_url`. Interaction callbacks and webhook calls use the
same Route.BASE.

The fake keeps Discord-shaped state (users, guilds, channels, threads, messages with edit history, registered
application commands, interactions), records every REST call (`api_calls`), mirrors REST side effects to the
gateway as Discord does (MESSAGE_CREATE for the bot's own messages, MESSAGE_UPDATE, THREAD_CREATE...),
filters events by intents, strips message content without the message_content intent, enforces the 3-second
interaction rule, validates autocomplete choices and message limits (`violations`), and injects faults
(`forbid`, `rate_limit`, `fail`, `set_bucket`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import email.parser
import email.policy
import hashlib
import itertools
import json
import math
import re
import secrets
import threading
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.base import FakeServer

DISCORD_EPOCH_MS = 1_420_070_400_000
DEFAULT_TOKEN = "MTEyMzU4MTMyMTM0NTU4OTE0NA.GfAkEt.fake-discord-bot-token-for-tests"

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents)
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
GUILD_MESSAGE_TYPING = 1 << 11
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
DIRECT_MESSAGE_TYPING = 1 << 14
MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

# Permission bits used for the default roles.
_P = {
    "add_reactions": 1 << 6,
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "manage_messages": 1 << 13,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "mention_everyone": 1 << 17,
    "use_application_commands": 1 << 31,
    "manage_threads": 1 << 34,
    "create_public_threads": 1 << 35,
    "create_private_threads": 1 << 36,
    "send_messages_in_threads": 1 << 38,
}
EVERYONE_PERMISSIONS = sum(
    _P[k]
    for k in (
        "add_reactions",
        "view_channel",
        "send_messages",
        "embed_links",
        "attach_files",
        "read_message_history",
        "use_application_commands",
        "create_public_threads",
        "create_private_threads",
        "send_messages_in_threads",
    )
)
BOT_PERMISSIONS = sum(_P.values())

# Message flags
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Interaction types and callback types
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE = 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
_ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {
        CHANNEL_MESSAGE,
        DEFERRED_CHANNEL_MESSAGE,
        DEFERRED_UPDATE_MESSAGE,
        UPDATE_MESSAGE,
        MODAL,
    },
    MODAL_SUBMIT: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
}

# Option types inferred from Python values when no registered command says otherwise.
_SUB_COMMAND, _SUB_GROUP, _STRING, _INTEGER, _BOOLEAN, _USER, _CHANNEL, _NUMBER = 1, 2, 3, 4, 5, 6, 7, 10

# (method, path template under /api/v{n}, action name). Order matters: literal segments before {params}.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/gateway", "get_gateway"),
    ("GET", "/gateway/bot", "get_gateway_bot"),
    ("GET", "/users/@me", "get_me"),
    ("POST", "/users/@me/channels", "create_dm"),
    ("GET", "/users/{user_id}", "get_user"),
    ("GET", "/oauth2/applications/@me", "application_info"),
    ("GET", "/applications/@me", "application_info"),
    ("PUT", "/applications/{application_id}/commands", "bulk_upsert_global_commands"),
    ("GET", "/applications/{application_id}/commands", "get_global_commands"),
    ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", "bulk_upsert_guild_commands"),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", "get_guild_commands"),
    ("GET", "/guilds/{guild_id}", "get_guild"),
    ("GET", "/guilds/{guild_id}/channels", "get_guild_channels"),
    ("GET", "/guilds/{guild_id}/members/{user_id}", "get_member"),
    ("GET", "/channels/{channel_id}", "get_channel"),
    ("PATCH", "/channels/{channel_id}", "edit_channel"),
    ("GET", "/channels/{channel_id}/messages", "get_messages"),
    ("POST", "/channels/{channel_id}/messages", "send_message"),
    ("GET", "/channels/{channel_id}/messages/{message_id}", "get_message"),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}", "edit_message"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}", "delete_message"),
    ("POST", "/channels/{channel_id}/messages/{message_id}/threads", "create_thread_from_message"),
    ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", "add_reaction"),
    ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", "remove_reaction"),
    ("POST", "/channels/{channel_id}/threads", "create_thread"),
    ("POST", "/channels/{channel_id}/typing", "typing"),
    ("PUT", "/channels/{channel_id}/thread-members/@me", "join_thread"),
    ("PUT", "/channels/{channel_id}/thread-members/{user_id}", "add_thread_member"),
    ("POST", "/interactions/{interaction_id}/{token}/callback", "interaction_callback"),
    ("POST", "/webhooks/{application_id}/{token}", "followup"),
    ("GET", "/webhooks/{application_id}/{token}/messages/{message_id}", "get_webhook_message"),
    ("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}", "edit_webhook_message"),
    ("DELETE", "/webhooks/{application_id}/{token}/messages/{message_id}", "delete_webhook_message"),
]
ACTIONS = {a for _, _, a in ROUTES} | {"get_original", "edit_original", "delete_original"}
# Webhook-token routes are authorised by the token in the path, not by the bot token (discord.py sends none).
_NO_AUTH = {
    "get_gateway",
    "interaction_callback",
    "followup",
    "get_webhook_message",
    "edit_webhook_message",
    "delete_webhook_message",
    "get_original",
    "edit_original",
    "delete_original",
}


class DiscordError(Exception):
    """Raised inside handlers; becomes Discord's JSON error shape `{"message", "code", "errors"?}`."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def _json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json", as Discord sends it: discord.py compares the header verbatim and treats
    # anything else (aiohttp's default adds "; charset=utf-8") as text.
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers, content_type="application/json")


def _field_error(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _form_error(errors: dict[str, Any]) -> DiscordError:
    return DiscordError(400, 50035, "Invalid Form Body", errors)


@dataclass
class Call:
    """One REST call as the fake saw it. `path` is relative to /api/v{n}; `json` is the JSON body or, for
    multipart requests, the parsed `payload_json` part."""

    method: str
    path: str
    route: str  # "PATCH /channels/{channel_id}/messages/{message_id}"
    action: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[dict[str, Any]]
    headers: dict[str, str]
    at: float  # server wall-clock time (time.time()) when the request arrived
    status: int = 0
    response: Any = None


@dataclass
class Edit:
    at: float  # server wall-clock time of the edit
    payload: dict[str, Any]
    content: str
    via: str  # action that made the edit


@dataclass
class FakeMessage:
    data: dict[str, Any]  # REST-shaped message object (no guild_id/member, as Discord's REST omits them)
    guild_id: int | None
    created_at: float
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False

    @property
    def id(self) -> int:
        return int(self.data["id"])

    @property
    def channel_id(self) -> int:
        return int(self.data["channel_id"])

    @property
    def content(self) -> str:
        return str(self.data["content"])

    @property
    def ephemeral(self) -> bool:
        return bool(self.data.get("flags", 0) & EPHEMERAL)

    def edit_times(self) -> list[float]:
        return [e.at for e in self.edits]


@dataclass
class FakeInteraction:
    payload: dict[str, Any]
    sent_at: float  # monotonic; reset when dispatched
    responses: list[dict[str, Any]] = field(default_factory=list)
    response_type: int | None = None
    responded_at: float | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        return str(self.payload["token"])

    @property
    def type(self) -> int:
        return int(self.payload["type"])


@dataclass
class Violation:
    kind: str
    detail: str
    rejected: bool  # True when the fake answered with an error (as Discord would)
    call: Call | None = None


@dataclass
class Fault:
    target: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int | None  # None: forever
    hits: int = 0

    def matches(self, call: Call) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.target in ACTIONS:
            return call.action == self.target
        if "{" in self.target:
            return call.route == self.target
        if re.match(r"^(GET|POST|PUT|PATCH|DELETE) ", self.target):
            return re.fullmatch(self.target, f"{call.method} {call.path}") is not None
        return re.search(self.target, call.path) is not None


@dataclass
class Identify:
    shard: tuple[int, int] | None
    intents: int
    properties: dict[str, Any]
    presence: dict[str, Any] | None
    large_threshold: int | None


class _Conn:
    """One websocket. Sends are serialised: zlib-stream frames must reach the client in compression order."""

    def __init__(self, ws: web.WebSocketResponse, path: str, query: dict[str, str]) -> None:
        self.ws, self.path, self.query = ws, path, query
        self.zlib = zlib.compressobj() if query.get("compress") == "zlib-stream" else None
        self.lock = asyncio.Lock()
        self.session: Session | None = None
        self.received: list[dict[str, Any]] = []

    async def send(self, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, separators=(",", ":"))
        async with self.lock:
            if self.ws.closed:
                return
            if self.zlib is not None:
                await self.ws.send_bytes(self.zlib.compress(raw.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH))
            else:
                await self.ws.send_str(raw)


@dataclass
class Session:
    id: str
    shard: tuple[int, int]
    intents: int
    conn: _Conn | None
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)  # sent dispatches, replayed on RESUME
    resumes: int = 0

    @property
    def connected(self) -> bool:
        return self.conn is not None and not self.conn.ws.closed


def _now_iso(ts: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if ts is None else ts, dt.UTC).isoformat()


def _id(obj: int | str | dict[str, Any]) -> int:
    return int(obj["id"]) if isinstance(obj, dict) else int(obj)


def _route_pattern(template: str) -> str:
    """aiohttp pattern for a ROUTES template. Snowflake segments match digits only, so that e.g.
    /messages/pins is not taken for a message id (webhook message ids may also be "@original")."""
    digits = r"\d+|@original" if template.startswith("/webhooks") else r"\d+"

    def param(m: re.Match[str]) -> str:
        return "{" + m[1] + ":" + digits + "}"

    return r"/api/v{version:\d+}" + re.sub(r"\{(\w+_id)\}", param, template)


def _required_intent(event: str, data: dict[str, Any]) -> int | None:
    in_guild = "guild_id" in data
    if event in {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"}:
        return GUILD_MESSAGES if in_guild else DIRECT_MESSAGES
    if event.startswith("MESSAGE_REACTION_"):
        return GUILD_MESSAGE_REACTIONS if in_guild else DIRECT_MESSAGE_REACTIONS
    if event == "TYPING_START":
        return GUILD_MESSAGE_TYPING if in_guild else DIRECT_MESSAGE_TYPING
    if event in {"GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE", "THREAD_MEMBERS_UPDATE"}:
        return GUILD_MEMBERS
    if event == "PRESENCE_UPDATE":
        return GUILD_PRESENCES
    if event.startswith(("GUILD_", "CHANNEL_", "THREAD_")):
        return GUILDS
    return None  # READY, INTERACTION_CREATE, ... always delivered


class FakeDiscord(FakeServer):
    """Discord REST + gateway on 127.0.0.1. Default world: `bot`, `user` (alice), `guild`, `channel`."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_name: str = "Switchboard",
        allowed_privileged_intents: int = PRIVILEGED_INTENTS,
        heartbeat_interval_ms: int = 41_250,
        interaction_deadline_s: float = 3.0,
        webhook_token_ttl_s: float = 15 * 60,
        min_edit_interval_s: float = 1.0,
        recommended_shards: int = 1,
        echo: bool = True,
    ) -> None:
        super().__init__()
        self.token = token
        self.allowed_privileged_intents = allowed_privileged_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_deadline_s = interaction_deadline_s
        self.webhook_token_ttl_s = webhook_token_ttl_s
        self.min_edit_interval_s = min_edit_interval_s
        self.recommended_shards = recommended_shards
        self.echo = echo  # mirror REST side effects to the gateway, as Discord does

        self._mu = threading.RLock()
        self._seq = itertools.count(1)
        self._last_ms = 0
        # -- world
        self.users: dict[int, dict[str, Any]] = {}
        self.guilds: dict[int, dict[str, Any]] = {}  # guild objects without channels/members
        self.members: dict[int, dict[int, dict[str, Any]]] = {}  # guild_id -> user_id -> member
        self.channels: dict[int, dict[str, Any]] = {}  # every channel and thread, REST shape (with guild_id)
        self.messages: dict[int, FakeMessage] = {}
        self.commands: dict[int, dict[str, Any]] = {}  # registered application commands by id
        self.interactions: dict[int, FakeInteraction] = {}
        # -- observations
        self.api: list[Call] = []
        self.violations: list[Violation] = []
        self.identifies: list[Identify] = []
        self.sessions: dict[str, Session] = {}
        self.gateway_connects: list[dict[str, Any]] = []
        self.dropped: list[tuple[str, str]] = []  # (session id, event) filtered out by intents
        self.faults: list[Fault] = []
        self.buckets: dict[str, tuple[int, float]] = {}
        self._windows: dict[str, tuple[float, int]] = {}

        self.bot = self.add_user(bot_name, bot=True)
        self.user = self.add_user("alice")
        self.application: dict[str, Any] = self._application_object(owner=self.user)
        self.guild = self.add_guild("Switchboard Test Guild", owner=self.user)
        self.channel = self.add_text_channel(self.guild, "general")

    def __enter__(self) -> FakeDiscord:
        self.start()
        return self

    # ------------------------------------------------------------------ addresses
    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/resume"

    # ------------------------------------------------------------------ ids
    def snowflake(self, *, shard: tuple[int, int] | None = None) -> int:
        """A real-shaped snowflake (ms since the Discord epoch << 22); `shard` makes it land on that shard."""
        with self._mu:
            ms = max(int(time.time() * 1000) - DISCORD_EPOCH_MS, self._last_ms)
            if shard is not None:
                shard_id, count = shard
                ms += (shard_id - ms) % count
            self._last_ms = ms
            return (ms << 22) | (1 << 17) | (next(self._seq) & 0xFFF)

    # ------------------------------------------------------------------ world building
    def add_user(self, name: str, *, bot: bool = False) -> dict[str, Any]:
        uid = self.snowflake()
        user: dict[str, Any] = {
            "id": str(uid),
            "username": name.lower(),
            "global_name": None if bot else name.title(),
            "discriminator": "7316" if bot else "0",
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
        }
        if bot:
            user["bot"] = True
        with self._mu:
            self.users[uid] = user
        return user

    def add_guild(
        self, name: str, *, owner: dict[str, Any] | None = None, shard: tuple[int, int] | None = None
    ) -> dict[str, Any]:
        """A guild with @everyone, the bot's managed role and the bot (and owner) as members."""
        gid = self.snowflake(shard=shard)
        owner = owner or self.user
        bot_role = self._role(self.snowflake(), self.bot["username"].title(), BOT_PERMISSIONS, position=1)
        bot_role["managed"] = True
        bot_role["tags"] = {"bot_id": self.bot["id"]}
        guild: dict[str, Any] = {
            "id": str(gid),
            "name": name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": owner["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [self._role(gid, "@everyone", EVERYONE_PERMISSIONS), bot_role],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500_000,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
        }
        with self._mu:
            self.guilds[gid] = guild
            self.members[gid] = {}
        self.add_member(guild, self.bot, roles=[bot_role], announce=False)
        if owner is not self.bot:
            self.add_member(guild, owner, announce=False)
        self._announce("GUILD_CREATE", lambda: self._guild_create(gid))
        return guild

    def add_member(
        self,
        guild: int | dict[str, Any],
        user: dict[str, Any],
        *,
        roles: list[dict[str, Any]] | None = None,
        announce: bool = True,
    ) -> dict[str, Any]:
        gid = _id(guild)
        member: dict[str, Any] = {
            "user": user,
            "nick": None,
            "avatar": None,
            "banner": None,
            "roles": [r["id"] for r in roles or []],
            "joined_at": _now_iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        with self._mu:
            self.members[gid][_id(user)] = member
        if announce:
            self._announce("GUILD_MEMBER_ADD", lambda: {**member, "guild_id": str(gid)})
        return member

    def add_text_channel(self, guild: int | dict[str, Any], name: str, *, topic: str | None = None) -> dict[str, Any]:
        gid = _id(guild)
        cid = self.snowflake()
        with self._mu:
            position = sum(1 for c in self.channels.values() if c.get("guild_id") == str(gid))
            channel = {
                "id": str(cid),
                "type": 0,
                "guild_id": str(gid),
                "name": name,
                "position": position,
                "permission_overwrites": [],
                "topic": topic,
                "nsfw": False,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "parent_id": None,
                "flags": 0,
                "default_auto_archive_duration": 1440,
                "default_thread_rate_limit_per_user": 0,
                "last_pin_timestamp": None,
            }
            self.channels[cid] = channel
        self._announce("CHANNEL_CREATE", lambda: dict(channel))
        return channel

    def add_thread(
        self,
        parent: int | dict[str, Any],
        name: str,
        *,
        owner: dict[str, Any] | None = None,
        private: bool = False,
    ) -> dict[str, Any]:
        thread = self._new_thread(_id(parent), name, owner or self.user, private=private, thread_id=None)
        self._announce("THREAD_CREATE", lambda: dict(thread))
        return thread

    def dm_channel(self, user: dict[str, Any]) -> dict[str, Any]:
        """The DM channel between the bot and `user` (type 1), created on first use."""
        with self._mu:
            for ch in self.channels.values():
                if ch["type"] == 1 and ch["recipients"][0]["id"] == user["id"]:
                    return ch
            cid = self.snowflake()
            ch = {"id": str(cid), "type": 1, "last_message_id": None, "flags": 0, "recipients": [user]}
            self.channels[cid] = ch
            return ch

    def _role(self, rid: int, name: str, permissions: int, *, position: int = 0) -> dict[str, Any]:
        return {
            "id": str(rid),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _application_object(self, owner: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.bot["id"],
            "name": self.bot["username"].title(),
            "icon": None,
            "description": "Many LLMs, one thread at a time.",
            "type": None,
            "bot": self.bot,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner,
            "verify_key": "0" * 64,
            "flags": (1 << 19) | (1 << 23),  # GATEWAY_MESSAGE_CONTENT(_LIMITED) enabled
            "team": None,
            "summary": "",
            "hook": True,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "integration_types_config": {"0": {}},
            "approximate_guild_count": 1,
            "install_params": None,
            "custom_install_url": None,
        }

    def _new_thread(
        self,
        parent_id: int,
        name: str,
        owner: dict[str, Any],
        *,
        private: bool,
        thread_id: int | None,
        auto_archive: int = 1440,
    ) -> dict[str, Any]:
        with self._mu:
            parent = self.channels.get(parent_id)
            if parent is None or parent["type"] not in (0, 5, 15):
                raise DiscordError(404, 10003, "Unknown Channel")
            tid = thread_id or self.snowflake()
            now = _now_iso()
            thread: dict[str, Any] = {
                "id": str(tid),
                "type": 12 if private else 11,
                "guild_id": parent["guild_id"],
                "parent_id": str(parent_id),
                "owner_id": owner["id"],
                "name": name,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "flags": 0,
                "message_count": 0,
                "member_count": 1,
                "total_message_sent": 0,
                "member_ids_preview": [owner["id"]],
                "thread_metadata": {
                    "archived": False,
                    "archive_timestamp": now,
                    "auto_archive_duration": auto_archive,
                    "locked": False,
                    "create_timestamp": now,
                },
            }
            if private:
                thread["thread_metadata"]["invitable"] = True
            self.channels[tid] = thread
            return thread

    # ------------------------------------------------------------------ event builders
    def message_create(
        self,
        channel: int | dict[str, Any],
        author: dict[str, Any] | None = None,
        content: str = "",
        *,
        mentions: list[dict[str, Any]] | None = None,
        embeds: list[dict[str, Any]] | None = None,
        reply_to: int | dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE payload from a user, stored as a real message (so the bot can reply/thread it).

        Discord derives `mentions` from `<@id>` tokens in the content; users passed in `mentions` whose token
        is missing get it prepended, so the payload stays self-consistent."""
        author = author or self.user
        for user in mentions or []:
            if f"<@{user['id']}>" not in content and f"<@!{user['id']}>" not in content:
                content = f"<@{user['id']}> {content}"
        extra: dict[str, Any] = {}
        if reply_to is not None:
            ref = self.messages[_id(reply_to)]
            extra = {
                "type": 19,
                "message_reference": {
                    "type": 0,
                    "message_id": str(ref.id),
                    "channel_id": str(ref.channel_id),
                },
                "referenced_message": ref.data,
            }
        msg = self._store_message(_id(channel), author, {"content": content, "embeds": embeds or []}, **extra)
        return self._gateway_message(msg)

    def slash_command(
        self,
        name: str,
        options: dict[str, Any] | list[dict[str, Any]] | None = None,
        *,
        channel: int | dict[str, Any] | None = None,
        guild: int | dict[str, Any] | None = None,
        user: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """INTERACTION_CREATE type 2 for `/name` ("group sub" for subcommands). Uses the registered command's
        id, guild scope and option types when the bot has synced it."""
        return self._command_interaction(APPLICATION_COMMAND, name, options, None, channel, guild, user, locale)

    def autocomplete(
        self,
        name: str,
        focused: str,
        value: str = "",
        options: dict[str, Any] | None = None,
        *,
        channel: int | dict[str, Any] | None = None,
        guild: int | dict[str, Any] | None = None,
        user: dict[str, Any] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """INTERACTION_CREATE type 4: the user is typing `value` into option `focused` of `/name`."""
        opts = {**(options or {}), focused: value}
        return self._command_interaction(AUTOCOMPLETE, name, opts, focused, channel, guild, user, locale)

    def component_click(
        self,
        custom_id: str,
        message: int | dict[str, Any],
        *,
        user: dict[str, Any] | None = None,
        component_type: int = 2,
        values: list[str] | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """INTERACTION_CREATE type 3: a click on a button (2) or select (3, `values`) of a stored message."""
        msg = self.messages[_id(message)]
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        payload = self._interaction_base(MESSAGE_COMPONENT, msg.channel_id, user or self.user, locale)
        payload["data"] = data
        payload["message"] = dict(msg.data)
        return self._register_interaction(payload)

    def _command_interaction(
        self,
        itype: int,
        name: str,
        options: dict[str, Any] | list[dict[str, Any]] | None,
        focused: str | None,
        channel: int | dict[str, Any] | None,
        guild: int | dict[str, Any] | None,
        user: dict[str, Any] | None,
        locale: str,
    ) -> dict[str, Any]:
        channel_id = _id(channel) if channel is not None else _id(self.channel)
        ch = self.channels[channel_id]
        gid = _id(guild) if guild is not None else (int(ch["guild_id"]) if "guild_id" in ch else None)
        parts = name.split()
        command = self._find_command(parts[0], gid)
        resolved: dict[str, Any] = {}
        if isinstance(options, list):
            opts = options
        else:
            schema = self._option_schema(command, parts[1:])
            opts = [self._option(k, v, schema.get(k), resolved, gid) for k, v in (options or {}).items()]
        for opt in opts:
            if focused is not None and opt["name"] == focused:
                opt["focused"] = True
        # Subcommands wrap the options: /group sub -> [{type 2, options: [{type 1, options: [...]}]}]
        for sub, kind in zip(reversed(parts[1:]), (_SUB_COMMAND, _SUB_GROUP), strict=False):
            opts = [{"name": sub, "type": kind, "options": opts}]
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self.snowflake()),
            "name": parts[0],
            "type": 1,
        }
        if opts:
            data["options"] = opts
        if resolved:
            data["resolved"] = resolved
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        payload = self._interaction_base(itype, channel_id, user or self.user, locale, gid)
        payload["data"] = data
        return self._register_interaction(payload)

    def _find_command(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        with self._mu:
            scoped = [c for c in self.commands.values() if c["name"] == name and c.get("type", 1) == 1]
        for c in scoped:
            if guild_id is not None and c.get("guild_id") == str(guild_id):
                return c
        return next((c for c in scoped if not c.get("guild_id")), None)

    @staticmethod
    def _option_schema(command: dict[str, Any] | None, subs: list[str]) -> dict[str, dict[str, Any]]:
        options = (command or {}).get("options") or []
        for sub in subs:
            options = next((o.get("options") or [] for o in options if o["name"] == sub), [])
        return {o["name"]: o for o in options}

    def _option(
        self, name: str, value: Any, schema: dict[str, Any] | None, resolved: dict[str, Any], gid: int | None
    ) -> dict[str, Any]:
        if schema is not None:
            kind = int(schema["type"])
        elif isinstance(value, bool):
            kind = _BOOLEAN
        elif isinstance(value, int):
            kind = _INTEGER
        elif isinstance(value, float):
            kind = _NUMBER
        else:
            kind = _STRING
        if kind == _USER:
            user = value if isinstance(value, dict) else self.users[int(value)]
            resolved.setdefault("users", {})[user["id"]] = user
            member = self.members.get(gid or 0, {}).get(int(user["id"]))
            if member is not None:
                resolved.setdefault("members", {})[user["id"]] = {k: v for k, v in member.items() if k != "user"} | {
                    "permissions": str(EVERYONE_PERMISSIONS)
                }
            value = user["id"]
        elif kind == _CHANNEL:
            ch = value if isinstance(value, dict) else self.channels[int(value)]
            resolved.setdefault("channels", {})[ch["id"]] = ch | {"permissions": str(BOT_PERMISSIONS)}
            value = ch["id"]
        return {"name": name, "type": kind, "value": value}

    def _interaction_base(
        self, itype: int, channel_id: int, user: dict[str, Any], locale: str, gid: int | None = None
    ) -> dict[str, Any]:
        ch = self.channels[channel_id]
        gid = gid if gid is not None else (int(ch["guild_id"]) if "guild_id" in ch else None)
        iid = self.snowflake()
        token = base64.urlsafe_b64encode(f"interaction:{iid}:{secrets.token_urlsafe(48)}".encode()).decode()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": self.application["id"],
            "type": itype,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(BOT_PERMISSIONS),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": str(channel_id),
            "channel": ch | {"permissions": str(EVERYONE_PERMISSIONS)},
        }
        if gid is not None:
            member = self.members[gid].get(_id(user)) or self.add_member(gid, user, announce=False)
            payload |= {
                "guild_id": str(gid),
                "guild_locale": "en-US",
                "context": 0,
                "guild": {"id": str(gid), "locale": "en-US", "features": []},
                "member": member | {"permissions": str(EVERYONE_PERMISSIONS)},
                "authorizing_integration_owners": {"0": str(gid)},
            }
        else:
            payload |= {"user": user, "context": 1, "authorizing_integration_owners": {"1": user["id"]}}
        return payload

    def _register_interaction(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self._mu:
            self.interactions[int(payload["id"])] = FakeInteraction(payload, time.monotonic())
        return payload

    # ------------------------------------------------------------------ gateway control (call from tests)
    def dispatch(self, event: str, data: dict[str, Any], *, shard_id: int | None = None) -> int:
        """Send a DISPATCH (op 0) to every session that should get it (guild's shard, intents). Returns how
        many sessions received it. Blocks until written; safe from sync and async test code."""
        return int(self._run(self._dispatch(event, data, shard_id)))

    def reconnect(self, shard_id: int | None = None) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs on `resume_gateway_url`."""

        async def go() -> None:
            for s in list(self.sessions.values()):
                if s.connected and (shard_id is None or s.shard[0] == shard_id):
                    assert s.conn is not None
                    await s.conn.send({"op": 7, "d": None, "s": None, "t": None})

        self._run(go())

    def _run(self, coro: Awaitable[Any]) -> Any:
        assert self._loop is not None, "start the fake first"
        if threading.current_thread() is self._thread:
            raise RuntimeError("dispatch() blocks; inside the server use `await self._dispatch(...)`")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    def _announce(self, event: str, build: Callable[[], dict[str, Any]]) -> None:
        """World changes made while clients are connected reach them, as on Discord."""
        if self._loop is None or not any(s.connected for s in self.sessions.values()):
            return
        if threading.current_thread() is self._thread:
            self._loop.create_task(self._dispatch(event, build()))
        else:
            self.dispatch(event, build())

    def _sessions_for(self, event: str, data: dict[str, Any]) -> list[Session]:
        gid = data.get("id") if event in {"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"} else None
        gid = gid or data.get("guild_id")
        picked = []
        for s in self.sessions.values():
            shard_id, count = s.shard
            home = (int(gid) >> 22) % count if gid else 0  # DMs go to shard 0
            if home == shard_id:
                picked.append(s)
        return picked

    async def _dispatch(self, event: str, data: dict[str, Any], shard_id: int | None = None) -> int:
        if event == "INTERACTION_CREATE":
            with self._mu:
                inter = self.interactions.get(int(data["id"]))
                if inter is not None:
                    inter.sent_at = time.monotonic()  # the 3 s clock starts when Discord sends the event
        sessions = (
            [s for s in self.sessions.values() if s.shard[0] == shard_id]
            if shard_id is not None
            else self._sessions_for(event, data)
        )
        sent = 0
        for s in sessions:
            needed = _required_intent(event, data)
            if needed is not None and not s.intents & needed:
                self.dropped.append((s.id, event))
                continue
            await self._send_dispatch(s, event, self._redact(s, event, data))
            sent += 1
        return sent

    def _redact(self, session: Session, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """Without MESSAGE_CONTENT, guild messages arrive empty unless the bot wrote them or is mentioned."""
        if event not in {"MESSAGE_CREATE", "MESSAGE_UPDATE"} or session.intents & MESSAGE_CONTENT:
            return data
        bot_id = self.bot["id"]
        if "guild_id" not in data or data.get("author", {}).get("id") == bot_id:
            return data
        if any(u.get("id") == bot_id for u in data.get("mentions", [])):
            return data
        return data | {"content": "", "embeds": [], "attachments": [], "components": []}

    async def _send_dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.buffer.append(payload)
        del session.buffer[:-1000]
        if session.connected:
            assert session.conn is not None
            await session.conn.send(payload)

    async def wait_connected(self, shards: int = 1, timeout: float = 10.0) -> None:
        """Until `shards` sessions have IDENTIFYed and got their GUILD_CREATEs."""
        await self.wait_until(lambda: sum(s.connected for s in self.sessions.values()) >= shards, timeout)

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(0.01)

    async def wait_for_call(self, action: str, *, count: int = 1, timeout: float = 5.0) -> Call:
        """The `count`-th completed call of `action` (an action name from ROUTES, e.g. "edit_original")."""
        await self.wait_until(lambda: len(self.api_calls(action)) >= count, timeout)
        return self.api_calls(action)[count - 1]

    # ------------------------------------------------------------------ inspection
    def api_calls(self, action: str | None = None, *, method: str | None = None, path: str | None = None) -> list[Call]:
        """Completed REST calls; `path` is a regex searched in the path relative to /api/v10."""
        with self._mu:
            return [
                c
                for c in self.api
                if c.status
                and (action is None or c.action == action)
                and (method is None or c.method == method)
                and (path is None or re.search(path, c.path))
            ]

    def messages_in(self, channel: int | dict[str, Any], *, include_deleted: bool = False) -> list[FakeMessage]:
        cid = _id(channel)
        with self._mu:
            return [m for m in self.messages.values() if m.channel_id == cid and (include_deleted or not m.deleted)]

    def interaction(self, interaction: int | dict[str, Any]) -> FakeInteraction:
        return self.interactions[_id(interaction)]

    def original_message(self, interaction: int | dict[str, Any]) -> FakeMessage | None:
        mid = self.interaction(interaction).original_message_id
        return None if mid is None else self.messages[mid]

    def threads_of(self, parent: int | dict[str, Any]) -> list[dict[str, Any]]:
        pid = str(_id(parent))
        with self._mu:
            return [c for c in self.channels.values() if c.get("parent_id") == pid and c["type"] in (10, 11, 12)]

    # ------------------------------------------------------------------ faults
    def fail(
        self,
        target: str,
        status: int,
        body: Any,
        *,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
    ) -> Fault:
        """Answer matching calls with `status`/`body`. `target`: an action name ("send_message"), a route
        template ("PATCH /channels/{channel_id}/messages/{message_id}"), "METHOD regex" fully matched against
        "METHOD path", or a regex searched in the path. `times=None` fails forever."""
        fault = Fault(target, status, body, headers or {}, times)
        with self._mu:
            self.faults.append(fault)
        return fault

    def forbid(
        self,
        target: str,
        *,
        code: int = 50013,
        message: str = "Missing Permissions",
        times: int | None = None,
    ) -> Fault:
        return self.fail(target, 403, {"message": message, "code": code}, times=times)

    def rate_limit(self, target: str, *, retry_after: float = 0.5, times: int = 1, is_global: bool = False) -> Fault:
        """429 with Discord's body and headers. discord.py sleeps `retry_after` and retries (needs `Via`)."""
        now = time.time()
        headers = {
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers |= {
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{now + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": hashlib.md5(target.encode()).hexdigest()[:32],  # noqa: S324 - an id
            }
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        return self.fail(target, 429, body, headers=headers, times=times)

    def set_bucket(self, route: str, *, limit: int, per: float) -> None:
        """Enforce a fixed-window bucket on a route template, per major parameter, with real X-RateLimit-*
        headers on every response (discord.py then waits pre-emptively; going over gets a 429)."""
        with self._mu:
            self.buckets[route] = (limit, per)

    def clear_faults(self) -> None:
        with self._mu:
            self.faults.clear()

    # ------------------------------------------------------------------ server
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._gateway)
        app.router.add_get("/resume", self._gateway)
        for method, template, action in ROUTES:
            app.router.add_route(method, _route_pattern(template), self._rest_handler(template, action))
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)

    def _rest_handler(self, template: str, action: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve_rest(request, template, action)

        return handle

    async def _unknown_route(self, request: web.Request) -> web.StreamResponse:
        """Endpoints the fake lacks answer Discord's 404 and show up as action "unknown" in api_calls()."""
        body = {"message": "404: Not Found", "code": 0}
        path = re.sub(r"^/api/v\d+", "", request.path)
        call = Call(
            request.method,
            path,
            f"{request.method} {path}",
            "unknown",
            {},
            dict(request.query),
            None,
            [],
            dict(request.headers),
            time.time(),
            404,
            body,
        )
        with self._mu:
            self.api.append(call)
        return _json_response(body, status=404, headers={"Via": "1.1 google"})

    async def _serve_rest(self, request: web.Request, template: str, action: str) -> web.StreamResponse:
        params = {k: v for k, v in request.match_info.items() if k != "version"}
        if params.get("message_id") == "@original":
            action = action.replace("webhook_message", "original")
        body, files = self._parse_body(request, await request.read())
        path = request.path.split(f"/api/v{request.match_info['version']}", 1)[1]
        call = Call(
            request.method,
            path,
            f"{request.method} {template}",
            action,
            params,
            dict(request.query),
            body,
            files,
            dict(request.headers),
            time.time(),
        )
        with self._mu:
            self.api.append(call)
        headers = {"Via": "1.1 google"}
        try:
            if action not in _NO_AUTH and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            fault = self._match_fault(call)
            if fault is not None:
                call.status, call.response = fault.status, fault.body
                return _json_response(fault.body, status=fault.status, headers=headers | fault.headers)
            headers |= self._consume_bucket(call)
            handler: Callable[[Call], Awaitable[Any]] = getattr(self, f"_do_{action}")
            result = await handler(call)
        except DiscordError as err:
            return self._error(call, err, headers)
        except Exception as exc:  # a bug in the fake: fail fast (a 500 would make discord.py retry 5 times)
            self.violations.append(Violation("fake_error", repr(exc), True, call))
            return self._error(call, DiscordError(400, 0, f"fake discord error: {exc!r}"), headers)
        if result is None:
            call.status = 204
            return web.Response(status=204, headers=headers)
        call.status, call.response = 200, result
        return _json_response(result, headers=headers)

    @staticmethod
    def _error(call: Call, err: DiscordError, headers: dict[str, str]) -> web.Response:
        call.status, call.response = err.status, err.body()
        if isinstance(err, _RateLimited):
            headers = headers | err.headers
        return _json_response(err.body(), status=err.status, headers=headers)

    @staticmethod
    def _parse_body(request: web.Request, raw: bytes) -> tuple[Any, list[dict[str, Any]]]:
        ctype = request.headers.get("Content-Type", "")
        if not raw:
            return None, []
        if ctype.startswith("multipart/"):
            # discord.py sends files as multipart with the JSON in a `payload_json` part.
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
            )
            body: Any = None
            files: list[dict[str, Any]] = []
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                raw_part = part.get_payload(decode=True)
                data = raw_part if isinstance(raw_part, bytes) else b""
                if name == "payload_json":
                    body = json.loads(data)
                else:
                    files.append(
                        {
                            "field": name,
                            "filename": part.get_filename(),
                            "size": len(data),
                            "content_type": part.get_content_type(),
                            "data": data,
                        }
                    )
            return body, files
        try:
            return json.loads(raw), []
        except ValueError:
            return raw.decode(errors="replace"), []

    def _match_fault(self, call: Call) -> Fault | None:
        with self._mu:
            for fault in self.faults:
                if fault.matches(call):
                    fault.hits += 1
                    return fault
        return None

    def _consume_bucket(self, call: Call) -> dict[str, str]:
        with self._mu:
            conf = self.buckets.get(call.route)
            if conf is None:
                return {}
            limit, per = conf
            major = call.params.get("channel_id") or call.params.get("guild_id") or call.params.get("token", "")
            key = f"{call.route}:{major}"
            now = time.time()
            start, used = self._windows.get(key, (now, 0))
            if now - start >= per:
                start, used = now, 0
            reset_after = max(0.0, start + per - now)
            bucket = hashlib.md5(call.route.encode()).hexdigest()[:32]  # noqa: S324 - an id, not security
            headers = {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Bucket": bucket,
                "X-RateLimit-Scope": "user",
                "X-RateLimit-Reset": f"{start + per:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            }
            if used >= limit:
                self.violations.append(Violation("rate_limited", f"{key} over {limit}/{per}s", True, call))
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": round(reset_after, 3),
                    "global": False,
                }
                raise _RateLimited(
                    body, headers | {"X-RateLimit-Remaining": "0", "Retry-After": str(math.ceil(reset_after))}
                )
            self._windows[key] = (start, used + 1)
            return headers | {"X-RateLimit-Remaining": str(limit - used - 1)}

    # ------------------------------------------------------------------ REST: identity and gateway
    async def _do_get_gateway(self, call: Call) -> Any:
        return {"url": self.gateway_url.rstrip("/")}

    async def _do_get_gateway_bot(self, call: Call) -> Any:
        return {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    async def _do_get_me(self, call: Call) -> Any:
        return self._me()

    def _me(self) -> dict[str, Any]:
        return self.bot | {
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": "en-US",
            "premium_type": 0,
            "bio": "",
        }

    async def _do_get_user(self, call: Call) -> Any:
        user = self.users.get(int(call.params["user_id"]))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return user

    async def _do_application_info(self, call: Call) -> Any:
        return self.application

    async def _do_create_dm(self, call: Call) -> Any:
        user = self.users.get(int(call.json["recipient_id"]))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return self.dm_channel(user)

    # ------------------------------------------------------------------ REST: application commands
    def _check_app(self, call: Call) -> None:
        if call.params.get("application_id") != self.application["id"]:
            raise DiscordError(404, 10002, "Unknown Application")

    def _upsert_commands(self, call: Call, guild_id: str | None) -> list[dict[str, Any]]:
        self._check_app(call)
        out = []
        with self._mu:
            old = {(c["name"], c.get("type", 1)): c for c in self.commands.values() if c.get("guild_id") == guild_id}
            for c in list(self.commands.values()):
                if c.get("guild_id") == guild_id:
                    del self.commands[int(c["id"])]
            for spec in call.json or []:
                prev = old.get((spec["name"], spec.get("type", 1)))
                cid = int(prev["id"]) if prev else self.snowflake()
                cmd = {
                    "id": str(cid),
                    "application_id": self.application["id"],
                    "version": str(self.snowflake()),
                    "type": 1,
                    "description": "",
                    "options": [],
                    "default_member_permissions": None,
                    "dm_permission": True,
                    "nsfw": False,
                    "contexts": None,
                    "integration_types": [0],
                    **{k: v for k, v in spec.items() if v is not None},
                }
                if guild_id:
                    cmd["guild_id"] = guild_id
                self.commands[cid] = cmd
                out.append(cmd)
        return out

    async def _do_bulk_upsert_global_commands(self, call: Call) -> Any:
        return self._upsert_commands(call, None)

    async def _do_bulk_upsert_guild_commands(self, call: Call) -> Any:
        if int(call.params["guild_id"]) not in self.guilds:
            raise DiscordError(403, 50001, "Missing Access")
        return self._upsert_commands(call, call.params["guild_id"])

    async def _do_get_global_commands(self, call: Call) -> Any:
        self._check_app(call)
        return [c for c in self.commands.values() if not c.get("guild_id")]

    async def _do_get_guild_commands(self, call: Call) -> Any:
        self._check_app(call)
        return [c for c in self.commands.values() if c.get("guild_id") == call.params["guild_id"]]

    # ------------------------------------------------------------------ REST: guilds and channels
    def _guild(self, gid: int | str) -> dict[str, Any]:
        guild = self.guilds.get(int(gid))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        return guild

    def _channel(self, cid: int | str) -> dict[str, Any]:
        ch = self.channels.get(int(cid))
        if ch is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return ch

    async def _do_get_guild(self, call: Call) -> Any:
        return self._guild(call.params["guild_id"])

    async def _do_get_guild_channels(self, call: Call) -> Any:
        gid = str(self._guild(call.params["guild_id"])["id"])
        return [c for c in self.channels.values() if c.get("guild_id") == gid and c["type"] not in (10, 11, 12)]

    async def _do_get_member(self, call: Call) -> Any:
        member = self.members.get(int(self._guild(call.params["guild_id"])["id"]), {}).get(int(call.params["user_id"]))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return member

    async def _do_get_channel(self, call: Call) -> Any:
        return self._channel(call.params["channel_id"])

    async def _do_edit_channel(self, call: Call) -> Any:
        ch = self._channel(call.params["channel_id"])
        body = call.json or {}
        with self._mu:
            for key in ("name", "topic", "rate_limit_per_user", "nsfw", "flags"):
                if key in body:
                    ch[key] = body[key]
            if "thread_metadata" in ch:
                for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                    if key in body:
                        ch["thread_metadata"][key] = body[key]
                if "archived" in body:
                    ch["thread_metadata"]["archive_timestamp"] = _now_iso()
        is_thread = ch["type"] in (10, 11, 12)
        await self._echo("THREAD_UPDATE" if is_thread else "CHANNEL_UPDATE", dict(ch))
        return ch

    async def _do_typing(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        return None

    async def _do_join_thread(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        return None

    async def _do_add_thread_member(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        return None

    # ------------------------------------------------------------------ REST: messages
    def _message(self, cid: int | str, mid: int | str) -> FakeMessage:
        msg = self.messages.get(int(mid))
        if msg is None or msg.deleted or msg.channel_id != int(cid) or msg.ephemeral:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    async def _do_get_messages(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        q = call.query
        limit = min(int(q.get("limit", 50)), 100)
        msgs = sorted(
            (m for m in self.messages_in(int(call.params["channel_id"])) if not m.ephemeral),
            key=lambda m: m.id,
            reverse=True,
        )
        if "before" in q:
            msgs = [m for m in msgs if m.id < int(q["before"])]
        if "after" in q:
            msgs = [m for m in msgs if m.id > int(q["after"])][-limit:]
        return [m.data for m in msgs[:limit]]

    async def _do_get_message(self, call: Call) -> Any:
        return self._message(call.params["channel_id"], call.params["message_id"]).data

    async def _do_send_message(self, call: Call) -> Any:
        self._channel(call.params["channel_id"])
        body = call.json or {}
        self._validate_message(call, body, creating=True)
        extra: dict[str, Any] = {}
        ref = body.get("message_reference")
        if ref:
            target = self.messages.get(int(ref["message_id"]))
            if target is None:
                raise _form_error(
                    {"message_reference": _field_error("MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")}
                )
            extra = {
                "type": 19,
                "referenced_message": target.data,
                "message_reference": {
                    "type": 0,
                    "message_id": str(target.id),
                    "channel_id": str(target.channel_id),
                },
            }
        msg = self._store_message(int(call.params["channel_id"]), self.bot, body, files=call.files, **extra)
        await self._echo("MESSAGE_CREATE", self._gateway_message(msg))
        return msg.data

    async def _do_edit_message(self, call: Call) -> Any:
        msg = self._message(call.params["channel_id"], call.params["message_id"])
        if msg.data["author"]["id"] != self.bot["id"]:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        return await self._edit(call, msg, call.json)

    async def _do_delete_message(self, call: Call) -> Any:
        msg = self._message(call.params["channel_id"], call.params["message_id"])
        await self._delete(msg)
        return None

    async def _do_add_reaction(self, call: Call) -> Any:
        self._message(call.params["channel_id"], call.params["message_id"])
        return None

    async def _do_remove_reaction(self, call: Call) -> Any:
        self._message(call.params["channel_id"], call.params["message_id"])
        return None

    async def _do_create_thread_from_message(self, call: Call) -> Any:
        msg = self._message(call.params["channel_id"], call.params["message_id"])
        body = call.json or {}
        self._validate_thread_name(call, body.get("name"))
        if msg.data.get("thread") or int(msg.data["id"]) in self.channels:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        # Discord gives a thread started from a message the message's own id.
        thread = self._new_thread(
            msg.channel_id,
            body["name"],
            self.bot,
            private=False,
            thread_id=msg.id,
            auto_archive=body.get("auto_archive_duration") or 1440,
        )
        with self._mu:
            msg.data["thread"] = thread
            msg.data["flags"] = msg.data.get("flags", 0) | (1 << 5)  # HAS_THREAD
        await self._echo("THREAD_CREATE", self._thread_create_event(thread))
        return thread

    async def _do_create_thread(self, call: Call) -> Any:
        body = call.json or {}
        self._validate_thread_name(call, body.get("name"))
        private = int(body.get("type") or 12) == 12
        thread = self._new_thread(
            int(call.params["channel_id"]),
            body["name"],
            self.bot,
            private=private,
            thread_id=None,
            auto_archive=body.get("auto_archive_duration") or 1440,
        )
        await self._echo("THREAD_CREATE", self._thread_create_event(thread))
        return thread

    def _thread_create_event(self, thread: dict[str, Any]) -> dict[str, Any]:
        member = {"id": thread["id"], "user_id": self.bot["id"], "join_timestamp": _now_iso(), "flags": 1}
        return thread | {"newly_created": True, "member": member}

    def _validate_thread_name(self, call: Call, name: Any) -> None:
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            self.violations.append(Violation("thread_name_length", repr(name)[:120], True, call))
            raise _form_error({"name": _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")})

    def _validate_message(self, call: Call, body: dict[str, Any], *, creating: bool) -> None:
        errors: dict[str, Any] = {}
        content = body.get("content")
        if isinstance(content, str) and len(content) > 2000:
            errors["content"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        embeds = body.get("embeds") or []
        total = 0
        embed_errors: dict[str, Any] = {}
        for i, embed in enumerate(embeds):
            limits = {"title": 256, "description": 4096}
            for key, limit in limits.items():
                text = embed.get(key) or ""
                total += len(text)
                if len(text) > limit:
                    embed_errors.setdefault(str(i), {})[key] = _field_error(
                        "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."
                    )
            for f in embed.get("fields") or []:
                total += len(f.get("name", "")) + len(f.get("value", ""))
            total += len((embed.get("footer") or {}).get("text", "")) + len((embed.get("author") or {}).get("name", ""))
        if len(embeds) > 10:
            embed_errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 10 or fewer in length."}]
        elif total > 6000:
            embed_errors["_errors"] = [
                {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}
            ]
        if embed_errors:
            errors["embeds"] = embed_errors
        if errors:
            self.violations.append(Violation("invalid_message", json.dumps(errors)[:500], True, call))
            raise _form_error(errors)
        has_body = (
            content or embeds or call.files or body.get("sticker_ids") or body.get("components") or body.get("poll")
        )
        if creating and not has_body:
            self.violations.append(Violation("empty_message", "", True, call))
            raise DiscordError(400, 50006, "Cannot send an empty message")

    def _store_message(
        self,
        channel_id: int,
        author: dict[str, Any],
        body: dict[str, Any],
        *,
        files: list[dict[str, Any]] | None = None,
        flags: int = 0,
        **extra: Any,
    ) -> FakeMessage:
        ch = self._channel(channel_id)
        mid = self.snowflake()
        content = body.get("content") or ""
        mentioned = {u for u in re.findall(r"<@!?(\d+)>", content)}
        data: dict[str, Any] = {
            "id": str(mid),
            "type": 0,
            "content": content,
            "channel_id": str(channel_id),
            "author": author,
            "attachments": [self._attachment(f) for f in files or []],
            "embeds": body.get("embeds") or [],
            "mentions": [self.users[int(u)] for u in mentioned if int(u) in self.users],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts")),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": flags | (body.get("flags") or 0),
            "components": body.get("components") or [],
        }
        if "nonce" in body:
            data["nonce"] = body["nonce"]
        data |= extra
        gid = int(ch["guild_id"]) if "guild_id" in ch else None
        with self._mu:
            self.messages[mid] = FakeMessage(data, gid, time.time())
            if not data["flags"] & EPHEMERAL:
                ch["last_message_id"] = str(mid)
                if "thread_metadata" in ch:
                    ch["message_count"] += 1
                    ch["total_message_sent"] += 1
        return self.messages[mid]

    def _attachment(self, f: dict[str, Any]) -> dict[str, Any]:
        aid = self.snowflake()
        url = f"{self.url}/attachments/{aid}/{f['filename']}"
        return {
            "id": str(aid),
            "filename": f["filename"],
            "size": f["size"],
            "url": url,
            "proxy_url": url,
            "content_type": f["content_type"],
        }

    async def _edit(
        self, call: Call, msg: FakeMessage, body: dict[str, Any] | None, *, via: str | None = None
    ) -> dict[str, Any]:
        body = body or {}
        self._validate_message(call, body, creating=False)
        now = time.time()
        with self._mu:
            if msg.edits and now - msg.edits[-1].at < self.min_edit_interval_s:
                self.violations.append(
                    Violation(
                        "edits_too_fast",
                        f"message {msg.id} edited {now - msg.edits[-1].at:.3f}s after last edit",
                        False,
                        call,
                    )
                )
            for key in ("content", "embeds", "components"):
                if key in body:
                    msg.data[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
            if "flags" in body and body["flags"] is not None:
                msg.data["flags"] = (msg.data["flags"] & (EPHEMERAL | LOADING)) | body["flags"]
            if "attachments" in body or call.files:
                kept = {str(a.get("id")) for a in body.get("attachments") or []}
                msg.data["attachments"] = [a for a in msg.data["attachments"] if a["id"] in kept] + [
                    self._attachment(f) for f in call.files
                ]
            msg.data["flags"] &= ~LOADING  # editing a deferred response replaces "thinking..."
            msg.data["mentions"] = [
                self.users[int(u)] for u in set(re.findall(r"<@!?(\d+)>", msg.content)) if int(u) in self.users
            ]
            msg.data["edited_timestamp"] = _now_iso(now)
            msg.edits.append(Edit(now, body, msg.content, via or call.action))
        if not msg.ephemeral:
            await self._echo("MESSAGE_UPDATE", self._gateway_message(msg))
        return msg.data

    async def _delete(self, msg: FakeMessage) -> None:
        with self._mu:
            msg.deleted = True
        if not msg.ephemeral:
            event = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
            if msg.guild_id is not None:
                event["guild_id"] = str(msg.guild_id)
            await self._echo("MESSAGE_DELETE", event)

    def _gateway_message(self, msg: FakeMessage) -> dict[str, Any]:
        """Gateway message events add guild_id and a partial member (no user) to the REST shape."""
        data = dict(msg.data)
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
            member = self.members[msg.guild_id].get(int(data["author"]["id"]))
            if member is not None and not data.get("webhook_id"):
                data["member"] = {k: v for k, v in member.items() if k != "user"}
        return data

    async def _echo(self, event: str, data: dict[str, Any]) -> None:
        if self.echo:
            await self._dispatch(event, data)

    # ------------------------------------------------------------------ REST: interactions
    async def _do_interaction_callback(self, call: Call) -> Any:
        inter = self.interactions.get(int(call.params["interaction_id"]))
        if inter is None or inter.token != call.params["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        elapsed = time.monotonic() - inter.sent_at
        if inter.response_type is not None:
            self.violations.append(Violation("already_acknowledged", f"interaction {inter.id}", True, call))
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if elapsed > self.interaction_deadline_s:
            self.violations.append(
                Violation(
                    "late_interaction_response",
                    f"interaction {inter.id} answered after {elapsed:.2f}s",
                    True,
                    call,
                )
            )
            raise DiscordError(404, 10062, "Unknown interaction")
        body = call.json or {}
        rtype = int(body.get("type", 0))
        if rtype not in _ALLOWED_CALLBACKS.get(inter.type, set()):
            self.violations.append(
                Violation("bad_callback_type", f"type {rtype} for interaction type {inter.type}", True, call)
            )
            raise _form_error({"type": _field_error("INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")})
        data = body.get("data") or {}
        message: FakeMessage | None = None
        if rtype == AUTOCOMPLETE_RESULT:
            self._validate_choices(call, data.get("choices"))
        elif rtype in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            if rtype == CHANNEL_MESSAGE:
                self._validate_message(call, data, creating=True)
            message = self._interaction_message(inter, data, loading=rtype == DEFERRED_CHANNEL_MESSAGE)
            inter.original_message_id = message.id
        elif rtype in (DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE):
            # For components, @original is the message the component is attached to.
            message = self.messages[int(inter.payload["message"]["id"])]
            if rtype == UPDATE_MESSAGE:
                await self._edit(call, message, data, via="interaction_update")
            inter.original_message_id = message.id
        with self._mu:
            inter.response_type, inter.responded_at = rtype, time.monotonic()
            inter.responses.append(body)
        if rtype in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE) and message is not None and not message.ephemeral:
            await self._echo("MESSAGE_CREATE", self._gateway_message(message))
        if call.query.get("with_response") not in ("1", "true", "True"):
            return None
        resp: dict[str, Any] = {"interaction": {"id": str(inter.id), "type": inter.type}}
        if message is not None:
            resp["interaction"] |= {
                "response_message_id": str(message.id),
                "response_message_loading": bool(message.data["flags"] & LOADING),
                "response_message_ephemeral": message.ephemeral,
            }
            resp["resource"] = {"type": rtype, "message": message.data}
        return resp

    def _validate_choices(self, call: Call, choices: Any) -> None:
        errors: dict[str, Any] = {}
        if not isinstance(choices, list):
            errors["_errors"] = [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]
            choices = []
        elif len(choices) > 25:
            errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer in length."}]
        for i, choice in enumerate(choices[:25]):
            name, value = choice.get("name"), choice.get("value")
            if not isinstance(name, str) or not 1 <= len(name) <= 100:
                errors.setdefault(str(i), {})["name"] = _field_error(
                    "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                )
            if isinstance(value, str) and len(value) > 100:
                errors.setdefault(str(i), {})["value"] = _field_error(
                    "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."
                )
        if errors:
            self.violations.append(Violation("invalid_autocomplete", json.dumps(errors)[:500], True, call))
            raise _form_error({"data": {"choices": errors}})

    def _interaction_message(
        self, inter: FakeInteraction, data: dict[str, Any], *, loading: bool, followup: bool = False
    ) -> FakeMessage:
        p = inter.payload
        user = p["member"]["user"] if "member" in p else p["user"]
        meta = {
            "id": p["id"],
            "type": p["type"],
            "user": user,
            "authorizing_integration_owners": p.get("authorizing_integration_owners", {}),
        }
        if followup:
            meta["original_response_message_id"] = str(inter.original_message_id)
        extra: dict[str, Any] = {
            "type": 20 if p["type"] == APPLICATION_COMMAND else 0,
            "webhook_id": self.application["id"],
            "application_id": self.application["id"],
            "interaction_metadata": meta,
        }
        if p["type"] == APPLICATION_COMMAND:
            extra["interaction"] = {"id": p["id"], "type": p["type"], "name": p["data"]["name"], "user": user}
        flags = (LOADING if loading else 0) | ((data.get("flags") or 0) & EPHEMERAL)
        body = {k: v for k, v in data.items() if k != "flags"}
        return self._store_message(int(p["channel_id"]), self.bot, body, flags=flags, **extra)

    def _webhook_interaction(self, call: Call) -> FakeInteraction:
        """Interaction webhooks: the application id plus the interaction token, valid for 15 minutes."""
        inter = next((i for i in self.interactions.values() if i.token == call.params["token"]), None)
        if inter is None or call.params["application_id"] != self.application["id"]:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if time.monotonic() - inter.sent_at > self.webhook_token_ttl_s:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if inter.response_type is None:
            # Nothing to follow up or edit until the interaction is acknowledged.
            raise DiscordError(404, 10015, "Unknown Webhook")
        return inter

    def _webhook_message(self, inter: FakeInteraction, mid: str) -> FakeMessage:
        target = inter.original_message_id if mid == "@original" else int(mid)
        msg = self.messages.get(target or 0)
        if msg is None or msg.deleted or (target != inter.original_message_id and target not in inter.followup_ids):
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    async def _do_followup(self, call: Call) -> Any:
        inter = self._webhook_interaction(call)
        body = call.json or {}
        self._validate_message(call, body, creating=True)
        msg = self._interaction_message(inter, body, loading=False, followup=True)
        with self._mu:
            inter.followup_ids.append(msg.id)
        if not msg.ephemeral:
            await self._echo("MESSAGE_CREATE", self._gateway_message(msg))
        return msg.data if call.query.get("wait") in ("1", "true", "True") else None

    async def _do_get_original(self, call: Call) -> Any:
        return self._webhook_message(self._webhook_interaction(call), "@original").data

    _do_get_webhook_message = _do_get_original

    async def _do_edit_original(self, call: Call) -> Any:
        inter = self._webhook_interaction(call)
        return await self._edit(call, self._webhook_message(inter, call.params["message_id"]), call.json)

    _do_edit_webhook_message = _do_edit_original

    async def _do_delete_original(self, call: Call) -> Any:
        inter = self._webhook_interaction(call)
        await self._delete(self._webhook_message(inter, call.params["message_id"]))
        return None

    _do_delete_webhook_message = _do_delete_original

    # ------------------------------------------------------------------ gateway
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Conn(ws, request.path, dict(request.query))
        with self._mu:
            connect_log: dict[str, Any] = {
                "path": request.path,
                "query": dict(request.query),
                "close_code": None,
            }
            self.gateway_connects.append(connect_log)
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"Error while decoding payload.")
            return ws
        if request.query.get("v") not in ("9", "10"):
            await ws.close(code=4012, message=b"Invalid API version.")
            return ws
        await conn.send(
            {
                "op": 10,
                "d": {
                    "heartbeat_interval": self.heartbeat_interval_ms,
                    "_trace": ['["gateway-prd-fake-1",{"micros":0}]'],
                },
                "s": None,
                "t": None,
            }
        )
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    # The client's own code (ws.close_code may be ours once aiohttp answers the close).
                    connect_log["close_code"] = msg.data if msg.type is WSMsgType.CLOSE else ws.close_code
                    break
                if msg.type is not WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                payload = json.loads(msg.data)
                conn.received.append(payload)
                await self._on_op(conn, payload)
        finally:
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if connect_log["close_code"] in (1000, 1001):
                    # A clean close ends the session on Discord; other codes leave it resumable.
                    self.sessions.pop(session.id, None)
        return ws

    async def _on_op(self, conn: _Conn, payload: dict[str, Any]) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:  # HEARTBEAT
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:  # IDENTIFY
            await self._identify(conn, d or {})
        elif op == 6:  # RESUME
            await self._resume(conn, d or {})
        elif op == 8:  # REQUEST_GUILD_MEMBERS
            await self._member_chunks(conn, d or {})
        elif op in (3, 4):  # PRESENCE_UPDATE, VOICE_STATE_UPDATE: recorded in conn.received only
            if conn.session is None:
                await conn.ws.close(code=4003, message=b"Not authenticated.")
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: _Conn, d: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        if d.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = d.get("intents")
        if not isinstance(intents, int) or intents < 0:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = d.get("shard")
        shard_t = (int(shard[0]), int(shard[1])) if shard else (0, 1)
        if not 0 <= shard_t[0] < shard_t[1]:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        with self._mu:
            self.identifies.append(
                Identify(
                    tuple(shard) if shard else None,
                    intents,
                    d.get("properties") or {},
                    d.get("presence"),
                    d.get("large_threshold"),
                )
            )
        session = Session(secrets.token_hex(16), shard_t, intents, conn)
        conn.session = session
        guild_ids = [gid for gid in self.guilds if (gid >> 22) % shard_t[1] == shard_t[0]]
        ready: dict[str, Any] = {
            "v": 10,
            "user": self._me(),
            "session_type": "normal",
            "session_id": session.id,
            "resume_gateway_url": self.resume_gateway_url,
            "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": ["us-east"],
            "auth": {},
            "application": {"id": self.application["id"], "flags": self.application["flags"]},
            "_trace": ['["gateway-prd-fake-1",{"micros":0}]'],
        }
        if shard:
            ready["shard"] = list(shard_t)
        # Register the session only now: events dispatched meanwhile would otherwise precede READY.
        self.sessions[session.id] = session
        await self._send_dispatch(session, "READY", ready)
        for gid in guild_ids:
            await self._send_dispatch(session, "GUILD_CREATE", self._guild_create(gid, intents))

    def _guild_create(self, gid: int, intents: int = 0) -> dict[str, Any]:
        with self._mu:
            guild = self.guilds[gid]
            members = self.members[gid]
            chans = [c for c in self.channels.values() if c.get("guild_id") == str(gid)]
            bot_member = members[_id(self.bot)]
            # Without GUILD_PRESENCES Discord lists only the bot (and voice members); the rest come by chunks.
            listed = list(members.values()) if intents & GUILD_PRESENCES else [bot_member]
            return guild | {
                "joined_at": bot_member["joined_at"],
                "large": len(members) > 250,
                "unavailable": False,
                "member_count": len(members),
                "members": listed,
                "voice_states": [],
                "presences": [],
                "channels": [
                    {k: v for k, v in c.items() if k != "guild_id"} for c in chans if c["type"] not in (10, 11, 12)
                ],
                "threads": [c for c in chans if c["type"] in (10, 11, 12) and not c["thread_metadata"]["archived"]],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }

    async def _resume(self, conn: _Conn, d: dict[str, Any]) -> None:
        session = self.sessions.get(d.get("session_id") or "")
        if session is None or d.get("token") != self.token:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        session.conn, conn.session = conn, session
        session.resumes += 1
        last = int(d.get("seq") or 0)
        for payload in list(session.buffer):
            if payload["s"] > last:
                await conn.send(payload)
        await self._send_dispatch(session, "RESUMED", {"_trace": ['["gateway-prd-fake-1",{"micros":0}]']})

    async def _member_chunks(self, conn: _Conn, d: dict[str, Any]) -> None:
        session = conn.session
        if session is None:
            await conn.ws.close(code=4003, message=b"Not authenticated.")
            return
        gid = int(d["guild_id"])
        members = list(self.members.get(gid, {}).values())
        query, user_ids = d.get("query"), d.get("user_ids")
        if user_ids:
            wanted = {str(u) for u in user_ids}
            members = [m for m in members if m["user"]["id"] in wanted]
        elif query:
            members = [m for m in members if m["user"]["username"].startswith(query.lower())]
        if d.get("limit"):
            members = members[: int(d["limit"])]
        chunk: dict[str, Any] = {
            "guild_id": str(gid),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)


class _RateLimited(DiscordError):
    def __init__(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(429, 0, body["message"])
        self._body, self.headers = body, headers

    def body(self) -> dict[str, Any]:
        return self._body


# ---------------------------------------------------------------------- discord.py glue for tests
@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at the fake; restore them afterwards."""
    import discord.gateway
    import discord.http
    import yarl

    old = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old


@contextlib.asynccontextmanager
async def running(client: Any, fake: FakeDiscord, *, timeout: float = 15.0) -> AsyncIterator[Any]:
    """Start a discord.py client against the fake, wait for on_ready, close it on exit."""
    task = asyncio.create_task(client.start(fake.token))
    deadline = time.monotonic() + timeout
    try:
        while not client.is_ready():
            if task.done():
                task.result()  # raises the client's failure
                raise RuntimeError("client stopped before becoming ready")
            if time.monotonic() > deadline:
                raise TimeoutError("discord client did not become ready")
            await asyncio.sleep(0.02)
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
