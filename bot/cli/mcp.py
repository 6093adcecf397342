"""`switchboard mcp add|list|tools|test|set|remove`: the MCP servers whose tools threads may use."""

from __future__ import annotations

import asyncio
import getpass
import shlex
import sys
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from bot.cli.output import command, emit_json, fail, stdin_is_tty, table
from core.formatting import ago, latency

if TYPE_CHECKING:
    from core.tools.servers import ServerView

app = typer.Typer(help="MCP servers: tools that models may use in threads.", no_args_is_help=True)

SCOPE_HELP = "global | workspace:ID | channel:ID | preset:NAME"


def _read_secret(header: str) -> str:
    """The auth header's value from a hidden prompt, or stdin when piped: never an argument (`ps` shows those)."""
    if stdin_is_tty():
        return getpass.getpass(f"Value of header {header} (input hidden): ")
    value = sys.stdin.read() if sys.stdin else ""
    return value.strip()


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


def _target(v: ServerView) -> str:
    """Where the server is, without anything that could be a credential (arguments, a query string)."""
    if v.transport == "http":
        parts = urlsplit(v.url or "")
        return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
    try:
        argv = shlex.split(v.command or "")
    except ValueError:
        argv = [v.command or ""]
    return (argv[0].rsplit("/", 1)[-1] + (" …" if len(argv) > 1 else "")) if argv else ""


def _health(v: ServerView) -> str:
    if v.last_check_ok is None:
        return "unchecked"
    if v.last_check_ok:
        return f"ok ({latency(v.last_check_latency_ms)}, {ago(v.last_check_at)})"
    return f"down ({ago(v.last_check_at)})"


def _tools_count(v: ServerView) -> str:
    if not v.tools:
        return "-" if v.last_check_ok is None else "0"
    offered = len(v.offered)
    return str(offered) if offered == len(v.tools) else f"{offered} of {len(v.tools)}"


def _json(v: ServerView) -> dict[str, Any]:
    return {
        "name": v.name,
        "transport": v.transport,
        "command": v.command,
        "url": v.url,
        "auth_header": v.auth_header,
        "has_secret": v.has_secret,
        "secret_hint": v.secret_hint,
        "enabled": v.enabled,
        "scope": v.scope_kind if v.scope_kind == "global" else f"{v.scope_kind}:{v.scope_value}",
        "allowed_tools": list(v.allowed_tools) if v.allowed_tools is not None else None,
        "consent_tools": list(v.consent_tools),
        "tools": [
            {
                "name": t.name,
                "description": t.description,
                "consent": t.consent,
                "allowed": v.allowed_tools is None or t.name in v.allowed_tools,
                "input_schema": t.input_schema,
            }
            for t in v.tools
        ],
        "health": "unchecked" if v.last_check_ok is None else ("ok" if v.last_check_ok else "down"),
        "last_check_at": v.last_check_at,
        "last_check_error": v.last_check_error,
        "last_check_latency_ms": v.last_check_latency_ms,
    }


def _short(text: str, most: int = 70) -> str:
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def _tool_rows(v: ServerView) -> None:
    table(
        [
            (
                t.name,
                _short((t.description.splitlines() or [""])[0]),
                "asks first" if t.consent else "",
                "yes" if v.allowed_tools is None or t.name in v.allowed_tools else "no",
            )
            for t in v.tools
        ],
        ["TOOL", "DESCRIPTION", "CONSENT", "OFFERED"],
    )


def _check(name: str) -> ServerView:
    from core.tools.health import check

    return asyncio.run(check(name))


