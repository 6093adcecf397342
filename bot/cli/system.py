"""`switchboard init | up | status | db upgrade | secrets rotate-key | secrets reset | scheduler | admin`."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.output import command, emit_json, fail, require_secret_store, stdin_is_tty, table

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
secrets_app = typer.Typer(help="The secret store.", no_args_is_help=True)

ROOT = Path(__file__).resolve().parents[2]


@command
def init(
    env_file: Annotated[Path, typer.Option("--env-file", help="Where to write settings.")] = Path(".env"),
) -> None:
    """First run: write .env (with a fresh SWITCHBOARD_SECRET_KEY) if missing, then create the database."""
    from core.secrets import generate_master_key, os_keyring_usable

    created = False
    if not env_file.exists():
        example = ROOT / ".env.example"
        text = example.read_text() if example.exists() else ""
        env_file.write_text(text)
        created = True
    text = env_file.read_text()
    has_key = re.search(r"^SWITCHBOARD_SECRET_KEY=\S+", text, re.M) or os.environ.get("SWITCHBOARD_SECRET_KEY")
    if not has_key and not os_keyring_usable():
        key = generate_master_key()
        if re.search(r"^#?\s*SWITCHBOARD_SECRET_KEY=.*$", text, re.M):
            text = re.sub(
                r"^#?\s*SWITCHBOARD_SECRET_KEY=.*$",
                f"SWITCHBOARD_SECRET_KEY={key}",
                text,
                count=1,
                flags=re.M,
            )
        else:
            text += f"\nSWITCHBOARD_SECRET_KEY={key}\n"
        env_file.write_text(text)
        env_file.chmod(0o600)
        typer.echo(f"Generated a master key for the encrypted secret store into {env_file} (keep it safe).")
    elif created:
        typer.echo(f"Wrote {env_file}.")
    from core.settings import reload_settings
    from core.storage.db import get_engine

    reload_settings()
    get_engine()
    typer.echo("Database ready.")


@db_app.command("upgrade")
@command
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply schema migrations (startup also does this automatically)."""
    from core.providers.store import secure_stored_headers
    from core.settings import get_settings
    from core.storage.db import get_engine
    from core.storage.migrate import current_revision, upgrade

    url = get_settings().effective_database_url
    os.environ["SWITCHBOARD_AUTO_MIGRATE"] = "false"
    from core.settings import reload_settings

    reload_settings()
    engine = get_engine(url)
    upgrade(engine, revision)
    if revision == "head":
        secure_stored_headers()  # data the running app would move on first use: done now
    typer.echo(f"Database at revision {current_revision(engine)}.")


@secrets_app.command("rotate-key")
@command
def rotate_key(
    new_key_env: Annotated[
        str | None, typer.Option("--new-key-env", help="Read the new master key from this variable.")
    ] = None,
    generate: Annotated[bool, typer.Option("--generate", help="Generate a new random key and print it.")] = False,
) -> None:
    """Re-encrypt every stored secret under a new master key (all or nothing)."""
    from core.secrets import generate_master_key
    from core.secrets import rotate_key as do_rotate

    if generate:
        new = generate_master_key()
    elif new_key_env:
        new = os.environ.get(new_key_env, "")
    elif stdin_is_tty():
        import getpass

        new = getpass.getpass("New master key: ")
    else:
        new = sys.stdin.read().strip()
    count = do_rotate(new)
    typer.echo(f"Re-encrypted {count} secrets. Now set SWITCHBOARD_SECRET_KEY to the new key everywhere.")
    if generate:
        typer.echo(f"New key: {new}")


@secrets_app.command("reset")
@command
def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """After losing the master key: delete the secrets SWITCHBOARD_SECRET_KEY cannot decrypt, then use that key."""
    from core.secrets import encrypted_store

    store = encrypted_store()
    lost = store.unreadable()
    if lost:
        typer.echo(f"These {len(lost)} secrets cannot be decrypted with SWITCHBOARD_SECRET_KEY and will be deleted:")
        for name in lost:
            typer.echo(f"  {name}")
        if not yes:
            if not stdin_is_tty():
                fail("Nothing was deleted. Run again with --yes to delete them.")
            typer.confirm("Delete them?", abort=True)
    gone = store.reset()
    typer.echo(f"Deleted {len(gone)} secrets. The secret store now uses the current SWITCHBOARD_SECRET_KEY.")
    providers = [name.removeprefix("provider:") for name in gone if name.startswith("provider:")]
    if providers:
        typer.echo(
            f"Enter the API keys of {', '.join(providers)} again: in the admin (Providers), or with "
            "`switchboard providers remove NAME` and `switchboard providers add NAME ...`."
        )
    if any(name.startswith("slack:") for name in gone):
        typer.echo("Slack workspaces installed through OAuth must install the app again (/slack/install).")


