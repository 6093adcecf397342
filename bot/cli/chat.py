"""`switchboard chat` and `switchboard ask`: a conversation thread in the terminal."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer

from bot.cli.output import command


@command
def chat(
    thread: Annotated[str | None, typer.Option("--thread", help="Continue this thread (default: a new one).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Switch the thread to this model first.")] = None,
) -> None:
    """Chat interactively: streaming replies, the footer (model · tokens · cost · fallback), and every command."""
    from bot.console import chat as run_chat

    raise typer.Exit(asyncio.run(run_chat(thread or uuid.uuid4().hex[:8], model)))


@command
def ask(
    text: Annotated[str, typer.Argument(help="The message.")],
    thread: Annotated[str, typer.Option("--thread", help="Thread id; the same id continues the conversation.")],
    model: Annotated[str | None, typer.Option("--model", help="Switch the thread to this model first.")] = None,
) -> None:
    """One turn for scripts: prints the reply and the footer; exits 0, or 1 with the reason on stderr."""
    from bot.console import ask as run_ask

    raise typer.Exit(asyncio.run(run_ask(thread, text, model)))
