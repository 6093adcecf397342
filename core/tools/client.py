"""The MCP client: the one module that imports the `mcp` SDK (an import contract in pyproject.toml says so).

`discover(server)` lists a server's tools; `Sessions` holds connections: a server's session is opened on its first
call and kept until the holder closes it. Replies use the process's `pool()`, which keeps each server's session
across replies (a stdio server is started once, not for every reply) until it has been idle for
SWITCHBOARD_MCP_IDLE_MINUTES or its server's settings change. Each open session is held by a task of its own,
which enters and leaves the SDK's transport and session (and their cancel scopes) itself, so a reply that is
cancelled, or a server that dies mid-reply, never unwinds them from the wrong task; closing the reply stops those
tasks and waits for them (a stdio server's process is gone when `Sessions` exits).

A stdio server runs with a minimal environment (PATH, HOME, LANG and the SDK's few safe variables: never our
settings or secrets). A remote server is called over streamable HTTP with its auth header, whose value comes from
the secret store and appears in no error, log or repr; its host is checked against SWITCHBOARD_MCP_ALLOWED_HOSTS
again at every connect. Whatever goes wrong is a ToolFailure with a short message written for users.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shlex
import tempfile
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any, Literal
from urllib.parse import urlsplit

import anyio
import httpx2
import mcp_types
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from core.errors import UserError
from core.formatting import size
from core.logs import redact
from core.settings import get_settings
from core.tools.servers import ServerView, ToolInfo, check_url, secret_of

CONNECT_TIMEOUT_S = 10.0  # to start or reach a server and finish the MCP handshake: a dead server never hangs a reply
CLOSE_TIMEOUT_S = 10.0  # how long closing waits for a session to end (a stdio server gets its SDK's 2 s + 2 s)
MAX_TOOL_PAGES = 50  # pages of tools/list read before a server that keeps paging is cut off
FailureKind = Literal["unreachable", "timeout", "error", "refused"]
_CLOSED = "the connection was closed"


class ToolFailure(Exception):
    """A server could not be reached, did not answer in time, refused us, or failed the request. `message` is
    short and written for users (no traceback, no secret)."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message

    def __repr__(self) -> str:
        return f"ToolFailure({self.kind!r}, {self.message!r})"


@dataclass(frozen=True)
class CallOutcome:
    """What a tool call gave back, as the model is to be given it: `text` (cut to the size limit), whether the
    tool said it failed, and `chars`, the length of the whole result before any cut."""

    text: str
    is_error: bool
    chars: int


# ---------------------------------------------------------------- one server's connection


