"""Budgets & alerts: each budget's spend this period, what replies being written hold, its limit, period and when
it resets; adding, editing and removing budgets; where alerts are sent (set here, with .env as the default) and a
test alert through the same path the scheduler uses; and the alert log with each alert's delivery and who
acknowledged or resolved it."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pandas as pd
import streamlit as st

from admin import budget_forms, ui
from admin.budget_bars import budget_table, delivery
from admin.rate_forms import rate_limits_section
from bot.alerting import notifiers
from core import formatting as fmt
from core.alerts import AlertRoute, AlertView, alert_routes, recent_alerts, set_alert_destination
from core.budgets import list_budgets
from core.logs import redact
from core.reports.spend import budget_statuses
from core.settings import get_settings

ALL = "all"
KINDS = ("budget", "health", "model", "platform")  # model: a model in use retires or left its provider's list
LOG_SIZE = 100
TEST_TEXT = "Test alert from the Switchboard admin: alerts reach this channel."
CHANNEL_HELP = {
    "Slack": "A Slack channel id, like C0123ABCD (the bot must be in the channel). Needs SLACK_BOT_TOKEN.",
    "Discord": "A Discord channel id, like 1234567890123456789. Needs DISCORD_BOT_TOKEN.",
}


def budgets_section() -> None:
    st.subheader("Budgets")
    st.caption(
        f"Spend this period against each limit; in flight is what replies being written hold until they end. "
        f"Days, weeks (from Monday) and months follow SWITCHBOARD_TIMEZONE ({get_settings().timezone})."
    )
    budgets = list_budgets()
    if budgets:
        budget_table(budget_statuses(budgets), key="budgets-table")
    else:
        st.info("No budgets yet: nothing limits spend. Add one below.")
    budget_forms.editor(budgets)


def _save_destination(platform: str) -> None:
    with ui.user_errors():
        value = str(st.session_state.get(f"dest-{platform}", ""))
        set_alert_destination(platform, value)
        ui.flash(f"{platform} alerts go to {value.strip()}." if value.strip() else f"{platform} alerts are off.")


def _use_default(platform: str) -> None:
    with ui.user_errors():
        set_alert_destination(platform, None)
        st.session_state.pop(f"dest-{platform}", None)
        ui.flash(f"{platform} alerts follow .env again.")


def send_test_alert() -> list[tuple[str, str | None]]:
    """Send a test alert to every active destination through the scheduler's notifiers: (destination, error)."""
    found = notifiers(get_settings())

    async def each() -> list[tuple[str, str | None]]:
        results: list[tuple[str, str | None]] = []
        for n in found:
            try:
                await n.send(TEST_TEXT, "warning")
                results.append((n.name, None))
            except Exception as exc:  # shown to the admin, redacted; the next destination is still tried
                results.append((n.name, redact(str(exc))[:300] or type(exc).__name__))
        return results

    return asyncio.run(each())


def destinations_section(found: list[AlertRoute]) -> None:
    st.subheader("Alert destinations")
    ui.show_flashes()
    st.dataframe(
        [
            {
                "platform": d.platform,
                "channel": d.channel or "–",
                "set in": "admin" if d.source == "admin" else f".env ({d.channel_setting})",
                "status": d.status,
            }
            for d in found
        ],
        hide_index=True,
    )
    if not any(d.active for d in found):
        st.warning("No alert destination is set up: alerts are only shown here.")
    cols = st.columns(len(found))
    for col, d in zip(cols, found, strict=True):
        with col, st.form(f"dest-form-{d.platform}", border=True):
            st.markdown(f"**{d.platform}**")
            st.text_input(
                f"{d.platform} channel",
                value=d.channel,
                key=f"dest-{d.platform}",
                help=CHANNEL_HELP[d.platform] + " Leave empty to send no alerts there.",
                max_chars=100,
            )
            with st.container(horizontal=True):
                st.form_submit_button("Save", on_click=_save_destination, args=(d.platform,), type="primary")
                st.form_submit_button(
                    "Use .env default",
                    on_click=_use_default,
                    args=(d.platform,),
                    disabled=d.source != "admin",
                    help=f"Forget this setting: {d.channel_setting} applies",
                )
    st.caption(
        "A channel set here is kept in the database and wins over .env; without one, .env's "
        "SWITCHBOARD_ALERT_SLACK_CHANNEL and SWITCHBOARD_ALERT_DISCORD_CHANNEL apply. The scheduler sends each alert "
        "and retries until every destination has it."
    )
    active = [d for d in found if d.active]
    if st.button("Send a test alert", disabled=not active, help="Sends a message to every destination above now"):
        for name, error in send_test_alert():
            if error is None:
                st.success(f"Test alert sent to {name}.")
            else:
                st.error(f"Test alert to {name} failed: {error}")


def delivered_to(a: AlertView) -> str:
    return ", ".join(
        f"{dest} at {fmt.timestamp(datetime.fromisoformat(at))}" for dest, at in sorted(a.deliveries.items())
    )


def acted(by: str | None, at: datetime | None) -> str:
    if at is None:
        return ""
    return f"{by.removeprefix('admin:') if by else 'Switchboard'} at {fmt.timestamp(at)}"


def alert_log(any_destination: bool) -> None:
    st.subheader("Alert log")
    newest = recent_alerts(LOG_SIZE)
    kind = st.selectbox("Kind", [ALL, *sorted({*KINDS, *(a.kind for a in newest)})], key="alert-kind")
    found = newest if kind == ALL else recent_alerts(LOG_SIZE, kind)
    if not found:
        st.caption("No alerts yet." if kind == ALL else f"No {kind} alerts.")
        return
    # a static table: the alert's text and errors are read in full, wrapped, never cut off
    st.table(
        pd.DataFrame(
            [
                {
                    "time": fmt.timestamp(a.created_at),
                    "kind": a.kind,
                    "severity": a.severity,
                    "alert": a.text,
                    "delivery": delivery(a, any_destination),
                    "delivered to": delivered_to(a),
                    "acknowledged": acted(a.acknowledged_by, a.acknowledged_at),
                    "resolved": acted(a.resolved_by, a.resolved_at) if a.resolved_at else "",
                    "last error": a.last_error or "",
                }
                for a in found
            ]
        )
    )
    pending = sum(1 for a in found if a.delivered_at is None and a.open)
    st.caption(f"The last {len(found)} alerts, newest first; {pending} not delivered everywhere yet.")


def render() -> None:
    st.title("Budgets & alerts")
    budgets_section()
    rate_limits_section()
    found = alert_routes(get_settings())
    destinations_section(found)
    alert_log(any(d.active for d in found))


render()
