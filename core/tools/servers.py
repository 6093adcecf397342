"""The MCP servers an admin registered, as the chat path reads them (in the config snapshot) and as the CLI and
the admin change them. Trust: a stdio server is a command run on this machine with the bot's rights, so only an
admin can add one; a remote server must be on a host in SWITCHBOARD_MCP_ALLOWED_HOSTS; its auth header's value
is kept in the secret store and only a masked hint is ever shown."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from types import EllipsisType
from typing import Any

from core.config.scopes import ScopeKey

SCOPE_KINDS = ("global", "workspace", "channel", "preset")


@dataclass(frozen=True)
class ToolInfo:
    """One tool as discovery listed it. `qualified` (`server.tool`) is what users and admins read; the model is
    offered `function_name` (letters, digits, _ and -, at most 64: what every provider accepts)."""

    server: str
    name: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    consent: bool = False  # asks the thread's user before each run (set per tool by an admin)

    @property
    def qualified(self) -> str:
        return f"{self.server}.{self.name}"

    @property
    def function_name(self) -> str:
        return function_name(self.server, self.name)


@dataclass(frozen=True)
class ServerView:
    name: str
    transport: str  # stdio | http
    command: str | None
    url: str | None
    auth_header: str | None
    has_secret: bool
    secret_hint: str
    enabled: bool
    scope_kind: str
    scope_value: str
    allowed_tools: tuple[str, ...] | None  # None: every tool it lists
    consent_tools: tuple[str, ...]
    tools: tuple[ToolInfo, ...]  # every tool discovery listed, consent marked
    last_check_at: datetime | None = None
    last_check_ok: bool | None = None
    last_check_error: str | None = None
    last_check_latency_ms: float | None = None

    @property
    def down(self) -> bool:
        """The last check failed: its tools are not offered until a check succeeds."""
        return self.last_check_ok is False

    @property
    def offered(self) -> tuple[ToolInfo, ...]:
        """The listed tools the allowlist lets threads use."""
        if self.allowed_tools is None:
            return self.tools
        return tuple(t for t in self.tools if t.name in self.allowed_tools)

    def applies(self, key: ScopeKey, preset: str | None) -> bool:
        """Enabled here: everywhere, this workspace, this channel, or threads on this preset."""
        if not self.enabled:
            return False
        if self.scope_kind == "global":
            return True
        if self.scope_kind == "workspace":
            return key.workspace == self.scope_value
        if self.scope_kind == "channel":
            return key.channel == self.scope_value
        return self.scope_kind == "preset" and preset == self.scope_value

    @property
    def scope_label(self) -> str:
        return "everywhere" if self.scope_kind == "global" else f"{self.scope_kind} {self.scope_value}"


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def function_name(server: str, tool: str) -> str:
    """`server__tool` in the characters every provider accepts for a function name, at most 64; a name that had
    to be changed or cut gets a short hash of the original, so two tools never share one."""
    plain = f"{server}__{tool}"
    safe = _UNSAFE.sub("_", plain)
    if safe == plain and len(safe) <= 64:
        return safe
    digest = hashlib.sha256(plain.encode()).hexdigest()[:8]
    return f"{safe[:55]}_{digest}"


# ---------------------------------------------------------------- the store (the CLI, the admin, health checks)
# Every change bumps the config version (core.config.version), so each process's snapshot (core.snapshot) picks
# it up; a health check bumps it only when what threads are offered changes (up/down, or the tools listed).


def list_servers() -> list[ServerView]:
    """Every registered server, by name."""
    raise NotImplementedError


def get_server(name: str) -> ServerView | None:
    raise NotImplementedError


def add_server(
    name: str,
    *,
    command: str | None = None,
    url: str | None = None,
    auth_header: str | None = None,
    secret: str | None = None,
    scope: str = "global",
) -> ServerView:
    """Register a server: exactly one of `command` (stdio) or `url` (streamable HTTP, on an allowed host).
    `scope`: global, workspace:ID, channel:ID or preset:NAME. Raises core.errors.UserError saying what to fix."""
    raise NotImplementedError


def update_server(
    name: str,
    *,
    enabled: bool | None = None,
    scope: str | None = None,
    allowed_tools: list[str] | EllipsisType | None = ...,
    consent_tools: list[str] | None = None,
    auth_header: str | None = None,
    secret: str | None = None,
) -> ServerView:
    """Change what is given (`allowed_tools=None`: every tool; `...`: unchanged). Raises UserError."""
    raise NotImplementedError


def remove_server(name: str) -> None:
    raise NotImplementedError


def secret_of(name: str) -> str | None:
    """The auth header's value, from the secret store (for the client only; never shown or logged)."""
    raise NotImplementedError


def record_check(
    name: str, *, ok: bool, error: str | None, latency_ms: float | None, tools: list[ToolInfo] | None
) -> bool:
    """Store a check's outcome (`tools`: what it listed, None when it failed). Returns whether the server went
    from up to down or back (what alerts are raised or resolved on)."""
    raise NotImplementedError
