"""Small helpers every admin page shares: showing errors the core wrote for users, and formatting."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import streamlit as st

from core import render
from core.errors import UserError
from core.logs import redact

log = logging.getLogger("switchboard.admin")


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a core `UserError` as it was written (what happened, what to do); anything else as a short note
    without a traceback (tracebacks can carry secrets), logged for the operator."""
    try:
        yield
    except UserError as exc:
        st.error(redact(str(exc)))
    except Exception as exc:
        log.exception("admin action failed")
        st.error(f"Something went wrong ({type(exc).__name__}). The details are in the admin's log.")


def flash(message: str, icon: str = ":material/check_circle:") -> None:
    """A message that survives the rerun after a save (shown at the top of the next run)."""
    st.session_state.setdefault("_flash", []).append((message, icon))


def show_flashes() -> None:
    for message, icon in st.session_state.pop("_flash", []):
        st.success(message, icon=icon)


def money(value: float | None, unknown: str = "unknown") -> str:
    """Dollars as core shows them everywhere (`core.render.money`); `unknown` when there is no amount."""
    return render.money(value, unknown=unknown)


def price(per_mtok: float | None) -> str:
    return "unknown" if per_mtok is None else ("free" if per_mtok == 0 else f"${per_mtok:g}/Mtok")


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value < 10_000 else f"{value / 1000:,.1f} s"


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def size(value: int | None) -> str:
    from core.ollama import format_bytes

    return "–" if not value else format_bytes(value)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def ago(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "never"
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    delta = ((now or datetime.now(UTC)) - when).total_seconds()
    if delta < 60:
        return "just now"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86400:
        return f"{int(delta // 3600)} h ago"
    return f"{int(delta // 86400)} d ago"


def when(value: datetime | None) -> str:
    if value is None:
        return "–"
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def masked_key(has_key: bool, hint: str, reveal: bool) -> str:
    """A provider key as the admin may see it: hidden, or on reveal only its last 4 characters (`…abcd`)."""
    if not has_key:
        return "no key"
    if not reveal:
        return "••••••••"
    tail = hint.rsplit("…", 1)[-1] if "…" in hint else ""
    return f"…{tail}" if tail else "…(too short to show)"


NEW = "+ New…"


def pick(label: str, names: list[str], key: str, *, new: bool = True) -> str | None:
    """Choose an existing item to edit, or (None) a new one."""
    options = ([NEW] if new else []) + names
    chosen = st.selectbox(label, options, key=key)
    return None if chosen == NEW else chosen


def confirm_delete(what: str, key: str) -> bool:
    """A delete button that needs a tick first. True when the admin confirmed and clicked."""
    c1, c2 = st.columns([2, 1])
    sure = c1.checkbox(f"Yes, delete {what}", key=f"{key}-sure")
    return c2.button("Delete", key=f"{key}-delete", disabled=not sure)
