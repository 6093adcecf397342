"""`switchboard providers ...`: add, list, test and remove providers."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from typing import Annotated

import typer

from bot.cli.output import command, emit_json, fail, stdin_is_tty, table

app = typer.Typer(help="Add, list, test and remove LLM providers.", no_args_is_help=True)


def _read_key(api_key_env: str | None, from_stdin: bool, needs_key: bool) -> str | None:
    """The key comes from an environment variable or stdin, never argv (where `ps` would show it)."""
    if api_key_env:
        if api_key_env not in os.environ:
            fail(f"Environment variable {api_key_env} is not set.")
        return os.environ[api_key_env]
    if not (needs_key or from_stdin):
        return None
    if stdin_is_tty():
        return getpass.getpass("API key (input hidden): ")
    return sys.stdin.read() if sys.stdin else ""


def _header(value: str) -> tuple[str, str]:
    name, sep, val = value.partition(":")
    if not sep or not name.strip():
        fail(f"--header must look like 'Name: value', got {value!r}.")
    return name.strip(), val.strip()


@app.command("add")
@command
def add(
    name: Annotated[str, typer.Argument(help="A short name, used in model names: NAME/model-id.")],
    kind: Annotated[
        str,
        typer.Option("--kind", help="ollama, openai, anthropic, groq, together_ai, openai_compatible, ..."),
    ],
    base_url: Annotated[str | None, typer.Option("--base-url", help="Override the API base URL.")] = None,
    organization: Annotated[str | None, typer.Option("--organization", help="OpenAI organization id.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option("--api-key-env", help="Read the API key from this environment variable.")
    ] = None,
    api_key_stdin: Annotated[
        bool,
        typer.Option("--api-key-stdin", help="Read the API key from stdin (default when the kind needs one)."),
    ] = False,
    header: Annotated[list[str] | None, typer.Option("--header", help="Extra HTTP header 'Name: value'.")] = None,
    privacy_note: Annotated[str | None, typer.Option("--privacy-note", help="Where data goes.")] = None,
    refresh: Annotated[bool, typer.Option("--refresh/--no-refresh", help="Discover models right away.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add a provider. Its key goes to the secret store; the CLI never takes it as an argument."""
    from core.providers.kinds import get_kind
    from core.providers.store import add_provider

    pkind = get_kind(kind)
    key = _read_key(api_key_env, api_key_stdin, bool(pkind and pkind.needs_key))
    headers = dict(_header(h) for h in header or [])
    view = add_provider(
        name,
        kind,
        base_url=base_url,
        organization=organization,
        api_key=key,
        extra_headers=headers,
        privacy_note=privacy_note,
    )
    outcome = None
    if refresh:
        from core.refresh import refresh_provider

        outcome = asyncio.run(refresh_provider(view.name))
    if as_json:
        emit_json({"provider": view, "refresh": outcome})
        return
    key_note = f", key {view.key_hint}" if view.has_key else ""
    typer.echo(f"Added provider '{view.name}' ({view.label}{key_note}).")
    if outcome is not None:
        if outcome.ok:
            typer.echo(f"{outcome.message} Registry now has {outcome.models} of its models.")
        else:
            typer.echo(f"Warning: {outcome.message}", err=True)
            if outcome.source == "static":
                typer.echo(f"Listed {outcome.models} models from litellm's static list (marked 'static').")
            typer.echo(f"Fix it, then run `switchboard providers test {view.name}`.", err=True)


@app.command("list")
@command
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List providers with their health. Keys are shown masked."""
    from core.providers.store import list_providers

    views = list_providers()
    if as_json:
        emit_json([{**v.__dict__, "health": v.health} for v in views])
        return
    if not views:
        typer.echo("No providers yet. Add one: switchboard providers add local --kind ollama")
        return
    table(
        [
            (
                v.name,
                v.kind,
                "local" if v.is_local else "cloud",
                v.base_url or "",
                v.key_hint or "-",
                v.health + (f" ({v.last_check_latency_ms:.0f} ms)" if v.last_check_ok else ""),
                "" if v.enabled else "disabled",
            )
            for v in views
        ],
        ["NAME", "KIND", "WHERE", "BASE URL", "KEY", "HEALTH", ""],
    )
    failing = [v for v in views if v.last_check_ok is False]
    for v in failing:
        typer.echo(f"  {v.name}: {v.last_check_error}")


@app.command("test")
@command
def test(
    name: Annotated[str, typer.Argument(help="Provider name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Test the connection: ok with latency, or what is wrong (auth, unreachable, bad URL, rate limited)."""
    from core.providers.store import test_provider

    result = asyncio.run(test_provider(name))
    if as_json:
        emit_json(
            {
                "provider": name,
                "ok": result.ok,
                "latency_ms": result.latency_ms,
                "error_kind": result.error_kind,
                "message": result.message,
                "models": len(result.models),
            }
        )
    else:
        typer.echo(("OK: " if result.ok else "FAILED: ") + result.message)
    if not result.ok:
        raise typer.Exit(1)


@app.command("remove")
@command
def remove(
    name: Annotated[str, typer.Argument(help="Provider name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a provider, its models from the registry, and its key."""
    from core.providers.store import get_provider, remove_provider

    if get_provider(name) is None:
        fail(f"No provider named '{name}'.")
    if not yes and stdin_is_tty() and not typer.confirm(f"Remove provider '{name}' and its key?"):
        raise typer.Exit(1)
    remove_provider(name)
    typer.echo(f"Removed provider '{name}'.")