class _Connection:
    """One server's open session, entered, held and left by a task of its own (see the module docstring)."""

    def __init__(self, server: ServerView, connect_timeout_s: float) -> None:
        self.server = server
        self._secret: str | None = None
        self._connect_timeout_s = connect_timeout_s
        self.calls = 0  # calls running on this session now
        self.retired = False  # a call timed out: no new calls here; closed once the running ones end
        self.session: ClientSession | None = None
        self.failure: ToolFailure | None = None
        self.ready = asyncio.Event()  # the session is up, or it failed to come up
        self.closed = asyncio.Event()
        self._stop = asyncio.Event()
        self._statuses: list[int] = []  # HTTP statuses seen (a 401 says more than the SDK's error does)
        self._errlog: IO[str] | None = None
        self._connecting: anyio.CancelScope | None = None
        self.task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # never the secret
        return f"_Connection({self.server.name!r}, open={self.session is not None})"

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._hold(), name=f"mcp:{self.server.name}")

    def stop(self) -> None:
        self._stop.set()
        if self._connecting is not None:  # still starting or reaching it: give up now
            self._connecting.cancel()

    async def _hold(self) -> None:
        started = False
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + self._connect_timeout_s) as scope:
                self._connecting = scope
                if self.server.transport == "http" and self.server.has_secret:
                    self._secret = await asyncio.to_thread(secret_of, self.server.name)
                async with self._transport() as (read, write), ClientSession(read, write) as session:
                    await session.initialize()
                    scope.deadline = math.inf
                    self._connecting = None
                    self.session, started = session, True
                    self.ready.set()
                    await self._stop.wait()
            if scope.cancelled_caught and not started:
                self.failure = (
                    ToolFailure("unreachable", _CLOSED)
                    if self._stop.is_set()
                    else ToolFailure(
                        "timeout", f"no answer within {self._connect_timeout_s:g} s of starting or reaching it"
                    )
                )
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            self.failure = self.failure or ToolFailure("unreachable", _CLOSED)
            raise
        except BaseException as exc:  # a dying server may raise anything (in groups): it must not reach the reply
            self.failure = self._explain(exc)
        finally:
            self.session, self._connecting = None, None
            if started and self.failure is None:
                self.failure = ToolFailure("unreachable", _CLOSED)
            self.ready.set()
            self.closed.set()

    def _transport(self) -> contextlib.AbstractAsyncContextManager[Any]:
        server = self.server
        if server.transport == "stdio":
            argv = shlex.split(server.command or "")
            env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
            self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            params = StdioServerParameters(command=argv[0], args=argv[1:], env=env)
            return stdio_client(params, errlog=self._errlog)
        return self._http()

    @contextlib.asynccontextmanager
    async def _http(self) -> AsyncIterator[Any]:
        headers = {self.server.auth_header: self._secret} if self.server.auth_header and self._secret else {}

        async def note(response: httpx2.Response) -> None:
            self._statuses.append(response.status_code)

        timeout = httpx2.Timeout(self._connect_timeout_s, read=300.0)
        async with (
            httpx2.AsyncClient(headers=headers, timeout=timeout, event_hooks={"response": [note]}) as http,
            streamable_http_client(self.server.url or "", http_client=http) as streams,
        ):
            yield streams

    def lost(self) -> ToolFailure:
        """Why an open session ended under a call: its process ended (with its last words), or its server went."""
        if self.failure is not None and self.failure.message != _CLOSED:
            return self.failure
        if self.server.transport == "stdio":
            tail = self._stderr_tail()
            return ToolFailure("unreachable", "the server's process ended" + (f": {tail}" if tail else ""))
        return ToolFailure("unreachable", f"lost the connection to {_where(self.server)}")

    def _stderr_tail(self) -> str:
        """The last line a stdio server wrote to stderr (why it stopped, often), cut short."""
        if self._errlog is None or self._errlog.closed:
            return ""
        with contextlib.suppress(OSError, ValueError):
            fd = self._errlog.fileno()
            end = os.fstat(fd).st_size
            text = os.pread(fd, 4000, max(0, end - 4000)).decode("utf-8", "replace")
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            return redact(lines[-1][:200]) if lines else ""
        return ""

    def close_log(self) -> None:
        if self._errlog is not None:
            self._errlog.close()

    def _explain(self, exc: BaseException) -> ToolFailure:
        """What went wrong while connecting or while the session was open, in a few words."""
        leaf = _leaf(exc)
        denied = [s for s in self._statuses if s in (401, 403)]
        if denied:
            return ToolFailure(
                "error",
                f"the server refused the credentials (HTTP {denied[-1]}): check the value of its "
                f"{self.server.auth_header or 'auth'} header",
            )
        if isinstance(leaf, FileNotFoundError):
            return ToolFailure("unreachable", f"cannot start `{_program(self.server)}`: no such command")
        if isinstance(leaf, PermissionError):
            return ToolFailure("unreachable", f"cannot start `{_program(self.server)}`: not allowed to run it")
        if isinstance(leaf, httpx2.TimeoutException):
            return ToolFailure("timeout", f"{_where(self.server)} did not answer in time")
        if isinstance(leaf, httpx2.TransportError):
            return ToolFailure("unreachable", f"cannot connect to {_where(self.server)}")
        failed = [s for s in self._statuses if s >= 400]
        if failed:
            return ToolFailure("unreachable", f"{_where(self.server)} answered HTTP {failed[-1]}")
        if self.server.transport == "stdio" and (
            isinstance(leaf, MCPError | OSError | anyio.BrokenResourceError | anyio.ClosedResourceError)
        ):
            tail = self._stderr_tail()
            return ToolFailure("unreachable", "the server's process ended" + (f": {tail}" if tail else ""))
        return ToolFailure("error", _describe(leaf))


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside exception groups (the SDK's task groups wrap what went wrong)."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)] or list(exc.exceptions)
        exc = inner[0]
    return exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MCPError):
        return exc.message[:300] or "the server answered with an error"
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _program(server: ServerView) -> str:
    try:
        return shlex.split(server.command or "")[0]
    except (ValueError, IndexError):
        return server.command or ""


def _where(server: ServerView) -> str:
    parts = urlsplit(server.url or "")
    return (parts.hostname or "the server") + (f":{parts.port}" if parts.port else "")


# ---------------------------------------------------------------- one reply's sessions


