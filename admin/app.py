"""The Streamlit admin app (run with `switchboard admin`)."""

from __future__ import annotations

import streamlit as st

from core.providers.store import list_providers
from core.registry import all_models

st.set_page_config(page_title="Switchboard admin", layout="wide")
st.title("Switchboard")

providers = list_providers()
st.subheader("Providers")
if not providers:
    st.info("No providers yet. Add one with `switchboard providers add NAME --kind KIND`.")
else:
    st.dataframe(
        [
            {
                "name": p.name,
                "kind": p.label,
                "where": "local" if p.is_local else "cloud",
                "key": p.key_hint,
                "health": p.health,
                "error": p.last_check_error or "",
            }
            for p in providers
        ],
        hide_index=True,
    )
st.subheader("Models")
st.dataframe(
    [
        {
            "model": m.name,
            "context": m.context_window,
            "in $/Mtok": m.input_usd_per_mtok,
            "out $/Mtok": m.output_usd_per_mtok,
            "local": m.is_local,
            "available": m.usable,
        }
        for m in all_models()
    ],
    hide_index=True,
)
