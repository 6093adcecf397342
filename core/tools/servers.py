"""The MCP servers an admin registered, as the chat path reads them (in the config snapshot) and as the CLI and
the admin change them. Trust: a stdio server is a command run on this machine with the bot's rights, so only an
admin can add one; a remote server must be on a host in SWITCHBOARD_MCP_ALLOWED_HOSTS; its auth header's value
is kept in the secret store and only a masked hint is ever shown. This module owns the McpServer table."""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from types import EllipsisType
from typing import Any
from urllib.parse import urlsplit

import keyring.errors
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from core import secrets
from core.alerts import resolve_mcp_alerts
from core.budgets.store import parse_scope
from core.config.prompts import list_presets
from core.config.scopes import ScopeKey
from core.config.version import bump_config_version
from core.errors import UserError
from core.logs import register_secret
from core.models.matching import close_names
from core.providers.headers import validate_headers
from core.settings import get_settings
from core.storage.db import session
from core.storage.tables import McpServer, ToolConsent, utcnow

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

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEFAULT_AUTH_HEADER = "Authorization"


def _secret_name(server: str) -> str:
    return f"mcp:{server}"


def _view(row: McpServer) -> ServerView:
    consent = tuple(row.consent_tools or ())
    tools = tuple(
        ToolInfo(
            server=row.name,
            name=str(t.get("name", "")),
            description=str(t.get("description") or ""),
            input_schema=dict(t.get("input_schema") or {}),
            consent=t.get("name") in consent,
        )
        for t in row.tools or ()
    )
    return ServerView(
        name=row.name,
        transport=row.transport,
        command=row.command,
        url=row.url,
        auth_header=row.auth_header,
        has_secret=row.has_secret,
        secret_hint=row.secret_hint,
        enabled=row.enabled,
        scope_kind=row.scope_kind,
        scope_value=row.scope_value,
        allowed_tools=tuple(row.allowed_tools) if row.allowed_tools is not None else None,
        consent_tools=consent,
        tools=tools,
        last_check_at=row.last_check_at,
        last_check_ok=row.last_check_ok,
        last_check_error=row.last_check_error,
        last_check_latency_ms=row.last_check_latency_ms,
    )


def allowed_hosts() -> frozenset[str]:
    """SWITCHBOARD_MCP_ALLOWED_HOSTS as a set of lower-case hosts (an entry may also be `host:port`)."""
    raw = get_settings().mcp_allowed_hosts or ""
    return frozenset(h.strip().lower().rstrip(".") for h in raw.split(",") if h.strip())


