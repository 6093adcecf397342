"""Overview: spend today and this month against budgets, provider health, recent alerts, active threads and
downloads at a glance."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from admin.budget_bars import budget_bars, literal
from core import formatting as fmt
from core.alerts import recent_alerts
from core.ollama import list_jobs
from core.providers.store import list_providers
from core.reports.spend import budget_statuses, spend_now
from core.reports.threads import count_active_threads, list_threads
from core.settings import get_settings

ACTIVE_WINDOW = timedelta(hours=24)
SEVERITY_ICON = {"critical": "🛑", "error": "🛑", "warning": "⚠️", "info": "ℹ️"}


def spend() -> None:
    st.subheader("Spend")
    now = spend_now()
    c1, c2, c3, c4 = st.columns(4)
    known = "Replies of known price only"
    c1.metric("Spent today", fmt.money(now.today.cost_usd), help=known)
    c2.metric("Spent this month", fmt.money(now.month.cost_usd), help=known)
    c3.metric("Tokens today", f"{now.today.tokens:,}")
    c4.metric("Tokens this month", f"{now.month.tokens:,}")
    if now.month.unknown_cost:
        n = now.month.unknown_cost
        st.warning(
            f"Plus {n} {'reply' if n == 1 else 'replies'} of unknown price this month ({now.today.unknown_cost} "
            "today): not counted above, and not free. Set their price on the Models page."
        )
    statuses = budget_statuses(enabled_only=True)
    if statuses:
        budget_bars(statuses)
    else:
        st.caption("No budget is on: nothing limits spend. Add one on the Budgets & alerts page.")
    st.caption(f"Days and months follow SWITCHBOARD_TIMEZONE ({get_settings().timezone}).")


def provider_health() -> None:
    st.subheader("Provider health")
    providers = list_providers()
    if not providers:
        st.info("No providers yet. Add one on the Providers page.")
        return
    failing = [p for p in providers if p.health == "failing"]
    c1, c2, c3 = st.columns(3)
    c1.metric("Providers", len(providers))
    c2.metric("Failing", len(failing))
    c3.metric("Disabled", sum(1 for p in providers if not p.enabled))
    st.dataframe(
        [
            {
                "provider": p.name,
                "kind": p.label,
                "health": p.health if p.enabled else "disabled",
                "latency": fmt.latency(p.last_check_latency_ms),
                "checked": fmt.ago(p.last_check_at),
                "problem": p.last_check_error or "",
            }
            for p in providers
        ],
        hide_index=True,
    )


def alerts() -> None:
    st.subheader("Recent alerts")
    found = recent_alerts(limit=10)
    if not found:
        st.caption("No alerts.")
        return
    for a in found:
        if not a.open:
            delivered = f"closed: {a.resolution or 'resolved'}"
        else:
            delivered = "delivered" if a.delivered_at else f"not delivered yet ({a.attempts} attempts)"
        st.markdown(
            f"{SEVERITY_ICON.get(a.severity, '•')} **{a.kind}** · {fmt.ago(a.created_at)} · {delivered}  \n"
            + literal(a.text)  # budget alerts name amounts: "$5 of $10" is not a formula
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
    left, right = st.columns(2)
    with left:
        provider_health()
        downloads()
    with right:
        alerts()
    active_threads()


render()
