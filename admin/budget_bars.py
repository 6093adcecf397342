"""Budget bars: each budget's spend this period against its limit, and when it resets (Overview and Budgets)."""

from __future__ import annotations

import streamlit as st

from core import formatting as fmt
from core.reports.spend import BudgetStatus


def literal(text: str) -> str:
    """Text for a Markdown-rendering element: a `$` is a dollar sign, never the start of a formula."""
    return text.replace("$", "\\$")


def bar_text(status: BudgetStatus) -> str:
    b = status.budget
    spent, limit = fmt.budget_amount(b.metric, status.spent_units), fmt.budget_amount(b.metric, b.limit_units)
    text = f"**{b.label[0].upper()}{b.label[1:]}**: {spent} of {limit} ({status.used * 100:.1f}%)"
    if status.reserved_units:
        text += f", {fmt.budget_amount(b.metric, status.reserved_units)} held by replies being written"
    text += f" · {'hard stop' if b.hard else 'warn only'} · resets {status.resets}"
    return literal(text if b.enabled else f"{text} · disabled")


def budget_bars(statuses: list[BudgetStatus]) -> None:
    """One progress bar per budget (full when at or over the limit)."""
    for status in statuses:
        st.progress(min(1.0, max(0.0, status.used)), text=bar_text(status))
