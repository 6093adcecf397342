"""Providers: add, edit, remove, test the connection. Keys and header values are write-only here: the page never
reads one back, and a reveal shows only the last 4 characters (kept masked in the database)."""

from __future__ import annotations

import streamlit as st

from admin import sync, ui
from core import formatting as fmt
from core.models.sync import refresh_provider
from core.providers.kinds import get_kind, kind_names
from core.providers.store import (
    ProviderView,
    add_provider,
    list_providers,
    remove_provider,
    test_provider,
    update_provider,
)

PICKED = "provider-pick"


def providers_table(providers: list[ProviderView], reveal: bool) -> None:
    st.dataframe(
        [
            {
                "name": p.name,
                "kind": p.label,
                "where": "local" if p.is_local else "cloud",
                "base URL": p.base_url or "",
                "organization": p.organization or "",
                "key": ui.masked_key(p.has_key, p.key_hint, reveal),
                "headers": ", ".join(
                    f"{n}: {ui.masked_key(True, hint, reveal)}" for n, hint in p.extra_headers.items()
                ),
                "enabled": p.enabled,
                "health": p.health,
                "latency": fmt.latency(p.last_check_latency_ms),
                "checked": fmt.ago(p.last_check_at),
                "problem": p.last_check_error or "",
            }
            for p in providers
        ],
        hide_index=True,
        column_config={
            "name": st.column_config.TextColumn(pinned=True),
            "kind": st.column_config.TextColumn(width="medium"),
            "problem": st.column_config.TextColumn(width="large"),
        },
    )


ADD_KEYS = ("add-name", "add-base-url", "add-org", "add-key")
ADD_RESET = "_provider_add_reset"
ADD_NOTICE = "_provider_add_notice"


def add_form() -> None:
    """The add form keeps what was typed when adding fails (only a successful add empties it). A provider whose
    models cannot be listed is still added (it may come up later), under a warning rather than a success."""
    kinds = kind_names()
    if st.session_state.pop(ADD_RESET, False):  # set, not deleted: the browser then shows the empty form
        for key in ADD_KEYS:
            st.session_state[key] = ""
        st.session_state.pop("add-kind", None)
    if st.session_state.get("add-kind") not in kinds:
        st.session_state["add-kind"] = "openai" if "openai" in kinds else kinds[0]
    notice = st.session_state.pop(ADD_NOTICE, None)
    if notice is not None:
        ok, text = notice
        if ok:
            st.success(text, icon=":material/check_circle:")
        else:
            st.warning(text, icon=":material/warning:")
    with st.form("add-provider", clear_on_submit=False):
        st.markdown("**Add a provider**")
        c1, c2 = st.columns(2)
        name = c1.text_input(
            "Name", placeholder="e.g. openai, gpu-box", help="Used in model names: NAME/model-id.", key="add-name"
        )
        kind = c2.selectbox("Kind", kinds, key="add-kind")
        base_url = c1.text_input("Base URL", placeholder="leave empty for the kind's default", key="add-base-url")
        organization = c2.text_input("Organization", placeholder="OpenAI only, optional", key="add-org")
        api_key = st.text_input("API key", type="password", help="Stored encrypted; never shown again.", key="add-key")
        submitted = st.form_submit_button("Add provider", type="primary")
    if not submitted:
        return
    with ui.user_errors():
        view = add_provider(
            name.strip(),
            kind,
            base_url=base_url.strip() or None,
            organization=organization.strip() or None,
            api_key=api_key.strip() or None,
        )
        with st.spinner(f"Listing {view.name}'s models…"):
            found = sync.run(refresh_provider(view.name))
        if found.ok:
            text = f"Added provider '{view.name}' ({view.label}); {found.models} models listed."
        else:
            text = (
                f"Added provider '{view.name}' ({view.label}), but the connection test failed: "
                f"{found.message} Its models appear once it answers; fix it below (Edit) or remove it."
            )
        st.session_state[ADD_NOTICE] = (found.ok, text)
        st.session_state[ADD_RESET] = True
        st.session_state[PICKED] = view.name  # the provider picker below is not drawn yet in this run
        st.rerun()


