"""Overview: spend today and this month (and per day over the last 30 days) against budgets, the open alerts to
acknowledge or resolve, provider health, active threads and downloads at a glance."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from admin import ui
from admin.auth import who
from admin.budget_bars import budget_table, delivery, literal
from core import formatting as fmt
from core.alerts import (
    AlertView,
    acknowledge_alert,
    alert_routes,
    count_open_alerts,
    recent_alerts,
    resolve_alert,
    resolve_alerts_of_missing_providers,
)
from core.ollama import list_jobs
from core.providers.store import list_providers
from core.reports.spend import budget_statuses, daily_spend, spend_now
from core.reports.threads import count_active_threads, list_threads
from core.settings import get_settings

ACTIVE_WINDOW = timedelta(hours=24)
SPEND_DAYS = 30
OPEN_SHOWN = 20
CLOSED_SHOWN = 10
SEVERITY_ICON = {"critical": "🛑", "error": "🛑", "warning": "⚠️", "info": "ℹ️"}
METRIC_WIDTH = 190  # px: metrics wrap onto a new line rather than cut their figures on a narrow screen


def spend() -> None:
    st.subheader("Spend")
    now = spend_now()
    known = "Replies of known price only"
    with st.container(horizontal=True, wrap=True):
        st.metric("Spent today", fmt.money(now.today.cost_usd), help=known, width=METRIC_WIDTH)
        st.metric("Spent this month", fmt.money(now.month.cost_usd), help=known, width=METRIC_WIDTH)
        st.metric("Tokens today", f"{now.today.tokens:,}", width=METRIC_WIDTH)
        st.metric("Tokens this month", f"{now.month.tokens:,}", width=METRIC_WIDTH)
    if now.month.unknown_cost:
        n = now.month.unknown_cost
        st.warning(
            f"Plus {n} {'reply' if n == 1 else 'replies'} of unknown price this month ({now.today.unknown_cost} "
            "today): not counted above, and not free. Set their price on the Models page."
        )
    spend_chart()
    statuses = budget_statuses(enabled_only=True)
    if statuses:
        budget_table(statuses, key="overview-budgets")
    else:
        st.caption("No budget is on: nothing limits spend. Add one on the Budgets & alerts page.")
    st.caption(f"Days and months follow SWITCHBOARD_TIMEZONE ({get_settings().timezone}).")


def spend_chart() -> None:
    days = daily_spend(SPEND_DAYS)
    data = pd.DataFrame(
        [{"day": pd.Timestamp(d.day), "spend (USD)": round(d.cost_usd, 6), "replies": d.replies} for d in days]
    )
    st.markdown(f"**Spend per day, last {SPEND_DAYS} days**")
    spec = {
        "mark": {"type": "line", "point": True, "interpolate": "monotone"},
        "encoding": {
            "x": {
                "field": "day",
                "type": "temporal",
                "title": None,
                "axis": {"format": "%b %d"},
                "scale": {"padding": 8},  # the newest point is drawn whole at the right edge
            },
            "y": {
                "field": "spend (USD)",
                "type": "quantitative",
                "title": None,  # the heading says it: spend per day
                "axis": {"format": "$,.4~f", "tickCount": 4},
            },
            "tooltip": [
                {"field": "day", "type": "temporal", "format": "%Y-%m-%d"},
                {"field": "spend (USD)", "type": "quantitative", "format": "$,.4f"},
                {"field": "replies", "type": "quantitative"},
            ],
        },
    }
    st.vega_lite_chart(data, spec, height=200)


def provider_health() -> None:
    st.subheader("Provider health")
    providers = list_providers()
    if not providers:
        st.info("No providers yet. Add one on the Providers page.")
        return
    failing = [p for p in providers if p.health == "failing"]
    with st.container(horizontal=True, wrap=True):
        st.metric("Providers", len(providers), width=METRIC_WIDTH)
        st.metric("Failing", len(failing), width=METRIC_WIDTH)
        st.metric("Disabled", sum(1 for p in providers if not p.enabled), width=METRIC_WIDTH)
    # a static table: the problem is read in full, wrapped, never cut off
    st.table(
        pd.DataFrame(
            [
                {
                    "provider": p.name,
                    "kind": p.label,
                    "health": p.health if p.enabled else "disabled",
                    "latency": fmt.latency(p.last_check_latency_ms),
                    "checked": fmt.ago(p.last_check_at),
                    "problem": p.last_check_error or "–",
                }
                for p in providers
            ]
        ).set_index("provider")
    )


def _acknowledge(alert_id: int) -> None:
    with ui.user_errors():
        acknowledge_alert(alert_id, who())
        ui.flash(f"Alert #{alert_id} acknowledged.")


def _resolve(alert_id: int) -> None:
    with ui.user_errors():
        note = str(st.session_state.get(f"alert-note-{alert_id}", ""))
        resolve_alert(alert_id, who(), note)
        ui.flash(f"Alert #{alert_id} resolved.")


def by_whom(actor: str | None) -> str:
    return actor.removeprefix("admin:") if actor else "Switchboard"


def alert_card(a: AlertView, any_destination: bool) -> None:
    with st.container(border=True, key=f"alert-card-{a.id}"):
        delivered = delivery(a, any_destination)
        st.markdown(
            f"{SEVERITY_ICON.get(a.severity, '•')} **{a.kind}** · #{a.id} · {fmt.timestamp(a.created_at)} "
            f"({fmt.ago(a.created_at)}) · {delivered}  \n" + literal(a.text)
        )
        if a.acknowledged:
            st.caption(f"Acknowledged by {by_whom(a.acknowledged_by)} at {fmt.timestamp(a.acknowledged_at)}")
        with st.container(horizontal=True, vertical_alignment="bottom"):
            if not a.acknowledged:
                st.button("Acknowledge", key=f"ack-{a.id}", on_click=_acknowledge, args=(a.id,))
            st.text_input(
                "Resolution note",
                key=f"alert-note-{a.id}",
                placeholder="What was done (optional)",
                label_visibility="collapsed",
                max_chars=200,
                width=260,
            )
            st.button("Resolve", key=f"resolve-{a.id}", on_click=_resolve, args=(a.id,), type="primary")


def alerts() -> None:
    st.subheader("Alerts")
    resolve_alerts_of_missing_providers({p.name for p in list_providers()})
    ui.show_flashes()
    still_open = recent_alerts(OPEN_SHOWN, open_only=True)
    total_open = count_open_alerts()
    any_destination = any(r.active for r in alert_routes(get_settings()))
    if not still_open:
        st.caption("No open alerts.")
    else:
        more = f" (the newest {len(still_open)} shown)" if total_open > len(still_open) else ""
        unseen = sum(1 for a in still_open if not a.acknowledged)
        st.caption(f"{total_open} open, {unseen} not acknowledged yet{more}. The full log is on Budgets & alerts.")
        for a in still_open:
            alert_card(a, any_destination)
    closed = [a for a in recent_alerts(OPEN_SHOWN + CLOSED_SHOWN) if not a.open][:CLOSED_SHOWN]
    if closed:
        with st.expander(f"Recently resolved ({len(closed)})"):
            st.table(
                pd.DataFrame(
                    [
                        {
                            "alert": a.text,
                            "raised": fmt.timestamp(a.created_at),
                            "acknowledged": (
                                f"{by_whom(a.acknowledged_by)} at {fmt.timestamp(a.acknowledged_at)}"
                                if a.acknowledged
                                else "–"
                            ),
                            "resolved": f"{by_whom(a.resolved_by)} at {fmt.timestamp(a.resolved_at)}",
                            "resolution": a.resolution or "resolved",
                        }
                        for a in closed
                    ]
                )
            )


def active_threads() -> None:
    st.subheader("Active threads")
    count = count_active_threads(ACTIVE_WINDOW)
    st.metric("Threads active in the last 24 hours", count)
    page = list_threads(active_within=ACTIVE_WINDOW, limit=10)
    if page.threads:
        st.dataframe(
            [
                {
                    "thread": t.title or t.thread,
                    "where": f"{t.platform} {t.workspace}/{t.channel}",
                    "model": t.current_model or "",
                    "messages": t.messages,
                    "cost": fmt.money(t.cost_usd),
                    "last activity": fmt.ago(t.updated_at),
                }
                for t in page.threads
            ],
            hide_index=True,
        )


def downloads() -> None:
    running = list_jobs(active_only=True)
    if running:
        st.subheader("Ollama downloads")
        for job in running:
            st.progress(min(1.0, (job.percent or 0) / 100), text=f"{job.model} on {job.provider}: {job.detail}")


def render() -> None:
    st.title("Overview")
    spend()
    alerts()
    provider_health()
    downloads()
    active_threads()


render()
