"""The fake's records: workspaces, users, channels, messages (with edits, reactions, stream state),
ephemerals, views, API calls and response_url posts; SlackError; the ts clock.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any


class SlackError(Exception):
    """Raised by a method handler; becomes `{"ok": false, "error": ...}` (HTTP 200 unless `status`)."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


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
        "app_mentions:read,assistant:write,channels:history,chat:write,commands,files:read,im:history,reactions:write,"
        "users:read"
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
    files: list[str] = field(default_factory=list)  # ids of the files shared with it (FakeSlack.files)
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
