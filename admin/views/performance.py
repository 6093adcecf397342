"""Performance: latency p50/p95, time to first token, tokens/s and error rate per model over time (measured from
stored replies), the registry's current rolling figures that routing uses, and a per-request log filtered by
model, status and time range, whose rows open to the request in full (the message it answered, the reply, the error,
the fallback) with a link to its thread."""

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
    RequestRow,
    logged_models,
    performance_series,
    request_detail,
    request_log,
)
from core.reports.spend import day_range, local_today
from core.reports.threads import plural
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
    chosen = st.dataframe(
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
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "error": st.column_config.TextColumn("error", width="large"),
            "model": st.column_config.TextColumn("model", pinned=True),
        },
    )
    failed = [r for r in rows if r.error]
    more = " (the newest shown: narrow the filters to see older ones)" if len(rows) == size else ""
    st.caption(f"{plural(len(rows), 'request')}, {len(failed)} with an error{more}. Select a row to open it.")
    picked = chosen.selection.rows
    if picked and picked[0] < len(rows):
        request_panel(rows[picked[0]])
    if failed:
        with st.expander(f"Errors in full ({len(failed)})"):
            st.table(
                pd.DataFrame(
                    [{"time": fmt.timestamp(r.at), "model": r.model, "error": r.error} for r in failed[:50]]
                ).set_index("time")
            )


def request_panel(row: RequestRow) -> None:
    """One request in full: its figures, what went wrong, the message it answered, the reply, and its thread."""
    detail = request_detail(row.id)
    if detail is None:
        st.info("That request is no longer stored (its thread may have been deleted).")
        return
    r = detail.reply
    with st.container(border=True, key="request-detail"):
        st.markdown(f"**Request #{r.id}** · {fmt.timestamp(r.created_at)}")
        figures = st.container(horizontal=True, gap="large")  # wraps on a narrow window instead of cutting figures
        figures.metric("Model", r.model or fmt.MISSING, width="content")
        figures.metric("Provider", r.provider or fmt.MISSING, width="content")
        figures.metric("Status", r.status, width="content")
        figures.metric("Latency", fmt.latency(r.latency_ms), width="content")
        figures.metric("First token", fmt.latency(r.ttft_ms), width="content")
        figures.metric("Tokens in / out", f"{r.prompt_tokens or 0:,} / {r.completion_tokens or 0:,}", width="content")
        figures.metric("Cost", fmt.money(r.cost_usd, unknown="unknown"), width="content")
        if r.fallback_from:
            reason = f": {r.fallback_reason}" if r.fallback_reason else ""
            st.warning(f"Answered after a fallback from {r.fallback_from}{reason}", icon=":material/alt_route:")
        if r.error:
            st.error(r.error, icon=":material/error:")
        if r.finish_reason:
            st.caption(f"Finish reason: {r.finish_reason}")
        if detail.answered is not None:
            st.markdown("**The message it answered**")
            who = detail.answered.user_id or "user"
            st.caption(f"{who} · {fmt.timestamp(detail.answered.created_at)}")
            st.text(detail.answered.content)
        if r.role == "tool":  # a model call of a reply that ended in tool calls: what it asked for
            st.markdown("**A tool round of a reply** (the model asked for tools; the thread's transcript has them)")
            asked = r.rounds[0].calls if r.rounds else ()
            calls = ", ".join(f"{c.server}.{c.tool}({c.shown}) · {c.status}" for c in asked)
            st.caption(calls or "No calls were stored.")
        else:
            st.markdown("**The reply**")
        if r.content:
            with st.container(height=260 if len(r.content) > 1200 else "content"):
                st.markdown(r.content)
        elif r.role != "tool":
            st.caption("Nothing was written.")
        if detail.thread is not None:
            title = detail.thread.title or detail.thread.thread
            st.page_link(
                "views/conversations.py",
                label=f"Open its thread: {title if len(title) <= 60 else title[:59] + '…'}",
                icon=":material/forum:",
                query_params={"thread": str(detail.thread.id)},
            )


def render() -> None:
    st.title("Performance")
    over_time()
    current_figures()
    request_log_section()


render()
