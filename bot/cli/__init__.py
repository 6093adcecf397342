"""The `switchboard` command: the operator's tool and the way scripts drive the product."""

from __future__ import annotations

import typer

from bot.cli import admin, budgets, chat, config, limits, mcp, models, ollama, prefs, providers, system
from bot.cli.output import needs_secret_store

app = typer.Typer(
    help="Switchboard: many LLMs from the chat tools your team already uses.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tracebacks with locals could show secrets
    add_completion=False,
)
# Every command that reads secrets or models first checks the master key (README "Secrets"); not `init`,
# `db`, `secrets` (they repair or set up the store) or admin accounts. `switchboard admin` checks in system.admin.
for sub in (
    providers.app,
    models.app,
    models.registry_app,
    ollama.app,
    config.presets_app,
    config.chains_app,
    config.templates_app,
    config.virtual_app,
    config.defaults_app,
    budgets.app,
    limits.app,
    mcp.app,
):
    for info in sub.registered_commands:
        if info.callback:
            info.callback = needs_secret_store(info.callback)
    if sub.registered_callback and sub.registered_callback.callback:
        sub.registered_callback.callback = needs_secret_store(sub.registered_callback.callback, group=True)

app.command("init")(system.init)
app.command("up")(needs_secret_store(system.up))
app.add_typer(admin.app, name="admin")
app.command("status")(system.status)
app.command("scheduler")(needs_secret_store(system.scheduler))
app.command("slack")(needs_secret_store(system.slack))
app.command("discord")(needs_secret_store(system.discord))
app.add_typer(system.db_app, name="db")
app.add_typer(system.secrets_app, name="secrets")
app.add_typer(providers.app, name="providers")
app.add_typer(models.app, name="models")
app.add_typer(models.registry_app, name="registry")
app.add_typer(ollama.app, name="ollama")
app.command("chat")(needs_secret_store(chat.chat))
app.command("ask")(needs_secret_store(chat.ask))
app.add_typer(config.presets_app, name="presets")
app.add_typer(config.chains_app, name="chains")
app.add_typer(config.templates_app, name="templates")
app.add_typer(config.virtual_app, name="virtual")
app.add_typer(config.defaults_app, name="defaults")
app.add_typer(budgets.app, name="budgets")
app.add_typer(prefs.app, name="prefs")
app.add_typer(limits.app, name="limits")
app.add_typer(mcp.app, name="mcp")
app.command("usage")(needs_secret_store(budgets.usage))


def main() -> None:
    """Entry point of the `switchboard` script."""
    from core.logs import configure_logging
    from core.settings import get_settings

    configure_logging(get_settings().log_level)
    app()
