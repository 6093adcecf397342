"""Records the fake keeps and hands to tests (REST calls, messages with edit history, interactions,
violations) and Discord's JSON error shape.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord.constants import EPHEMERAL


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


class _RateLimited(DiscordError):
    def __init__(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(429, 0, body["message"])
        self._body, self.headers = body, headers

    def body(self) -> dict[str, Any]:
        return self._body


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


def _now_iso(ts: float | None = None) -> str:
    return dt.datetime.fromtimestamp(time.time() if ts is None else ts, dt.UTC).isoformat()


def _id(obj: int | str | dict[str, Any]) -> int:
    return int(obj["id"]) if isinstance(obj, dict) else int(obj)
