"""How the CLI prints: aligned tables for people, `--json` for scripts, clean errors for both."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn

import typer

from core.logs import redact


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=_default, indent=2, sort_keys=False))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            typer.echo("  ".join("-" * w for w in widths))


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"Error: {redact(message)}", err=True)
    raise typer.Exit(code)


def user_errors() -> tuple[type[Exception], ...]:
    """Errors whose message is written for users (shown as is, exit 2)."""
    from core.errors import UserError

    return (UserError,)


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn our user-facing errors into `Error: ...` and exit 2; anything else into a short note, exit 1."""
    try:
        yield
    except typer.Exit:
        raise
    except user_errors() as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("Interrupted.", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        import logging

        logging.getLogger("switchboard.cli").debug("unexpected error", exc_info=True)
        fail(f"unexpected {type(exc).__name__}. Run with SWITCHBOARD_LOG_LEVEL=DEBUG for details.", code=1)


def command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command body in friendly_errors()."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with friendly_errors():
            return fn(*args, **kwargs)

    return wrapper


def require_secret_store() -> None:
    """Stop now, saying what to do, when the master key is missing or cannot decrypt the stored secrets:
    before a process reports healthy or a command does half its work."""
    from core.secrets import get_backend

    with friendly_errors():
        get_backend()


def needs_secret_store(fn: Callable[..., Any], *, group: bool = False) -> Callable[..., Any]:
    """Run require_secret_store() before the command (not for --help, which never calls it). A group's
    callback (`group=True`) checks only when it runs alone: its subcommands check for themselves."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        contexts = [v for v in [*args, *kwargs.values()] if hasattr(v, "invoked_subcommand")]
        if not group or not contexts or contexts[0].invoked_subcommand is None:
            require_secret_store()
        return fn(*args, **kwargs)

    return wrapper


def stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
