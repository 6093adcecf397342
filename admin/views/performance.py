"""Performance: latency p50/p95, time to first token, tokens/s and error rate per model over time (measured from
stored replies), and the registry's current rolling figures that routing uses."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from core import formatting as fmt
from core.models.registry import all_models
from core.reports.performance import PerfPoint, performance_series

WINDOWS = {  # label: (how far back, bucket size, bucket name)
    "Last 24 hours": (timedelta(days=1), timedelta(hours=1), "hour"),
    "Last 7 days": (timedelta(days=7), timedelta(hours=6), "6 hours"),
    "Last 30 days": (timedelta(days=30), timedelta(days=1), "day"),
}
METRICS = {
    "Latency p50 (ms)": "latency_p50_ms",
    "Latency p95 (ms)": "latency_p95_ms",
    "Time to first token p50 (ms)": "ttft_p50_ms",
    "Tokens/s p50": "tokens_per_s",
    "Error rate (%)": "error_rate_pct",
}


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
                "error_rate_pct": round(p.error_rate * 100, 1),
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
    c1, c2 = st.columns([1, 3])
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
    for i, (title, column) in enumerate(METRICS.items()):
        with columns[i % 2]:
            st.markdown(f"**{title}**")
            st.line_chart(data, x="time", y=column, color="model", x_label="", y_label=title)


def render() -> None:
    st.title("Performance")
    over_time()
    current_figures()


render()
