"""Rate limits on the Budgets & alerts page: a table of each limit with what it counted this minute, a form to add
one, and removal after a confirmation. The core checks everything before writing, so a form that shows an error
saved nothing."""

from __future__ import annotations

import streamlit as st

from admin import budget_forms, ui
from core.budgets.rates import SCOPE_KINDS, RateLimitView, add_rate_limit, current, list_rate_limits, remove_rate_limit
from core.errors import UserError


def _count(used: int, cap: int | None) -> str:
    return f"{used:,} of {cap:,}" if cap is not None else "–"


def rows(limits: list[RateLimitView]) -> list[dict[str, object]]:
    now = current(limits) if limits else {}
    return [
        {
            "id": lim.id,
            "limits": lim.label,
            "requests this minute": _count(now[lim.id][0], lim.requests_per_minute),
            "tokens this minute": _count(now[lim.id][1], lim.tokens_per_minute),
            "state": "on" if lim.enabled else "off",
        }
        for lim in limits
    ]


def _whole(value: float | None, what: str) -> int | None:
    if value is None:
        return None
    if value != int(value):
        raise UserError(f"{what} a minute is a whole number, not {value:g}.")
    return int(value)


def rate_limits_section() -> None:
    st.subheader("Rate limits")
    st.caption(
        "Requests and tokens a minute, counted in whole clock minutes and shared by every worker. A person's, "
        "channel's or workspace's limit counts each message once; a provider's counts every request sent to it. "
        "A refused message is told when to try again."
    )
    limits = list_rate_limits()
    if limits:
        st.dataframe(rows(limits), hide_index=True, key="rate-limits-table")
    else:
        st.info("No rate limits yet: nobody is limited in how fast they ask. Add one below.")
    with st.form("rate-limit"):
        st.markdown("**New rate limit**")
        c1, c2 = st.columns(2)
        kind = c1.selectbox(
            "Rate limit for", SCOPE_KINDS, format_func=budget_forms.SCOPES.__getitem__, key="rate-scope"
        )
        value = c2.text_input(
            "Its id or name",
            help="Workspace, channel or user id, or provider name. Empty for a global limit.",
            key="rate-scope-value",
        )
        c3, c4 = st.columns(2)
        rpm = c3.number_input("Requests a minute", value=None, min_value=1, step=1, key="rate-rpm")
        tpm = c4.number_input("Tokens a minute", value=None, min_value=1, step=1000, key="rate-tpm")
        submitted = st.form_submit_button("Add rate limit")
    if submitted:
        with ui.user_errors():
            if kind == "global" and value.strip():
                raise UserError("A global limit covers everything: clear 'Its id or name', or pick another scope.")
            if kind != "global" and not value.strip():
                raise UserError("Enter the id or name this limit applies to.")
            scope = "global" if kind == "global" else f"{kind}:{value.strip()}"
            saved = add_rate_limit(
                scope,
                requests_per_minute=_whole(rpm, "Requests"),
                tokens_per_minute=_whole(tpm, "Tokens"),
            )
            ui.flash(f"Added a rate limit for {saved.label}: at most {saved.rates}.")
            st.rerun()
    if limits:
        labels = {f"#{lim.id} {lim.label} ({lim.rates})": lim for lim in limits}
        chosen = ui.pick("Rate limit to remove", list(labels), key="rate-pick", new=False)
        if chosen and ui.confirm_delete(f"the rate limit for {labels[chosen].label}", key=f"rate-{labels[chosen].id}"):
            with ui.user_errors():
                remove_rate_limit(labels[chosen].id)
                ui.flash(f"Removed the rate limit for {labels[chosen].label}.")
                st.rerun()
