"""Usage: cost and tokens per day, a breakdown by model, provider, workspace, channel or user (downloadable as
CSV) and the costliest threads, for a range of days in SWITCHBOARD_TIMEZONE. Replies of unknown price are
counted apart and flagged, never shown as free."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from admin.usage_tables import (
    COST,
    TOOL_ROUNDS,
    TOOL_TIME,
    UNKNOWN,
    breakdown_table,
    csv_text,
    daily_table,
    threads_table,
    unknown_price_models,
)
from core import formatting as fmt
from core.reports.spend import local_today
from core.settings import get_settings

BREAKDOWNS = {"model": "Model", "provider": "Provider", "workspace": "Workspace", "channel": "Channel", "user": "User"}
DEFAULT_DAYS = 30
TOP_THREADS = 10
MONEY = st.column_config.NumberColumn(
    COST, format="$%.4f", help="Replies of known price only. None: every reply in the row had an unknown price"
)


def pick_days() -> tuple[date, date] | None:
    today = local_today()
    picked = st.date_input(
        "Days",
        value=(today - timedelta(days=DEFAULT_DAYS - 1), today),
        max_value=today,
        key="usage-days",
        help=f"Both days included, in SWITCHBOARD_TIMEZONE ({get_settings().timezone}).",
    )
    if not isinstance(picked, tuple) or len(picked) != 2:
        st.info("Pick the last day of the range too.")
        return None
    return picked[0], picked[1]


def totals(days: pd.DataFrame) -> int:
    """The range's totals as metrics; returns how many replies had an unknown price."""
    unknown = int(days[UNKNOWN].sum())
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Cost", fmt.money(float(days[COST].sum())), help="Replies of known price only")
    c2.metric("Tokens", f"{int(days['prompt tokens'].sum() + days['completion tokens'].sum()):,}")
    c3.metric("Replies", f"{int(days['replies'].sum()):,}")
    c4.metric("Replies of unknown price", unknown)
    if TOOL_ROUNDS in days and days[TOOL_ROUNDS].any():
        rounds = int(days[TOOL_ROUNDS].sum())
        st.caption(
            f":material/build: Replies used tools: {rounds:,} tool {'round' if rounds == 1 else 'rounds'} (model "
            f"calls that asked for tools, counted in the tokens and cost above); tools ran "
            f"{fmt.duration(float(days[TOOL_TIME].sum()))} in all."
        )
    return unknown


def unknown_price_warning(first: date, last: date, unknown: int) -> None:
    if not unknown:
        return
    which = ", ".join(f"{r.key} ({r.unknown_cost})" for r in unknown_price_models(first, last))
    st.warning(
        f"{unknown} {'reply' if unknown == 1 else 'replies'} of unknown price ({which}): their cost is not in "
        "these figures, and they are not free. Set the price on the Models page (or `switchboard models set`)."
    )


def over_time(days: pd.DataFrame) -> None:
    st.subheader("Over time")
    left, right = st.columns(2)
    with left:
        st.bar_chart(days, x="day", y=COST, x_label="", y_label="Cost (USD)")
    with right:
        st.bar_chart(days, x="day", y=["prompt tokens", "completion tokens"], x_label="", y_label="Tokens")


def breakdown(first: date, last: date) -> None:
    st.subheader("Breakdown")
    group = st.selectbox("Break down by", list(BREAKDOWNS), format_func=BREAKDOWNS.__getitem__, key="usage-group")
    table = breakdown_table(group, first, last)
    name = BREAKDOWNS[group].lower()
    left, right = st.columns(2)
    with left:
        st.bar_chart(table, x=group, y=COST, x_label="", y_label=f"Cost by {name} (USD)")
    with right:
        st.bar_chart(table, x=group, y="tokens", x_label="", y_label=f"Tokens by {name}")
    st.dataframe(table, hide_index=True, column_config={COST: MONEY})
    st.download_button(
        "Download CSV",
        csv_text(table),
        file_name=f"switchboard-usage-by-{group}-{first}-to-{last}.csv",
        mime="text/csv",
        on_click="ignore",
    )


def top_threads(first: date, last: date) -> None:
    st.subheader("Costliest threads")
    st.dataframe(threads_table(first, last, TOP_THREADS), hide_index=True, column_config={COST: MONEY})


def render() -> None:
    st.title("Usage")
    picked = pick_days()
    if picked is None:
        return
    first, last = picked
    days = daily_table(first, last)
    unknown = totals(days)
    if not days["replies"].any():
        st.info(f"No replies from {first} to {last}.")
        return
    unknown_price_warning(first, last, unknown)
    over_time(days)
    breakdown(first, last)
    top_threads(first, last)


render()