class Sessions:
    """The MCP sessions of one reply: `async with Sessions() as sessions: await sessions.call(...)`. A server's
    session opens on its first call and stays open for the reply; all close when the block ends, also when the
    reply is cancelled. A call that times out closes its session (the next call opens a fresh one), so a late
    answer never lands in another call."""

    def __init__(self, *, connect_timeout_s: float = CONNECT_TIMEOUT_S, max_chars: int | None = None) -> None:
        self._connect_timeout_s = connect_timeout_s
        self._max_chars = max_chars
        self._open: dict[str, _Connection] = {}
        self._all: list[_Connection] = []

    async def __aenter__(self) -> Sessions:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every session and wait (bounded) until each has ended, even when the reply is being cancelled."""
        connections, self._all, self._open = self._all, [], {}
        for conn in connections:
            conn.retired = True
            conn.stop()
        tasks = [c.task for c in connections if c.task is not None and not c.task.done()]
        if tasks:
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLOSE_TIMEOUT_S):
                await asyncio.wait(tasks)
        for conn in connections:
            if conn.closed.is_set():
                conn.close_log()

    async def _connect(self, server: ServerView) -> _Connection:
        """The server's session, opened if need be (calls made at once share one). Raises ToolFailure."""
        conn = self._open.get(server.name)
        if conn is None or conn.closed.is_set() or conn.retired:
            if server.transport == "http":
                try:
                    check_url(server.url or "")  # the allowlist may have changed since the server was added
                except UserError as exc:
                    raise ToolFailure("refused", str(exc)) from None
            elif not server.command:
                raise ToolFailure("error", "the server has no command to run")
            conn = _Connection(server, self._connect_timeout_s)
            self._open[server.name] = conn
            self._all.append(conn)
            conn.start()
        await conn.ready.wait()
        if conn.session is None:
            if self._open.get(server.name) is conn:
                del self._open[server.name]
            raise conn.failure or ToolFailure("unreachable", _CLOSED)
        return conn

    def _retire(self, conn: _Connection) -> None:
        """No new calls on this session: the next opens a fresh one; it closes once its running calls end."""
        conn.retired = True
        if self._open.get(conn.server.name) is conn:
            del self._open[conn.server.name]
        if conn.calls == 0:
            conn.stop()

    async def session(self, server: ServerView) -> ClientSession:
        """The server's open session (opened now if need be). Raises ToolFailure."""
        conn = await self._connect(server)
        assert conn.session is not None
        return conn.session

    async def call(self, server: ServerView, tool: str, arguments: dict[str, Any], timeout_s: float) -> CallOutcome:
        """Call `tool` on `server` with `arguments`; at most `timeout_s` seconds. Raises ToolFailure."""
        conn = await self._connect(server)
        session = conn.session
        if session is None:
            raise conn.failure or ToolFailure("unreachable", _CLOSED)
        conn.calls += 1
        try:
            with anyio.fail_after(timeout_s + 0.5):  # the SDK's own timeout first; this one if it does not fire
                result = await session.call_tool(tool, arguments, read_timeout_seconds=timeout_s)
        except TimeoutError:
            self._retire(conn)
            raise ToolFailure("timeout", f"no answer within {timeout_s:g} s") from None
        except asyncio.CancelledError:  # the reply stopped mid-call: its answer must not land in another's call
            self._retire(conn)
            raise
        except MCPError as exc:
            if exc.code == mcp_types.REQUEST_TIMEOUT:
                self._retire(conn)
                raise ToolFailure("timeout", f"no answer within {timeout_s:g} s") from None
            if exc.code == mcp_types.CONNECTION_CLOSED or conn.closed.is_set():
                self._retire(conn)
                conn.stop()  # the session is gone: close what is left of it now
                raise conn.lost() from None
            raise ToolFailure("error", self._clean(_describe(exc), conn)) from None
        except Exception as exc:  # the SDK's validation and transport errors, whatever their type
            self._retire(conn)
            raise ToolFailure("error", self._clean(_describe(exc), conn)) from None
        finally:
            conn.calls -= 1
            if conn.retired and conn.calls == 0:
                conn.stop()
        limit = self._max_chars if self._max_chars is not None else get_settings().tool_result_max_chars
        return outcome(result, limit)

    @staticmethod
    def _clean(text: str, conn: _Connection) -> str:
        secret = conn._secret
        if secret:
            text = text.replace(secret, "…")
            for part in secret.split():
                if len(part) >= 4:
                    text = text.replace(part, "…")
        return redact(text)


# ---------------------------------------------------------------- sessions kept across replies


def _opened_with(server: ServerView) -> tuple[object, ...]:
    """What a session was opened with: when an admin changes any of it, the next call opens a new session."""
    return (server.transport, server.command, server.url, server.auth_header, server.has_secret, server.secret_hint)


