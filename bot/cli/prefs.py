"""`switchboard prefs list`: what people chose for their own new threads (`!prefs`, `!model NAME --mine`)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.output import command, emit_json, table

app = typer.Typer(help="People's own settings: the model their new threads start on.", no_args_is_help=True)


@app.command("list")
@command
def list_(
    everyone_: Annotated[
        bool, typer.Option("--all", help="Also people who chose nothing (only their last model is known).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List each person's default model, "start where I left off" and the model they used last."""
    from core.config.people import everyone
    from core.formatting import ago

    prefs = everyone(only_set=not everyone_)
    if as_json:
        emit_json(prefs)
        return
    if not prefs:
        typer.echo("Nobody has set a default model of their own yet (people set one with `!model NAME --mine`).")
        return
    rows = [
        (
            p.person.platform,
            p.person.workspace,
            p.person.user_id,
            p.default_model or "-",
            "on" if p.follow_last else "off",
            p.last_model or "-",
            ago(p.updated_at),
        )
        for p in prefs
    ]
    table(rows, ["platform", "workspace", "user", "default model", "start where I left off", "last model", "updated"])