def check_url(url: str) -> str:
    """`url` stripped, when it is http(s) on a host SWITCHBOARD_MCP_ALLOWED_HOSTS lists; else UserError saying
    why. Checked when a server is added and again each time the client connects (the setting may change)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(ch.isspace() for ch in url):
        raise UserError(f"'{url}' is not a valid MCP server URL: it needs http:// or https:// and a host.")
    try:
        port = parts.port
    except ValueError:
        raise UserError(f"'{url}' has an invalid port.") from None
    if parts.username or parts.password:
        raise UserError("Put no user or password in the URL: give the credential as the auth header's value.")
    host = parts.hostname.lower().rstrip(".")
    hosts = allowed_hosts()
    if host not in hosts and (port is None or f"{host}:{port}" not in hosts):
        listed = ", ".join(sorted(hosts)) if hosts else "none"
        raise UserError(
            f"Host '{host}' is not in SWITCHBOARD_MCP_ALLOWED_HOSTS (allowed now: {listed}). Remote MCP servers "
            f"run only on hosts an operator allowed: add '{host}' to that setting if you trust it."
        )
    return url


def _scope(scope: str) -> tuple[str, str]:
    try:
        kind, value = parse_scope(scope, SCOPE_KINDS)
    except UserError:  # its message lists every kind it was given; ours says what each takes
        raise UserError(f"Unknown scope '{scope}'. Use global, workspace:ID, channel:ID or preset:NAME.") from None
    if kind == "preset":
        presets = [p.name for p in list_presets()]
        if value not in presets:
            near = close_names(value, presets, limit=3)
            hint = f" Did you mean {', '.join(f'`{n}`' for n in near)}?" if near else ""
            raise UserError(f"There is no preset '{value}'.{hint}")
    return kind, value


def _check_names(row: McpServer, names: list[str], what: str) -> list[str]:
    """`names` cleaned, each a tool the server listed (when it has listed any)."""
    clean = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    listed = [str(t.get("name")) for t in row.tools or ()]
    if not listed:
        return clean
    unknown = [n for n in clean if n not in listed]
    if unknown:
        hints = []
        for n in unknown:
            near = close_names(n, listed, limit=3)
            if near:
                hints.append(f" For '{n}', did you mean {', '.join(f'`{m}`' for m in near)}?")
        hint = "".join(hints)
        raise UserError(
            f"Server '{row.name}' lists no tool {', '.join(repr(n) for n in unknown)} to {what}.{hint} "
            f"Its tools: {', '.join(listed)}."
        )
    return clean


def _auth(auth_header: str | None, secret: str | None) -> tuple[str, str] | None:
    """The header name and value to store, validated; None when there is no credential."""
    if secret is None:
        return None
    value = secret.strip()
    if not value:
        raise UserError("The auth header's value is empty. Pass a non-empty value on stdin.")
    header, clean = next(iter(validate_headers({(auth_header or DEFAULT_AUTH_HEADER): value}).items()))
    return header, clean


def _hint(value: str) -> str:
    scheme, sep, token = value.partition(" ")
    return (f"{scheme} " + (secrets.mask(token) or "…")) if sep and len(scheme) <= 10 else secrets.mask(value) or "…"


def _keep_secret(name: str, value: str) -> None:
    register_secret(value)
    _, sep, token = value.partition(" ")
    if sep:
        register_secret(token.strip())  # the token alone ("Bearer T": T) is scrubbed from logs too
    secrets.set_secret(_secret_name(name), value)


def _forget_secret(name: str) -> None:
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        secrets.get_backend().delete_password(secrets.SERVICE, _secret_name(name))


def list_servers() -> list[ServerView]:
    """Every registered server, by name."""
    with session() as s:
        return [_view(r) for r in s.exec(select(McpServer).order_by(McpServer.name)).all()]


def get_server(name: str) -> ServerView | None:
    with session() as s:
        row = s.exec(select(McpServer).where(McpServer.name == name)).first()
    return _view(row) if row else None


def _require(name: str) -> McpServer:
    with session() as s:
        row = s.exec(select(McpServer).where(McpServer.name == name)).first()
        if row is None:
            known = list(s.exec(select(McpServer.name)).all())
    if row is None:
        near = close_names(name, known, limit=3)
        hint = f" Did you mean {', '.join(f'`{n}`' for n in near)}?" if near else ""
        raise UserError(f"There is no MCP server named '{name}'.{hint} See `switchboard mcp list`.")
    return row


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
    name = (name or "").strip()
    if not NAME_RE.match(name) or "__" in name:  # `__` parts the server from the tool in a function name
        raise UserError(
            f"'{name}' is not a valid MCP server name: use 1-64 lowercase letters, digits, '-' or '_' (not two "
            "in a row), starting with a letter or digit (e.g. tickets)."
        )
    command = (command or "").strip() or None
    url = (url or "").strip() or None
    if bool(command) == bool(url):
        raise UserError("Give exactly one of a command (a server run over stdio) or a URL (a remote server).")
    if command:
        _split_command(command)
        if secret is not None or auth_header:
            raise UserError(
                "A stdio server takes no auth header: it runs on this machine. Give its credentials the way the "
                "command expects them (its own configuration file)."
            )
    if url:
        url = check_url(url)
        if len(url) > 500:
            raise UserError("The URL is longer than 500 characters.")
    kind, value = _scope(scope)
    if auth_header and secret is None:
        raise UserError(f"Header '{auth_header}' needs a value: pass it on stdin (--secret-stdin).")
    auth = _auth(auth_header, secret)
    with session() as s:
        if s.exec(select(McpServer.id).where(McpServer.name == name)).first() is not None:
            raise UserError(f"An MCP server named '{name}' already exists. Remove it first or pick another name.")
    if auth:
        secrets.get_backend()  # a wrong or missing master key fails here, before anything is written
    row = McpServer(
        name=name,
        transport="stdio" if command else "http",
        command=command,
        url=url,
        auth_header=auth[0] if auth else None,
        has_secret=bool(auth),
        secret_hint=_hint(auth[1])[:40] if auth else "",
        scope_kind=kind,
        scope_value=value,
    )
    if auth:
        _keep_secret(name, auth[1])
    try:
        with session(write=True) as s:
            s.add(row)
            bump_config_version(s)
            s.flush()
            view = _view(row)
    except IntegrityError:
        if auth:
            _forget_secret(name)
        raise UserError(f"An MCP server named '{name}' already exists.") from None
    return view


def _split_command(command: str) -> list[str]:
    """The command line as the client will run it (shlex), or UserError when it cannot be split."""
    import shlex

    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise UserError(f"The command cannot be read ({exc}): check its quotes.") from None
    if not argv:
        raise UserError("The command is empty.")
    return argv


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
    """Change what is given (`allowed_tools=None`: every tool; `...`: unchanged). Raises UserError.
    `auth_header` alone renames the header (its value kept); `auth_header=""` removes the credential."""
    row = _require(name)
    changes: dict[str, Any] = {}
    if enabled is not None:
        changes["enabled"] = enabled
    if scope is not None:
        changes["scope_kind"], changes["scope_value"] = _scope(scope)
    if not isinstance(allowed_tools, EllipsisType):
        changes["allowed_tools"] = None if allowed_tools is None else _check_names(row, allowed_tools, "allow")
    if consent_tools is not None:
        changes["consent_tools"] = _check_names(row, consent_tools, "ask consent for")
    new_secret: str | None = None
    drop_secret = False
    if auth_header is not None or secret is not None:
        if row.transport != "http":
            raise UserError("A stdio server takes no auth header: it runs on this machine.")
        if auth_header == "" and secret is None:
            changes.update(auth_header=None, has_secret=False, secret_hint="")
            drop_secret = True
        elif secret is not None:
            header, new_secret = _auth(auth_header or row.auth_header, secret) or ("", "")
            changes.update(auth_header=header, has_secret=True, secret_hint=_hint(new_secret)[:40])
        else:
            if not row.has_secret:
                raise UserError(f"Header '{auth_header}' needs a value: pass it on stdin (--secret-stdin).")
            header, _ = next(iter(validate_headers({str(auth_header): "x"}).items()))
            changes["auth_header"] = header
    if new_secret is not None:
        _keep_secret(name, new_secret)
    with session(write=True) as s:
        current = s.exec(select(McpServer).where(McpServer.name == name).with_for_update()).first()
        if current is None:
            raise UserError(f"There is no MCP server named '{name}' (it was just removed).")
        for key, value in changes.items():
            setattr(current, key, value)
        current.updated_at = utcnow()
        s.add(current)
        bump_config_version(s)
        s.flush()
        view = _view(current)
    if drop_secret:
        _forget_secret(name)
    return view


def remove_server(name: str) -> None:
    """Forget a server, its credential, the consent threads gave its tools (a server added again under this name
    asks again), and close its alerts (nothing is left to fix)."""
    with session(write=True) as s:
        row = s.exec(select(McpServer).where(McpServer.name == name)).first()
        if row is None:
            _require(name)  # raises, with close names
            return
        s.delete(row)
        s.exec(delete(ToolConsent).where(col(ToolConsent.server) == name))
        bump_config_version(s)
    _forget_secret(name)
    resolve_mcp_alerts(name, f"MCP server '{name}' was removed")


def secret_of(name: str) -> str | None:
    """The auth header's value, from the secret store (for the client only; never shown or logged)."""
    value = secrets.get_secret(_secret_name(name))
    if value:
        _, sep, token = value.partition(" ")
        if sep:
            register_secret(token.strip())
    return value


def _listing(tools: list[ToolInfo]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools]


def record_check(
    name: str, *, ok: bool, error: str | None, latency_ms: float | None, tools: list[ToolInfo] | None
) -> bool:
    """Store a check's outcome (`tools`: what it listed, None when it failed). Returns whether the server went
    from up to down or back (what alerts are raised or resolved on). A server never checked counts as up, so one
    that fails its first check has gone down."""
    with session(write=True) as s:
        # FOR UPDATE (PostgreSQL; SQLite's write lock does the same): one process sees each turn
        row = s.exec(select(McpServer).where(McpServer.name == name).with_for_update()).first()
        if row is None:
            return False
        was_up = row.last_check_ok is not False
        listing = _listing(tools) if tools is not None else None
        changed = row.last_check_ok != ok or (listing is not None and listing != (row.tools or []))
        row.last_check_at = utcnow()
        row.last_check_ok = ok
        row.last_check_error = None if ok else (error or "the check failed")[:500]
        row.last_check_latency_ms = latency_ms
        if listing is not None:
            row.tools = listing
        s.add(row)
        if changed:
            bump_config_version(s)  # threads are offered its tools, or not: running bots must notice
    return was_up != ok
