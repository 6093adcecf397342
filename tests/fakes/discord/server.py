"""FakeDiscord: the FakeServer subclass. It holds all shared state (world, observations, faults, sessions)
and wires the routes; the behaviour lives in one mixin per API area.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeServer
from tests.fakes.discord.cdn import CdnFile, CdnMixin
from tests.fakes.discord.channels import ChannelsMixin
from tests.fakes.discord.commands import CommandsMixin
from tests.fakes.discord.constants import DEFAULT_TOKEN, PRIVILEGED_INTENTS
from tests.fakes.discord.faults import Fault, FaultsMixin
from tests.fakes.discord.gateway import GatewayMixin, Identify, Session
from tests.fakes.discord.interactions import InteractionsMixin
from tests.fakes.discord.messages import MessagesMixin
from tests.fakes.discord.models import Call, FakeInteraction, FakeMessage, Violation
from tests.fakes.discord.rest import RestMixin
from tests.fakes.discord.routes import ROUTES, _route_pattern
from tests.fakes.discord.state import WorldMixin


class FakeDiscord(
    WorldMixin,
    RestMixin,
    FaultsMixin,
    ChannelsMixin,
    MessagesMixin,
    CommandsMixin,
    InteractionsMixin,
    GatewayMixin,
    CdnMixin,
    FakeServer,
):
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
        self.cdn_files: dict[tuple[int, int], CdnFile] = {}  # (channel id, attachment id) -> file
        self.cdn_secret = secrets.token_bytes(32)
        self.cdn_clock_offset_s = 0.0
        self.cdn_sends_length = True
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

    # ------------------------------------------------------------------ waiting (from async tests)
    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------------ server
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._gateway)
        app.router.add_get("/resume", self._gateway)
        for folder in ("attachments", "ephemeral-attachments"):
            app.router.add_get(rf"/{folder}/{{channel_id:\d+}}/{{aid:\d+}}/{{name}}", self._serve_cdn)
        for method, template, action in ROUTES:
            app.router.add_route(method, _route_pattern(template), self._rest_handler(template, action))
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)