class Pool(Sessions):
    """Each server's session kept open across replies, in this process: a stdio server starts once rather than for
    every reply that calls it (about 0.65 s for a small Python server, seconds for an `npx` one; see
    docs/benchmarks.md), and replies at once share its session. A session is opened again when its server's
    settings changed, closed after `idle_s` without a call, and all of them by `close_pool()` (at shutdown)."""

    def __init__(self, idle_s: float) -> None:
        super().__init__()
        self.idle_s = idle_s
        self._used: dict[int, float] = {}  # id(connection) -> when a call last started on it (monotonic)
        self._reaper: asyncio.Task[None] | None = None

    async def _connect(self, server: ServerView) -> _Connection:
        held = self._open.get(server.name)
        if held is not None and _opened_with(held.server) != _opened_with(server):
            self._retire(held)  # opened with settings the admin has since changed: closes once its calls end
        conn = await super()._connect(server)
        self._used[id(conn)] = time.monotonic()
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.get_running_loop().create_task(self._reap(), name="mcp-idle")
        return conn

    async def _reap(self) -> None:
        while self._open:
            await asyncio.sleep(max(0.05, min(60.0, self.idle_s / 2)))
            now = time.monotonic()
            for conn in list(self._open.values()):
                if conn.calls == 0 and now - self._used.get(id(conn), now) >= self.idle_s:
                    self._retire(conn)
            for conn in [c for c in self._all if c.closed.is_set()]:
                self._all.remove(conn)
                self._used.pop(id(conn), None)
                conn.close_log()

    async def aclose(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        await super().aclose()


_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pool] = weakref.WeakKeyDictionary()


def pool() -> Pool:
    """This process's sessions kept across replies (one pool per event loop)."""
    loop = asyncio.get_running_loop()
    found = _pools.get(loop)
    if found is None:
        found = _pools[loop] = Pool(get_settings().mcp_idle_minutes * 60)
    return found


async def close_pool() -> None:
    """Close every session the pool keeps (a process shutting down; a test's end)."""
    found = _pools.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.aclose()


# ---------------------------------------------------------------- results


def describe_content(block: Any) -> str:
    """One content block of a tool result as text: text as is; anything else described, e.g. `[image/png, 12 KB]`."""
    if isinstance(block, mcp_types.TextContent):
        return block.text
    if isinstance(block, mcp_types.ImageContent | mcp_types.AudioContent):
        return f"[{block.mime_type}, {size(len(block.data) * 3 // 4)}]"
    if isinstance(block, mcp_types.EmbeddedResource):
        res = block.resource
        if isinstance(res, mcp_types.TextResourceContents):
            return res.text
        return f"[{res.mime_type or 'file'}, {size(len(res.blob) * 3 // 4)}, {res.uri}]"
    if isinstance(block, mcp_types.ResourceLink):
        return f"[link: {block.uri}]"
    return f"[{getattr(block, 'type', 'content')}]"


def outcome(result: Any, max_chars: int) -> CallOutcome:
    """A tool's CallToolResult as the model is to be given it (see CallOutcome)."""
    parts = [describe_content(block) for block in result.content or ()]
    has_text = any(isinstance(block, mcp_types.TextContent) for block in result.content or ())
    structured = getattr(result, "structured_content", None)
    if structured is not None and not has_text:
        parts.append(json.dumps(structured, separators=(",", ":"), ensure_ascii=False, default=str))
    text = "\n".join(p for p in parts if p)
    chars = len(text)
    if chars > max_chars:
        text = (
            text[:max_chars] + f"\n[cut: the result was {chars:,} characters; the limit is {max_chars:,} "
            "(SWITCHBOARD_TOOL_RESULT_MAX_CHARS)]"
        )
    return CallOutcome(text=text, is_error=bool(result.is_error), chars=chars)


# ---------------------------------------------------------------- discovery


async def discover(server: ServerView, *, connect_timeout_s: float = CONNECT_TIMEOUT_S) -> list[ToolInfo]:
    """Connect, list every tool the server offers (all pages), close. Consent marks from the server's settings.
    Raises ToolFailure."""
    async with Sessions(connect_timeout_s=connect_timeout_s) as sessions:
        session = await sessions.session(server)
        tools: list[ToolInfo] = []
        cursor: str | None = None
        started = time.monotonic()
        try:
            with anyio.fail_after(connect_timeout_s):
                for _ in range(MAX_TOOL_PAGES):
                    params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
                    page = await session.list_tools(params=params)
                    tools += [
                        ToolInfo(
                            server=server.name,
                            name=t.name,
                            description=(t.description or t.title or "").strip(),
                            input_schema=dict(t.input_schema or {}),
                            consent=t.name in server.consent_tools,
                        )
                        for t in page.tools
                    ]
                    cursor = page.next_cursor
                    if not cursor:
                        break
        except TimeoutError:
            raise ToolFailure(
                "timeout", f"listing its tools took more than {time.monotonic() - started:.0f} s"
            ) from None
        except MCPError as exc:
            raise ToolFailure("error", f"listing its tools failed: {_describe(exc)}") from None
        return tools