def _procfile() -> dict[str, str]:
    procs: dict[str, str] = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, sep, cmd = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            procs[name.strip()] = cmd.strip()
    return procs


def configured_processes() -> tuple[dict[str, str], dict[str, str]]:
    """(to start, skipped with the reason and how to enable) from the Procfile and settings."""
    from core.settings import get_settings

    s = get_settings()
    start: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for name, cmd in _procfile().items():
        if name == "slack" and not (s.slack_bot_token or s.slack_client_id):
            skipped[name] = (
                "no Slack credentials. Set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET "
                "(+ SLACK_APP_TOKEN for Socket Mode) in .env; see README 'Slack'."
            )
        elif name == "discord" and not s.discord_bot_token:
            skipped[name] = "no Discord token. Set DISCORD_BOT_TOKEN in .env; see README 'Discord'."
        else:
            start[name] = cmd
    return start, skipped


@command
def up(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would start.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with --dry-run).")] = False,
) -> None:
    """Start every configured process of the Procfile (admin, scheduler, and bots that have tokens)."""
    from core.settings import get_settings

    start, skipped = configured_processes()
    s = get_settings()
    admin_url = f"http://{s.admin_address}:{s.admin_port}"
    if as_json:
        emit_json({"start": start, "skipped": skipped, "admin": admin_url if "web" in start else None})
    else:
        for name, why in skipped.items():
            typer.echo(f"Skipping {name}: {why}")
        typer.echo(f"Starting {', '.join(start)}. Admin: {admin_url}")
        if "web" in start and not dry_run and not _has_admins():
            typer.echo("No admin account yet: the admin (web) prints a one-time link below that creates one.")
        if not dry_run:
            typer.echo("Stop everything with Ctrl+C.")
    if dry_run:
        return
    if not start:
        fail("Nothing to start.")
    from honcho.manager import Manager

    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    # Here PORT is Slack's HTTP mode's: the admin stays where the URL above says, PORT or not
    env.update(SWITCHBOARD_ADMIN_PORT=str(s.admin_port), SWITCHBOARD_ADMIN_ADDRESS=s.admin_address)
    manager = Manager()
    for name, cmd in start.items():
        manager.add_process(name, cmd, env=env, cwd=str(Path.cwd()))
    manager.loop()
    raise typer.Exit(manager.returncode or 0)


def _has_admins() -> bool:
    from core.admins import has_admins

    try:
        return has_admins()
    except Exception:  # the processes about to start report a database problem themselves
        return True


def admin() -> None:
    """Run the Streamlit admin app (after checking the master key: it refuses to start without a usable one)."""
    from core.settings import get_settings

    require_secret_store()
    address, port = get_settings().admin_listen()
    args = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "admin" / "server.py"),  # Streamlit's st.App: admin/app.py plus the session-cookie route
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # Set before the first page is drawn (st.set_option in the app comes too late for it): no "Deploy"
        # button and no Streamlit menu for admins, and never a traceback in the browser.
        "--client.toolbarMode",
        "minimal",
        "--client.showErrorDetails",
        "type",
    ]
    os.execv(sys.executable, args)  # noqa: S606 - replace this process with Streamlit's


@command
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Whether the deployment does its work: a scheduler leads, crashed replies and reservations are settled, alerts
    go out, providers answer. Exits 1 when something needs attention (for monitoring probes)."""
    from sqlalchemy.exc import OperationalError

    from core.reports.status import checks

    try:
        results = checks()
    except OperationalError as exc:
        fail(f"cannot reach the database: {exc.orig}", code=1)
    if as_json:
        emit_json([{"check": c.name, "ok": c.ok, "detail": c.detail} for c in results])
    else:
        table([("ok" if c.ok else "PROBLEM", c.name, c.detail) for c in results], ["", "check", "detail"])
    if not all(c.ok for c in results):
        raise typer.Exit(1)


def scheduler() -> None:
    """Run the scheduler process: registry refresh, health checks and the other periodic jobs."""
    from bot.scheduler import run

    run()


def slack() -> None:
    """Run the Slack bot (Socket Mode or HTTP on PORT, per SWITCHBOARD_SLACK_MODE)."""
    from bot.slack.app import main

    main()


def discord() -> None:
    """Run the Discord bot (sharded when DISCORD_SHARD_COUNT is set)."""
    from bot.discord.app import main

    main()
