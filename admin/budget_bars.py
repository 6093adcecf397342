"""Budgets as an admin reads them (Overview and Budgets & alerts): a table of each budget's spend this period,
what replies being written hold (in flight), its limit, period and when it resets; and a short bar list for
the Overview."""

from __future__ import annotations

import streamlit as st

from core import formatting as fmt
from core.alerts import AlertView
from core.reports.spend import BudgetStatus

PERIOD_NAMES = {"day": "day", "week": "week (from Monday)", "month": "month", "total": "total (never resets)"}


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


def budget_rows(statuses: list[BudgetStatus]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for status in statuses:
        b = status.budget
        rows.append(
            {
                "budget": f"{b.label[0].upper()}{b.label[1:]}",
                "spent": fmt.budget_amount(b.metric, status.spent_units),
                "in flight": fmt.budget_amount(b.metric, status.reserved_units) if status.reserved_units else "–",
                "limit": fmt.budget_amount(b.metric, b.limit_units),
                "used": round(status.used * 100, 1),
                "period": PERIOD_NAMES.get(b.period, b.period),
                "resets": status.resets,
                "mode": "hard stop" if b.hard else "warn only",
                "alerts at": ", ".join(f"{t}%" for t in b.thresholds) or "–",
                "state": "on" if b.enabled else "off",
            }
        )
    return rows


def budget_table(statuses: list[BudgetStatus], *, key: str) -> None:
    """Every budget in one table; "in flight" is what replies being written hold until they are settled."""
    st.dataframe(
        budget_rows(statuses),
        hide_index=True,
        key=key,
        column_config={
            "budget": st.column_config.TextColumn("budget", width="medium", pinned=True),
            "used": st.column_config.ProgressColumn("used", format="%.1f%%", min_value=0, max_value=100, width="small"),
            "in flight": st.column_config.TextColumn(
                "in flight", help="Held by replies being written; settled at their real cost when they end"
            ),
            "resets": st.column_config.TextColumn("resets", help="When this period ends (SWITCHBOARD_TIMEZONE)"),
        },
    )


def delivery(a: AlertView, any_destination: bool) -> str:
    """Where an alert stands: delivered, pending (retrying), not sent anywhere, or closed."""
    if not a.open:
        sent = "delivered, then " if a.delivered_at is not None else ""
        return f"{sent}closed: {a.resolution or 'resolved'}"
    if a.delivered_at is not None:
        return "delivered"
    if a.attempts:
        return f"pending: {a.attempts} failed attempt{'s' if a.attempts != 1 else ''}, retrying"
    return "pending" if any_destination else "not sent: no destination set up"