def edit_form(p: ProviderView) -> None:
    kind = get_kind(p.kind)
    with st.form(f"edit-{p.name}", clear_on_submit=True):
        st.markdown(f"**Edit '{p.name}'** ({p.label})")
        c1, c2 = st.columns(2)
        base_url = c1.text_input("Base URL", value=p.base_url or "")
        organization = c2.text_input(
            "Organization", value=p.organization or "", disabled=not (kind and kind.supports_organization)
        )
        api_key = st.text_input(
            "New API key", type="password", help="Leave empty to keep the current key.", placeholder="unchanged"
        )
        enabled = st.checkbox("Enabled", value=p.enabled, help="A disabled provider's models are not offered.")
        submitted = st.form_submit_button("Save changes")
    if not submitted:
        return
    changes: dict[str, object] = {}
    if base_url.strip() != (p.base_url or ""):
        changes["base_url"] = base_url.strip() or None
    if organization.strip() != (p.organization or ""):
        changes["organization"] = organization.strip() or None
    if api_key.strip():
        changes["api_key"] = api_key.strip()
    if enabled != p.enabled:
        changes["enabled"] = enabled
    if not changes:
        st.info("Nothing changed.")
        return
    with ui.user_errors():
        update_provider(p.name, **changes)  # type: ignore[arg-type]
        ui.flash(f"Saved '{p.name}'.")
        st.rerun()


TESTED = "_provider_tests"


def connection_test(p: ProviderView) -> None:
    """Test buttons; a result is kept for this session so the table above (health, latency) can refresh."""
    buttons = st.container(horizontal=True)  # buttons keep their whole label on a narrow window
    c1 = c2 = buttons
    if c1.button("Test connection", key=f"test-{p.name}"):
        with ui.user_errors(), st.spinner(f"Asking {p.name} for its models…"):
            result = sync.run(test_provider(p.name))
            st.session_state.setdefault(TESTED, {})[p.name] = (result.ok, result.message, result.latency_ms)
            st.rerun()
    if c2.button("Refresh models", key=f"refresh-{p.name}"):
        with ui.user_errors(), st.spinner(f"Refreshing {p.name}'s models…"):
            outcome = sync.run(refresh_provider(p.name))
            note = f"{outcome.models} models ({outcome.added} new, {outcome.unavailable} gone) from {outcome.source}"
            (st.success if outcome.ok else st.warning)(f"{note}. {outcome.message}")
    tested = st.session_state.get(TESTED, {}).get(p.name)
    if tested is not None:
        ok, message, latency = tested
        (st.success if ok else st.error)(f"{p.name}: {message}")
        st.metric("Connection latency", fmt.latency(latency))


def remove_section(p: ProviderView) -> None:
    with st.expander(f"Remove '{p.name}'"):
        st.write(
            f"This deletes '{p.name}', its registry entries and its stored key. Conversations keep the names of "
            "the models that answered them."
        )
        sure = st.checkbox(f"Yes, remove '{p.name}'", key=f"confirm-remove-{p.name}")
        if st.button("Remove provider", key=f"remove-{p.name}", type="primary", disabled=not sure):
            with ui.user_errors():
                remove_provider(p.name)
                ui.flash(f"Removed provider '{p.name}'.")
                st.rerun()


def render() -> None:
    st.title("Providers")
    providers = list_providers()
    if providers:
        reveal = st.toggle("Reveal key endings", help="Shows only the last 4 characters of each key.")
        providers_table(providers, reveal)
    else:
        st.info("No providers yet. Add one below: a local Ollama, or a cloud provider with its API key.")
    add_form()
    if not providers:
        return
    st.divider()
    chosen = st.selectbox("Provider", [p.name for p in providers], key=PICKED)
    current = next(p for p in providers if p.name == chosen)
    st.caption(current.privacy_note)
    connection_test(current)
    edit_form(current)
    remove_section(current)


render()
