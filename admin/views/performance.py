"""Performance: latency p50/p95, time to first token, tokens/s and error rate per model over time (measured from
stored replies), the registry's current rolling figures that routing uses, and a per-request log filtered by
model, status and time range."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from core import formatting as fmt
from core.models.registry import all_models
from core.reports.performance import (
    LOG_STATUSES,
    MAX_LOG_ROWS,
    PerfPoint,
    logged_models,
    performance_series,
    request_log,
)
from core.reports.spend import day_range, local_today
from core.storage.tables import utcnow

WINDOWS = {  # label: (how far back, bucket size, bucket name)
    "Last 24 hours": (timedelta(days=1), timedelta(hours=1), "hour"),
    "Last 7 days": (timedelta(days=7), timedelta(hours=6), "6 hours"),
    "Last 30 days": (timedelta(days=30), timedelta(days=1), "day"),
}
METRICS = {  # title: (column, d3 axis format)
    "Latency p50 (ms)": ("latency_p50_ms", ",.0f"),
    "Latency p95 (ms)": ("latency_p95_ms", ",.0f"),
    "Time to first token p50 (ms)": ("ttft_p50_ms", ",.0f"),
    "Tokens/s p50": ("tokens_per_s", ",.1f"),
    "Error rate": ("error_rate", ".0%"),
}
LOG_RANGES = {
    "Last hour": timedelta(hours=1),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "Dates…": None,
}
LOG_SIZES = (50, 100, 200, MAX_LOG_ROWS)


def frame(points: list[PerfPoint]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "time": p.bucket_start,
                "model": p.model,
                "replies": p.replies,
                "latency_p50_ms": p.latency_p50_ms,
                "latency_p95_ms": p.latency_p95_ms,
                "ttft_p50_ms": p.ttft_p50_ms,
                "tokens_per_s": p.tokens_per_s,
                "error_rate": p.error_rate,
            }
            for p in points
        ]
    )


def current_figures() -> None:
    st.subheader("Now (rolling, last replies per model)")
    measured = [m for m in all_models() if m.latency_p50_ms is not None or m.error_rate is not None]
    if not measured:
        st.caption("No model has rolling figures yet; the scheduler computes them from replies.")
        return
    st.dataframe(
        [
            {
                "model": m.name,
                "latency p50": fmt.latency(m.latency_p50_ms),
                "latency p95": fmt.latency(m.latency_p95_ms),
                "first token p50": fmt.latency(m.ttft_p50_ms),
                "tokens/s": "–" if m.tokens_per_s is None else f"{m.tokens_per_s:.1f}",
                "error rate": fmt.percent(m.error_rate),
            }
            for m in measured
        ],
        hide_index=True,
    )


def over_time() -> None:
    st.subheader("Over time")
    c1, c2 = st.columns([1, 2])
    window = c1.selectbox("Window", list(WINDOWS), key="perf-window")
    since, bucket, per = WINDOWS[window]
    points = performance_series(since, bucket)
    if not points:
        st.info("No replies in this window yet.")
        return
    data = frame(points)
    names = sorted(data["model"].unique())
    chosen = c2.multiselect("Models", names, default=names, key="perf-models")
    data = data[data["model"].isin(chosen)]
    if data.empty:
        st.info("Pick at least one model.")
        return
    st.caption(f"{int(data['replies'].sum())} replies; each point is one {per}")
    columns = st.columns(2)
    for i, (title, (column, axis)) in enumerate(METRICS.items()):
        with columns[i % 2]:
            st.markdown(f"**{title}**")
            chart(data, column, title, axis, names)


def chart(data: pd.DataFrame, column: str, title: str, axis: str, names: list[str]) -> None:
    """A line per model with a point on every bucket, so a model with one bucket of data still shows."""
    shown = data[["time", "model", "replies", column]].dropna(subset=[column])
    if shown.empty:
        st.caption("Nothing measured in this window.")
        return
    spec = {
        "mark": {"type": "line", "point": {"filled": True, "size": 60}},
        "encoding": {
            "x": {"field": "time", "type": "temporal", "title": None},
            "y": {
                "field": column,
                "type": "quantitative",
                "title": title,
                "axis": {"format": axis, "title": None},  # the heading above names it
                **({"scale": {"domainMin": 0}} if column == "error_rate" else {}),
            },
            "color": {  # one colour per model on every chart
                "field": "model",
                "type": "nominal",
                "scale": {"domain": names},
                "legend": {"orient": "bottom", "title": None, "columns": 1, "labelLimit": 0},
            },
            "tooltip": [
                {"field": "time", "type": "temporal", "format": "%Y-%m-%d %H:%M"},
                {"field": "model", "type": "nominal"},
                {"field": column, "type": "quantitative", "title": title, "format": axis},
                {"field": "replies", "type": "quantitative"},
            ],
        },
    }
    st.vega_lite_chart(shown, spec, height=280)  # the legend below takes a line per model


def log_window() -> tuple[datetime | None, datetime | None]:
    chosen = st.selectbox("Time range", list(LOG_RANGES), index=1, key="log-range")
    back = LOG_RANGES[chosen]
    if back is not None:
        return utcnow() - back, None
    today = local_today()
    picked = st.date_input("Dates", (today - timedelta(days=6), today), max_value=today, key="log-dates")
    days = [d for d in (picked if isinstance(picked, tuple | list) else [picked]) if isinstance(d, date)]
    if not days:  # the first date picked, the second not yet
        return None, None
    return day_range(days[0], days[-1])


def request_log_section() -> None:
    st.subheader("Request log")
    st.caption("One row per reply a model wrote (or failed to), newest first.")
    with st.container(horizontal=True, wrap=True, vertical_alignment="bottom"):
        with st.container(width=220):
            since, until = log_window()
        models = st.multiselect("Model", logged_models(since), key="log-models", placeholder="All models", width=320)
        statuses = st.multiselect("Status", list(LOG_STATUSES), key="log-status", placeholder="Any status", width=260)
        size = st.selectbox("Rows", LOG_SIZES, key="log-size", width=110)
    rows = request_log(since=since, until=until, models=models, statuses=statuses, limit=size)
    if not rows:
        st.info("No requests match these filters.")
        return
    st.dataframe(
        [
            {
                "time": fmt.timestamp(r.at),
                "model": r.model,
                "provider": r.provider or "–",
                "status": r.status,
                "error": r.error or "",
                "latency": fmt.latency(r.latency_ms),
                "first token": fmt.latency(r.ttft_ms),
                "prompt tokens": r.prompt_tokens,
                "completion tokens": r.completion_tokens,
                "cost": fmt.money(r.cost_usd, unknown="unknown"),
                "fallback from": r.fallback_from or "",
            }
            for r in rows
        ],
        hide_index=True,
        key="request-log",
        column_config={
            "error": st.column_config.TextColumn("error", width="large"),
            "model": st.column_config.TextColumn("model", pinned=True),
        },
    )
    failed = [r for r in rows if r.error]
    more = " (the newest shown: narrow the filters to see older ones)" if len(rows) == size else ""
    st.caption(f"{len(rows)} requests, {len(failed)} with an error{more}.")
    if failed:
        with st.expander(f"Errors in full ({len(failed)})"):
            st.table(
                pd.DataFrame(
                    [{"time": fmt.timestamp(r.at), "model": r.model, "error": r.error} for r in failed[:50]]
                ).set_index("time")
            )


def render() -> None:
    st.title("Performance")
    over_time()
    current_figures()
    request_log_section()


render()
