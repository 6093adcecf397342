"""Small helpers every admin page shares: showing errors the core wrote for users, flashes, pickers.

Numbers, sizes and times are formatted by core.formatting, as in chat and the CLI."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

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
