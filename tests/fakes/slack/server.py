"""FakeSlack: the FakeServer subclass. It holds all shared state, the Web API method table and the routes;
the behaviour lives in one mixin per API area.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeServer
from tests.fakes.slack.assistant import AssistantMixin
from tests.fakes.slack.files import File, FilesMixin
from tests.fakes.slack.models import (
    ApiCall,
    Channel,
    Ephemeral,
    Message,
    ResponseUrlPost,
    TsClock,
    User,
    View,
    Workspace,
    _Fault,
    _ResponseUrl,
)
from tests.fakes.slack.response_url import ResponseUrlMixin
from tests.fakes.slack.state import StateMixin
from tests.fakes.slack.streaming import StreamingMixin
from tests.fakes.slack.views import TRIGGER_TTL_S, ViewsMixin
from tests.fakes.slack.web_api import WebApiMixin


class FakeSlack(
    StateMixin,
    WebApiMixin,
    StreamingMixin,
    ViewsMixin,
    AssistantMixin,
    FilesMixin,
    ResponseUrlMixin,
    FakeServer,
):
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
        self.files: dict[str, File] = {}
        self.file_requests: list[tuple[str, int, str | None]] = []  # (file id, status, bearer token)
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
        # The Web API methods, by the module that fakes them. Others answer {"ok": true} (web_api.py).
        self._handlers: dict[str, Callable[..., dict[str, Any]]] = {
            # web_api.py
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            # streaming.py
            "chat.startStream": self._chat_start_stream,
            "chat.appendStream": self._chat_append_stream,
            "chat.stopStream": self._chat_stop_stream,
            # web_api.py
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            # views.py
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            # assistant.py
            "assistant.threads.setStatus": self._assistant_set_status,
            "assistant.threads.setSuggestedPrompts": self._assistant_set_prompts,
            "assistant.threads.setTitle": self._assistant_set_title,
            # files.py
            "files.info": self._files_info,
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
            self.files.clear()
            self.file_requests.clear()
            self.response_url_posts.clear()
            self._faults.clear()
            self._windows.clear()
        with self._lock:
            self.requests.clear()

    # ------------------------------------------------------------------------------ HTTP

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response_url/{rid}", self._response_url)
        app.router.add_get("/files-pri/{key}/{rest:.*}", self._file_bytes)
        app.router.add_get("/", self._sign_in)
