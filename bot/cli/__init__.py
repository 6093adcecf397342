"""The `switchboard` command: the operator's tool and the way scripts drive the product."""

from __future__ import annotations

import typer

from bot.cli import admin, budgets, chat, config, models, ollama, providers, system

app = typer.Typer(
    help="Switchboard: many LLMs from the chat tools your team already uses.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # tracebacks with locals could show secrets
    add_completion=False,
)
app.command("init")(system.init)
app.command("up")(system.up)
app.add_typer(admin.app, name="admin")
app.command("scheduler")(system.scheduler)
app.command("slack")(system.slack)
app.command("discord")(system.discord)
app.add_typer(system.db_app, name="db")
app.add_typer(system.secrets_app, name="secrets")
app.add_typer(providers.app, name="providers")
app.add_typer(models.app, name="models")
app.add_typer(models.registry_app, name="registry")
app.add_typer(ollama.app, name="ollama")
app.command("chat")(chat.chat)
app.command("ask")(chat.ask)
app.add_typer(config.presets_app, name="presets")
app.add_typer(config.chains_app, name="chains")
app.add_typer(config.templates_app, name="templates")
app.add_typer(config.virtual_app, name="virtual")
app.add_typer(config.defaults_app, name="defaults")
app.add_typer(budgets.app, name="budgets")
app.command("usage")(budgets.usage)


def main() -> None:
    """Entry point of the `switchboard` script."""
    from core.logs import configure_logging
    from core.settings import get_settings

    configure_logging(get_settings().log_level)
    app()