@app.command("add")
@command
def add(
    name: Annotated[str, typer.Argument(help="A short name, shown with each tool: NAME.tool.")],
    command_line: Annotated[
        str | None, typer.Option("--command", help="Run this command line and talk to it over stdio.")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="A remote server's streamable HTTP endpoint.")] = None,
    header: Annotated[
        str | None,
        typer.Option("--header", help="An auth header to send, e.g. Authorization; its value is asked for (hidden)."),
    ] = None,
    secret_stdin: Annotated[
        bool,
        typer.Option("--secret-stdin", help="Read the auth header's value from stdin (header: Authorization)."),
    ] = False,
    scope: Annotated[str, typer.Option("--scope", help=f"Where its tools are offered: {SCOPE_HELP}.")] = "global",
    check: Annotated[bool, typer.Option("--check/--no-check", help="Connect and list its tools right away.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Register an MCP server: `--command "npx -y some-mcp-server"` (runs on this machine with the bot's rights),
    or `--url https://host/mcp` (its host must be in SWITCHBOARD_MCP_ALLOWED_HOSTS)."""
    from core.tools.servers import DEFAULT_AUTH_HEADER, add_server

    secret = _read_secret(header or DEFAULT_AUTH_HEADER) if (header or secret_stdin) else None
    view = add_server(name, command=command_line, url=url, auth_header=header, secret=secret, scope=scope)
    if check:
        view = _check(view.name)
    if as_json:
        emit_json(_json(view))
        return
    secret_note = f", {view.auth_header} {view.secret_hint}" if view.has_secret else ""
    typer.echo(f"Added MCP server '{view.name}' ({view.transport}, {view.scope_label}{secret_note}).")
    if view.last_check_ok:
        typer.echo(f"It lists {len(view.tools)} tools: {', '.join(t.name for t in view.tools) or 'none'}.")
    elif view.last_check_ok is False:
        typer.echo(f"Warning: it does not answer: {view.last_check_error}", err=True)
        typer.echo(f"Fix it, then run `switchboard mcp test {view.name}`.", err=True)


@app.command("list")
@command
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List MCP servers with where their tools are offered, their health and how many tools they offer."""
    from core.tools.servers import list_servers

    views = list_servers()
    if as_json:
        emit_json([_json(v) for v in views])
        return
    if not views:
        typer.echo('No MCP servers yet. Add one: switchboard mcp add NAME --command "CMD ARGS" (or --url URL)')
        return
    table(
        [
            (
                v.name,
                v.transport,
                _target(v),
                v.scope_label,
                _health(v),
                _tools_count(v),
                f"{v.auth_header} {v.secret_hint}" if v.has_secret else "-",
                "" if v.enabled else "disabled",
            )
            for v in views
        ],
        ["NAME", "TRANSPORT", "WHERE", "SCOPE", "HEALTH", "TOOLS", "AUTH", ""],
    )
    for v in views:
        if v.last_check_ok is False:
            typer.echo(f"  {v.name}: {v.last_check_error}")


def _require(name: str) -> ServerView:
    from core.tools.servers import get_server

    view = get_server(name)
    if view is None:
        fail(f"There is no MCP server named '{name}'. See `switchboard mcp list`.")
    return view


@app.command("tools")
@command
def tools(
    name: Annotated[str, typer.Argument(help="The server's name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The tools the server listed at its last check: which ask the user first, and which threads are offered."""
    view = _require(name)
    if as_json:
        emit_json(_json(view)["tools"])
        return
    if not view.tools:
        typer.echo(f"'{name}' has listed no tools yet. Run `switchboard mcp test {name}`.")
        return
    _tool_rows(view)


@app.command("test")
@command
def test(
    name: Annotated[str, typer.Argument(help="The server's name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Connect, list the server's tools and record its health: its tools, or what is wrong."""
    _require(name)
    view = _check(name)
    if as_json:
        emit_json(_json(view))
    elif view.last_check_ok:
        typer.echo(f"OK: '{name}' answered in {latency(view.last_check_latency_ms)} with {len(view.tools)} tools.")
        if view.tools:
            _tool_rows(view)
    else:
        typer.echo(f"FAILED: {view.last_check_error}")
    if not view.last_check_ok:
        raise typer.Exit(1)


@app.command("set")
@command
def set_(
    name: Annotated[str, typer.Argument(help="The server's name.")],
    scope: Annotated[str | None, typer.Option("--scope", help=SCOPE_HELP)] = None,
    allow: Annotated[
        str | None, typer.Option("--allow", help="Offer only these tools, comma-separated (see `mcp tools`).")
    ] = None,
    allow_all: Annotated[bool, typer.Option("--allow-all", help="Offer every tool it lists.")] = False,
    consent: Annotated[
        str | None,
        typer.Option("--consent", help="Tools that ask the user before each run, comma-separated ('' for none)."),
    ] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="Offer its tools, or not.")] = None,
    header: Annotated[
        str | None, typer.Option("--header", help="The auth header's name; with --secret-stdin, a new value.")
    ] = None,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read a new value of the auth header from stdin.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Change where its tools are offered, which, which ask first, whether it is on, and its credential."""
    from core.tools.servers import DEFAULT_AUTH_HEADER, update_server

    if allow is not None and allow_all:
        fail("Give --allow NAMES or --allow-all, not both.")
    current = _require(name)
    secret = _read_secret(header or current.auth_header or DEFAULT_AUTH_HEADER) if secret_stdin else None
    view = update_server(
        name,
        enabled=enabled,
        scope=scope,
        allowed_tools=None if allow_all else (_names(allow) if allow is not None else ...),
        consent_tools=_names(consent) if consent is not None else None,
        auth_header=header,
        secret=secret,
    )
    if as_json:
        emit_json(_json(view))
        return
    offered = "every tool" if view.allowed_tools is None else ", ".join(view.allowed_tools) or "no tools"
    asks = ", ".join(view.consent_tools) or "none"
    state = "enabled" if view.enabled else "disabled"
    typer.echo(f"Updated '{name}': {state}, {view.scope_label}; offers {offered}; asks first: {asks}.")


@app.command("remove")
@command
def remove(
    name: Annotated[str, typer.Argument(help="The server's name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a server and its credential; threads are no longer offered its tools."""
    from core.tools.servers import remove_server

    _require(name)
    if not yes and stdin_is_tty() and not typer.confirm(f"Remove MCP server '{name}'?"):
        raise typer.Exit(1)
    remove_server(name)
    typer.echo(f"Removed MCP server '{name}'.")
