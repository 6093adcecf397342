"""People's own settings (`!prefs`, `!model NAME --mine`), read-only: what each person's new threads start on."""

from __future__ import annotations

import streamlit as st

from core import formatting as fmt
from core.config.people import Preference, everyone
from core.models.registry import ModelInfo


def preference_rows(prefs: list[Preference], models: list[ModelInfo]) -> list[dict[str, object]]:
    known = {m.name for m in models} | {m.alias for m in models if m.alias}
    rows = []
    for p in prefs:
        default = p.default_model or ""
        if default and default not in known:
            default += " (no longer in the registry)"
        rows.append(
            {
                "platform": p.person.platform,
                "workspace": p.person.workspace,
                "user": p.person.user_id,
                "default model": default,
                "start where I left off": p.follow_last,
                "last model": p.last_model or "",
                "updated": fmt.ago(p.updated_at),
            }
        )
    return rows


def people_section(models: list[ModelInfo]) -> None:
    st.subheader("People's own defaults")
    st.caption(
        "Set by each person with `!model NAME --mine` and `!prefs`. A thread's own model comes first, then its "
        "starter's own (their last model with 'start where I left off', else their default), then the channel, "
        "workspace and global defaults. Allowlists and local-only still win: a personal default a channel forbids is "
        "skipped there, and the person is told."
    )
    only_set = st.toggle("Only people who chose something", value=True, key="people-only-set")
    prefs = everyone(only_set=only_set)
    if not prefs:
        st.info("Nobody has set a default model of their own yet.")
        return
    st.dataframe(preference_rows(prefs, models), hide_index=True)
