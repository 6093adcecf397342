"""`switchboard limits add|list|remove`: requests and tokens per minute per scope."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.output import command, emit_json, table

app = typer.Typer(help="Rate limits per scope: requests and tokens a minute.", no_args_is_help=True)


@app.command("add")
@command
def add(
    scope: Annotated[str, typer.Option("--scope", help="global | workspace:ID | channel:ID | user:ID | provider:NAME")],
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests a minute.")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens a minute (prompt and reply).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add a rate limit, e.g. `--scope channel:C123 --rpm 20` or `--scope provider:openai --tpm 90000`."""
    from core.budgets.rates import add_rate_limit

    view = add_rate_limit(scope, requests_per_minute=rpm, tokens_per_minute=tpm)
    if as_json:
        emit_json(view)
    else:
        typer.echo(f"Added rate limit {view.id}: {view.label}, at most {view.rates}.")


@app.command("list")
@command
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List rate limits with what each counted in the current minute."""
    from core.budgets.rates import current, list_rate_limits

    limits = list_rate_limits()
    now = current(limits)
    rows = [
        {
            "id": lim.id,
            "scope": lim.scope,
            "requests_per_minute": lim.requests_per_minute,
            "tokens_per_minute": lim.tokens_per_minute,
            "enabled": lim.enabled,
            "requests_this_minute": now[lim.id][0],
            "tokens_this_minute": now[lim.id][1],
        }
        for lim in limits
    ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("No rate limits yet. Add one: switchboard limits add --scope channel:C123 --rpm 20")
        return

    def used(count: int, cap: int | None) -> str:
        return f"{count:,} / {cap:,}" if cap is not None else "-"

    table(
        [
            (
                lim.id,
                lim.scope,
                used(now[lim.id][0], lim.requests_per_minute),
                used(now[lim.id][1], lim.tokens_per_minute),
                "on" if lim.enabled else "off",
            )
            for lim in limits
        ],
        ["ID", "SCOPE", "REQUESTS THIS MINUTE", "TOKENS THIS MINUTE", "STATE"],
    )


@app.command("remove")
@command
def remove(limit_id: Annotated[int, typer.Argument(help="The limit's id (see `limits list`).")]) -> None:
    """Remove a rate limit."""
    from core.budgets.rates import remove_rate_limit

    remove_rate_limit(limit_id)
    typer.echo(f"Removed rate limit {limit_id}.")
