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
        fail("--header must look like 'Name: value'.")  # never echo it: the value is a secret
    return name.strip(), val.strip()


def _read_headers(
    given: list[str], from_env: list[str], from_stdin: str | None, key_from_stdin: bool
) -> dict[str, str]:
    """Header values are secrets, like keys: from an environment variable or stdin. `--header 'Name: value'`
    still works, with a warning that argv is visible to other users of the machine (`ps`, shell history)."""
    headers = dict(_header(h) for h in given)
    for name in headers:
        typer.echo(
            f"Warning: the value of header '{name}' was typed on the command line, where `ps` and your shell history "
            f"show it. Next time use --header-env {name}=VAR or --header-stdin {name}.",
            err=True,
        )
    for item in from_env:
        name, sep, var = item.partition("=")
        if not sep or not name.strip() or not var.strip():
            fail(f"--header-env must look like NAME=ENV_VAR (e.g. api-key=AZURE_KEY), got {item!r}.")
        if var.strip() not in os.environ:
            fail(f"Environment variable {var.strip()} is not set.")
        headers[name.strip()] = os.environ[var.strip()]
    if from_stdin:
        if key_from_stdin and not stdin_is_tty():
            fail(
                "Only one secret can come from stdin: pass the API key with --api-key-env, or the header with "
                "--header-env."
            )
        if stdin_is_tty():
            headers[from_stdin] = getpass.getpass(f"Value of header {from_stdin} (input hidden): ")
        else:
            headers[from_stdin] = sys.stdin.read() if sys.stdin else ""
    return headers


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
    header: Annotated[
        list[str] | None,
        typer.Option("--header", help="Extra HTTP header 'Name: value' (visible in `ps`: prefer --header-env)."),
    ] = None,
    header_env: Annotated[
        list[str] | None,
        typer.Option("--header-env", help="Extra HTTP header NAME=VAR: its value from environment variable VAR."),
    ] = None,
    header_stdin: Annotated[
        str | None, typer.Option("--header-stdin", help="Extra HTTP header NAME: its value read from stdin.")
    ] = None,
    privacy_note: Annotated[str | None, typer.Option("--privacy-note", help="Where data goes.")] = None,
    refresh: Annotated[bool, typer.Option("--refresh/--no-refresh", help="Discover models right away.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add a provider. Its key and header values go to the secret store; the CLI never takes a key as an argument."""
    from core.providers.kinds import get_kind
    from core.providers.store import add_provider

    pkind = get_kind(kind)
    key_from_stdin = not api_key_env and (api_key_stdin or bool(pkind and pkind.needs_key))
    headers = _read_headers(header or [], header_env or [], header_stdin, key_from_stdin)
    key = _read_key(api_key_env, api_key_stdin, bool(pkind and pkind.needs_key))
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
        from core.models.sync import refresh_provider

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
    """List providers with their health. Keys and header values are shown masked."""
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
                ", ".join(f"{n}: {hint}" for n, hint in v.extra_headers.items()) or "-",
                v.health + (f" ({v.last_check_latency_ms:.0f} ms)" if v.last_check_ok else ""),
                "" if v.enabled else "disabled",
            )
            for v in views
        ],
        ["NAME", "KIND", "WHERE", "BASE URL", "KEY", "HEADERS", "HEALTH", ""],
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
