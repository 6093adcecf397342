"""`switchboard admin`: run the admin app; `switchboard admin set-password [USERNAME]`: create an admin or change
its password (read from a hidden prompt, or stdin for scripts; never from argv, where `ps` would show it);
`switchboard admin sessions` and `end-sessions`: who is signed in, and signing them out everywhere."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from bot.cli.output import command, emit_json, fail, stdin_is_tty, table
from bot.cli.system import admin as run_admin

app = typer.Typer(
    help="The Streamlit admin app: `switchboard admin` runs it; subcommands manage admin accounts.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@app.callback()
def main(ctx: typer.Context) -> None:
    """Run the Streamlit admin app (SWITCHBOARD_ADMIN_ADDRESS:SWITCHBOARD_ADMIN_PORT)."""
    if ctx.invoked_subcommand is None:
        run_admin()


def _read_password() -> str:
    if stdin_is_tty():
        first = getpass.getpass("New admin password (input hidden): ")
        if getpass.getpass("Repeat it: ") != first:
            fail("The two passwords differ; nothing was changed.")
        return first
    line = sys.stdin.readline() if sys.stdin else ""
    return line.rstrip("\r\n")


@app.command("set-password")
@command
def set_password(
    username: Annotated[str, typer.Argument(help="The admin to create or update.")] = "admin",
) -> None:
    """Create an admin account or change its password. The password comes from a hidden prompt or stdin."""
    from core.admins import set_password as store

    password = _read_password()
    created = store(username, password)
    verb = "Created admin" if created else "Changed the password of admin"
    ended = "" if created else " Its sessions signed in with the old password have ended."
    typer.echo(f"{verb} '{username.strip()}'. Sign in at the admin app with it.{ended}")


@app.command("list")
@command
def list_admins() -> None:
    """List admin accounts (usernames only)."""
    from core.admins import admin_usernames

    names = admin_usernames()
    typer.echo("\n".join(names) if names else "No admin accounts. Create one with `switchboard admin set-password`.")


@app.command("remove")
@command
def remove(
    username: Annotated[str, typer.Argument(help="The admin to remove.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove an admin account."""
    from core.admins import remove_admin

    if not yes and not typer.confirm(f"Remove admin '{username}'?"):
        raise typer.Exit(1)
    remove_admin(username)
    typer.echo(f"Removed admin '{username}'.")


@app.command("sessions")
@command
def sessions(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Who is signed in to the admin app now (one line per sign-in)."""
    from core.admins import active_sessions
    from core.formatting import ago

    rows = active_sessions()
    if as_json:
        emit_json(
            [{"user": v.username, "method": v.method, "since": v.created_at, "last_seen": v.last_seen_at} for v in rows]
        )
    elif rows:
        table(
            [(v.username, v.method, ago(v.created_at), ago(v.last_seen_at)) for v in rows],
            ["user", "by", "since", "last seen"],
        )
    else:
        typer.echo("Nobody is signed in to the admin app.")


@app.command("end-sessions")
@command
def end_sessions(
    username: Annotated[str | None, typer.Argument(help="Only this admin's sessions (default: everyone's).")] = None,
) -> None:
    """Sign admins out of the admin app in every browser (e.g. after a laptop was lost): they sign in again."""
    from core.admins import end_sessions as end

    count = end(username.strip() if username else None)
    whose = f"of '{username.strip()}' " if username else ""
    typer.echo(f"Ended {count} admin session{'s' if count != 1 else ''} {whose}in every browser.")
