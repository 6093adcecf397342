"""Budgets & alerts: each budget's spend this period against its limit and when it resets; adding, editing and
removing budgets; where alerts are sent; and the alert log with each alert's delivery state."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from admin import budget_forms
from admin.budget_bars import budget_bars
from core import formatting as fmt
from core.alerts import AlertRoute, AlertView, alert_routes, recent_alerts
from core.budgets import list_budgets
from core.reports.spend import budget_statuses
from core.settings import get_settings

ALL = "all"
KINDS = ("budget", "health", "platform")
LOG_SIZE = 100


def budgets_section() -> None:
    st.subheader("Budgets")
    st.caption(
        f"Spend this period against each limit. Days, weeks (from Monday) and months follow "
        f"SWITCHBOARD_TIMEZONE ({get_settings().timezone})."
    )
    budgets = list_budgets()
    if budgets:
        budget_bars(budget_statuses(budgets))
    else:
        st.info("No budgets yet: nothing limits spend. Add one below.")
    budget_forms.editor(budgets)


def destinations_section(found: list[AlertRoute]) -> None:
    st.subheader("Alert destinations")
    st.dataframe(
        [{"platform": d.platform, "channel": d.channel or "–", "status": d.status} for d in found], hide_index=True
    )
    if not any(d.active for d in found):
        st.warning("No alert destination is set up: alerts are only shown here.")
    st.caption(
        "To change them, set SWITCHBOARD_ALERT_SLACK_CHANNEL (a Slack channel id; needs SLACK_BOT_TOKEN) and/or "
        "SWITCHBOARD_ALERT_DISCORD_CHANNEL (a Discord channel id; needs DISCORD_BOT_TOKEN) in .env, then restart "
        "Switchboard. The scheduler sends each alert and retries until every destination has it."
    )


def delivery(a: AlertView, any_destination: bool) -> str:
    if not a.open:
        sent = "delivered, then " if a.delivered_at is not None else ""
        return f"{sent}closed: {a.resolution or 'resolved'}"
    if a.delivered_at is not None:
        return "delivered"
    if a.attempts:
        return f"pending: {a.attempts} failed attempt{'s' if a.attempts != 1 else ''}, retrying"
    return "pending" if any_destination else "not sent: no destination set up"


def delivered_to(a: AlertView) -> str:
    return ", ".join(
        f"{dest} at {fmt.timestamp(datetime.fromisoformat(at))}" for dest, at in sorted(a.deliveries.items())
    )


def alert_log(any_destination: bool) -> None:
    st.subheader("Alert log")
    newest = recent_alerts(LOG_SIZE)
    kind = st.selectbox("Kind", [ALL, *sorted({*KINDS, *(a.kind for a in newest)})], key="alert-kind")
    found = newest if kind == ALL else recent_alerts(LOG_SIZE, kind)
    if not found:
        st.caption("No alerts yet." if kind == ALL else f"No {kind} alerts.")
        return
    st.dataframe(
        [
            {
                "time": fmt.timestamp(a.created_at),
                "kind": a.kind,
                "severity": a.severity,
                "alert": a.text,
                "delivery": delivery(a, any_destination),
                "delivered to": delivered_to(a),
                "last error": a.last_error or "",
            }
            for a in found
        ],
        hide_index=True,
    )
    pending = sum(1 for a in found if a.delivered_at is None and a.open)
    st.caption(f"The last {len(found)} alerts, newest first; {pending} not delivered everywhere yet.")


def render() -> None:
    st.title("Budgets & alerts")
    budgets_section()
    found = alert_routes(get_settings())
    destinations_section(found)
    alert_log(any(d.active for d in found))


render()
