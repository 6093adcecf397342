"""Models: the registry with search and filters, enable/disable and aliases; defaults and allowlists per scope;
fallback chains; prompt templates and presets."""

from __future__ import annotations

import streamlit as st

from admin import prompt_forms, scope_forms, ui
from core import formatting as fmt
from core.menus.listing import ModelFilter, filter_models
from core.models.registry import ModelInfo, all_models, set_model_overrides
from core.providers.store import list_providers


def _status(m: ModelInfo) -> str:
    return "usable" if m.usable else f"unusable: {m.unusable_reason}"


def registry_table(models: list[ModelInfo]) -> None:
    st.dataframe(
        [
            {
                "model": m.name,
                "alias": m.alias or "",
                "provider": m.provider,
                "context": m.context_window,
                "input": fmt.unit_price(m.input_usd_per_mtok),
                "output": fmt.unit_price(m.output_usd_per_mtok),
                "price from": m.price_source,
                "tools": m.supports_tools,
                "vision": m.supports_vision,
                "local": m.is_local,
                "enabled": m.enabled,
                "status": _status(m),
                "p50": fmt.latency(m.latency_p50_ms),
                "errors": fmt.percent(m.error_rate),
            }
            for m in models
        ],
        hide_index=True,
    )


def filtered_models(models: list[ModelInfo]) -> list[ModelInfo]:
    providers = [p.name for p in list_providers()]
    c1, c2, c3 = st.columns([3, 2, 2])
    text = c1.text_input("Search", placeholder="name or alias, fuzzy", key="models-search")
    provider = c2.selectbox("Provider", ["all", *providers], key="models-provider")
    where = c3.selectbox("Where", ["anywhere", "local", "cloud"], key="models-where")
    c4, c5, c6, c7, c8 = st.columns(5)
    tools = c4.checkbox("Tools", key="models-tools")
    vision = c5.checkbox("Vision", key="models-vision")
    usable = c6.checkbox("Usable only", key="models-usable")
    max_price = c7.number_input("Max input $/Mtok", min_value=0.0, value=None, key="models-max-price")
    min_context = c8.number_input("Min context", min_value=0, value=None, step=1000, key="models-min-context")
    chosen = ModelFilter(
        text=text.split(),
        provider=None if provider == "all" else provider,
        local={"anywhere": None, "local": True, "cloud": False}[where],
        tools=tools,
        vision=vision,
        max_price=max_price,
        min_context=int(min_context) if min_context else None,
        usable_only=usable,
    )
    return filter_models(models, chosen)


def overrides_form(models: list[ModelInfo]) -> None:
    """Enable or disable a model, set its alias, fill in what the provider did not say."""
    if not models:
        return
    name = st.selectbox("Model to edit", [m.name for m in models], key="models-edit-pick")
    m = next(x for x in models if x.name == name)
    with st.form(f"override-{m.name}"):
        st.markdown(f"**{m.name}**")
        c1, c2, c3 = st.columns(3)
        enabled = c1.checkbox("Enabled", value=m.enabled, help="Disabled models are not offered to anyone.")
        free = c2.checkbox(
            "Free", value=m.price_source == "free", help="No cost is counted, whatever the prices below say."
        )
        alias = c3.text_input("Alias", value=m.alias or "", help="A short name users can type, e.g. fast.")
        c4, c5, c6 = st.columns(3)
        shown_in, shown_out = (None, None) if m.price_source in ("local", "free") else _prices(m)
        price_help = "USD per million tokens. Set by you, it wins over the provider's price and the local guess."
        price_in = c4.number_input(
            "Input $/Mtok",
            min_value=0.0,
            value=shown_in,
            format="%g",
            help=price_help,
        )
        price_out = c5.number_input(
            "Output $/Mtok",
            min_value=0.0,
            value=shown_out,
            format="%g",
            help=price_help,
        )
        context = c6.number_input("Context window", min_value=1, value=m.context_window, step=1024)
        clear = st.checkbox(
            "Forget the prices set here",
            help="Go back to the provider's price (or, on a local server, free).",
            key=f"models-clear-{m.name}",
        )
        if m.on_local_server:
            st.caption(_local_price_note(m))
        submitted = st.form_submit_button("Save model")
    if not submitted:
        return
    changes: dict[str, object] = {}
    if enabled != m.enabled:
        changes["enabled"] = enabled
    if free != (m.price_source == "free"):
        changes["free"] = free
    if alias.strip() != (m.alias or ""):
        changes["alias"] = alias.strip()
    if price_in is not None and price_in != shown_in:
        changes["input_usd_per_mtok"] = float(price_in)
    if price_out is not None and price_out != shown_out:
        changes["output_usd_per_mtok"] = float(price_out)
    if clear:
        changes["clear_prices"] = True
        changes.pop("input_usd_per_mtok", None)
        changes.pop("output_usd_per_mtok", None)
    if context is not None and context != m.context_window:
        changes["context_window"] = int(context)
    if not changes:
        st.info("Nothing changed.")
        return
    with ui.user_errors():
        set_model_overrides(m.name, **changes)  # type: ignore[arg-type]
        ui.flash(f"Saved {m.name}.")
        st.rerun()


def _prices(m: ModelInfo) -> tuple[float | None, float | None]:
    return m.input_usd_per_mtok, m.output_usd_per_mtok


def _local_price_note(m: ModelInfo) -> str:
    if m.priced_local:
        return (
            "This model runs on a local server but has a price you set, so it counts as paid: budgets count its "
            "cost and local-only channels do not offer it. Tick 'Forget the prices set here' to make it free "
            "(local) again."
        )
    return (
        "This model runs on a local server, so it counts as free (local). If the server is a proxy to a paid "
        "API, set its prices: they win, and the model then counts as paid (budgets, local-only channels)."
    )


def registry_tab(models: list[ModelInfo]) -> None:
    if not models:
        st.info("The registry is empty. Add a provider (Providers page) and its models appear here.")
        return
    found = filtered_models(models)
    st.caption(f"{len(found)} of {len(models)} models")
    registry_table(found)
    overrides_form(found)


def render() -> None:
    st.title("Models")
    models = all_models()
    registry, defaults, chains, prompts = st.tabs(
        ["Registry", "Defaults & allowlists", "Fallback chains", "Templates & presets"]
    )
    with registry:
        registry_tab(models)
    with defaults:
        scope_forms.defaults_tab(models)
    with chains:
        scope_forms.chains_tab(models)
    with prompts:
        prompt_forms.templates_section()
        st.divider()
        prompt_forms.presets_section(models)


render()
