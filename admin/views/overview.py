"""Overview: provider health, recent alerts, active threads and downloads at a glance.

The budgets follow-up adds spend today and this month against budgets as the first section (see `render`)."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from admin import ui
from core.alerts import recent_alerts
from core.browse import count_active_threads, list_threads
from core.ollama import list_jobs
from core.providers.store import list_providers

ACTIVE_WINDOW = timedelta(hours=24)
SEVERITY_ICON = {"critical": "🛑", "error": "🛑", "warning": "⚠️", "info": "ℹ️"}


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
                "latency": ui.ms(p.last_check_latency_ms),
                "checked": ui.ago(p.last_check_at),
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
        delivered = "delivered" if a.delivered_at else f"not delivered yet ({a.attempts} attempts)"
        st.markdown(
            f"{SEVERITY_ICON.get(a.severity, '•')} **{a.kind}** · {ui.ago(a.created_at)} · {delivered}  \n{a.text}"
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
                    "cost": ui.money(t.cost_usd),
                    "last activity": ui.ago(t.updated_at),
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
    # Follow-up (budgets): spend today and this month against budgets goes here, first.
    left, right = st.columns(2)
    with left:
        provider_health()
        downloads()
    with right:
        alerts()
    active_threads()


render()
