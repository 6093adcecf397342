"""The budget editor of the Budgets & alerts page: add a budget, or change one's limit, mode, alert thresholds and
whether it is on; remove one after a confirmation. Everything is checked before anything is written, so a form
that shows an error saved nothing."""

from __future__ import annotations

import streamlit as st

from admin import ui
from admin.budget_bars import literal
from core import formatting as fmt
from core.budgets import BudgetView, add_budget, remove_budget, update_budget
from core.budgets.periods import PERIODS
from core.budgets.store import METRICS, SCOPE_KINDS
from core.errors import UserError
from core.models.registry import require_model
from core.providers.store import get_provider, list_providers

SCOPES = {
    "global": "Everything (global)",
    "workspace": "A workspace",
    "channel": "A channel",
    "user": "A user",
    "provider": "A provider",
    "model": "A model",
}
WHAT = {"workspace": "workspace id", "channel": "channel id", "user": "user id", "provider": "provider name"}
PERIOD_NAMES = {"day": "Day", "week": "Week (from Monday)", "month": "Month", "total": "Total (never resets)"}
METRIC_NAMES = {"usd": "Dollars (USD)", "tokens": "Tokens"}
MODES = {True: "Hard: refuse replies that would go over", False: "Warn only: alert, and let replies through"}


def budget_scope(kind: str, value: str) -> str:
    """The core's scope for what the form says. A provider or model budget must name one that exists (a typo
    would make a budget that never applies); a model's alias or short name becomes its registry name."""
    value = value.strip()
    if kind == "global":
        if value:
            raise UserError("A global budget covers everything: clear 'Scope id or name', or pick another scope.")
        return "global"
    if not value:
        raise UserError(f"Enter the {WHAT.get(kind, 'model name')} this budget applies to.")
    if kind == "provider" and get_provider(value) is None:
        known = ", ".join(p.name for p in list_providers()) or "none yet"
        raise UserError(
            f"There is no provider named '{value}' (providers: {known}). Add it on the Providers page first."
        )
    if kind == "model":
        value = require_model(value).name
    return f"{kind}:{value}"


def parse_thresholds(text: str) -> list[int]:
    """'50, 80, 100' as percentages; the core checks their range."""
    parts = [p.strip().rstrip("%").strip() for p in text.split(",") if p.strip()]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise UserError(
            f"Alert thresholds are whole percentages separated by commas, like 50, 80, 100 (not '{text.strip()}')."
        ) from None


def described(b: BudgetView) -> str:
    alerts = f"alerts at {', '.join(f'{t}%' for t in b.thresholds)}" if b.thresholds else "no alerts"
    mode = "hard stop" if b.hard else "warn only"
    period = b.period if b.period != "total" else "all time"
    return f"{fmt.budget_amount(b.metric, b.limit_units)} per {period}, {mode}, {alerts}"


def editor(budgets: list[BudgetView]) -> None:
    """Pick a budget to edit (or a new one), its form, and removal."""
    labels = {f"#{b.id} {b.label}": b for b in budgets}
    chosen = ui.pick("Budget to edit", list(labels), key="budget-pick")
    budget = labels[chosen] if chosen else None
    kind, value, period, metric = "global", "", "month", "usd"
    with st.form("budget"):
        if budget is None:
            st.markdown("**New budget**")
            c1, c2 = st.columns(2)
            kind = c1.selectbox("Scope", SCOPE_KINDS, format_func=SCOPES.__getitem__)
            value = c2.text_input(
                "Scope id or name",
                help="Workspace, channel or user id (Slack team/channel/user id, Discord server/channel/user id), "
                "provider name, or model name. Empty for a global budget.",
            )
            c3, c4 = st.columns(2)
            period = c3.selectbox("Period", PERIODS, index=PERIODS.index("month"), format_func=PERIOD_NAMES.__getitem__)
            metric = c4.selectbox("Measure", METRICS, format_func=METRIC_NAMES.__getitem__)
        else:
            st.markdown(literal(f"**{budget.label[0].upper()}{budget.label[1:]}** (`{budget.scope}`)"))
            st.caption("Scope, period and measure are fixed: to change them, add a new budget and remove this one.")
        c5, c6 = st.columns(2)
        limit = c5.number_input(
            "Limit",
            value=budget.limit if budget else None,
            step=1.0,
            help="In dollars, or in tokens for a token budget.",
        )
        hard = c6.selectbox(
            "When the limit is reached",
            list(MODES),
            index=0 if budget is None or budget.hard else 1,
            format_func=MODES.__getitem__,
        )
        marks = st.text_input(
            "Alert at (% of the limit)",
            value=", ".join(map(str, budget.thresholds)) if budget else "50, 80, 100",
            help="Admins get an alert the first time spend crosses each percentage in a period. Empty: no alerts.",
        )
        enabled = st.checkbox("Enabled", value=budget.enabled) if budget else True
        submitted = st.form_submit_button("Save budget" if budget else "Add budget")
    if submitted:
        with ui.user_errors():
            if limit is None:
                raise UserError("Enter a limit: dollars, or tokens for a token budget.")
            thresholds = parse_thresholds(marks)
            if budget is None:
                saved = add_budget(
                    budget_scope(kind, value), period, float(limit), hard=hard, thresholds=thresholds, metric=metric
                )
                ui.flash(literal(f"Added the {saved.label}: {described(saved)}."))
            else:
                saved = update_budget(budget.id, limit=float(limit), hard=hard, thresholds=thresholds, enabled=enabled)
                ui.flash(literal(f"Saved the {saved.label}: {described(saved)}."))
            st.rerun()
    if budget is not None:
        st.caption("Removing a budget also removes its usage history.")
        if ui.confirm_delete(f"the {budget.label}", key=f"budget-{budget.id}"):
            with ui.user_errors():
                remove_budget(budget.id)
                ui.flash(f"Removed the {budget.label}.")
                st.rerun()
