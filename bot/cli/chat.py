"""`switchboard chat` and `switchboard ask`: a conversation thread in the terminal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Annotated, Any

import typer

from bot.cli.output import command
from core.errors import UserError
from core.types import IncomingFile

FILE_HELP = "Send this file (an image, a text file or a PDF; repeat for several)"


@command
def chat(
    thread: Annotated[str | None, typer.Option("--thread", help="Continue this thread (default: a new one).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Switch the thread to this model first.")] = None,
    file: Annotated[list[str] | None, typer.Option("--file", help=FILE_HELP + " with the first message.")] = None,
) -> None:
    """Chat interactively: streaming replies, the footer (model · tokens · cost · fallback), and every command.
    `!attach PATH` sends a file with the next message."""
    from bot.console import chat as run_chat

    raise typer.Exit(asyncio.run(_then_release(run_chat(thread or uuid.uuid4().hex[:8], model, _files(file)))))


@command
def ask(
    text: Annotated[str, typer.Argument(help="The message.")],
    thread: Annotated[str, typer.Option("--thread", help="Thread id; the same id continues the conversation.")],
    model: Annotated[str | None, typer.Option("--model", help="Switch the thread to this model first.")] = None,
    file: Annotated[list[str] | None, typer.Option("--file", help=FILE_HELP + ".")] = None,
) -> None:
    """One turn for scripts: prints the reply and the footer; exits 0, or 1 with the reason on stderr."""
    from bot.console import ask as run_ask

    raise typer.Exit(asyncio.run(_then_release(run_ask(thread, text, model, _files(file)))))


async def _then_release(session: Coroutine[Any, Any, int]) -> int:
    """The terminal session, then what it kept open (an MCP server's session) let go of."""
    from core import runtime

    try:
        return await session
    finally:
        await runtime.release()


def _files(paths: list[str] | None) -> tuple[IncomingFile, ...]:
    from bot.console import local_file

    try:
        return tuple(local_file(p) for p in paths or ())
    except FileNotFoundError as err:
        raise UserError(f"Nothing was sent: {err}.") from None
