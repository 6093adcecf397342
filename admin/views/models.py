"""Models: the registry with search and filters, enable/disable and aliases; defaults and allowlists per scope;
fallback chains; prompt templates and presets."""

from __future__ import annotations

import streamlit as st

from admin import people_table, prompt_forms, scope_forms, ui
from core import formatting as fmt
from core.errors import UserError
from core.menus.listing import ModelFilter, filter_models
from core.models.registry import ModelInfo, all_models, set_model_overrides
from core.providers.store import list_providers


def _status(m: ModelInfo) -> str:
    return "usable" if m.usable else f"unusable: {m.unusable_reason}"


PRICE_FROM = {
    "local": "local server: free (type a price to count it as paid)",
    "free": "marked free by an admin",
    "override": "set by an admin",
    "provider": "the provider",
    "unknown": "unknown: type a price",
}
EDITOR = "models-editor"
MODEL_PX, ENABLED_PX, PRICE_PX = 220, 95, 120  # fixed, so the editable columns sit where a hand expects them
EDIT_ERRORS = "_models_edit_errors"


def _context(m: ModelInfo) -> str:
    return f"{m.context_window:,}" if m.context_window else fmt.MISSING


def registry_rows(models: list[ModelInfo]) -> list[dict[str, object]]:
    return [
        {
            "model": m.name,
            "enabled": m.enabled,
            "input $/Mtok": m.input_usd_per_mtok,
            "output $/Mtok": m.output_usd_per_mtok,
            "price from": PRICE_FROM.get(m.price_source, m.price_source),
            "alias": m.alias or "",
            "provider": m.provider,
            "context": _context(m),
            "tools": m.supports_tools,
            "vision": m.supports_vision,
            "local": m.is_local,
            "status": _status(m),
            "p50": fmt.latency(m.latency_p50_ms),
            "errors": fmt.percent(m.error_rate),
        }
        for m in models
    ]


def _price(value: object) -> float | None:
    if value is None or value != value:  # an emptied cell (None or NaN)
        return None
    return float(value)  # type: ignore[arg-type]


def save_inline_edits(models: list[ModelInfo]) -> None:
    """Store the cells an admin changed in the registry table, through the same core call as `switchboard models
    set`. An emptied price cell forgets the prices set here; a rejected value is reported and nothing of that row
    is stored."""
    edits = st.session_state.get(EDITOR, {}).get("edited_rows", {})
    errors: list[str] = []
    for index, changed in edits.items():
        m = models[int(index)]
        changes: dict[str, object] = {}
        if "enabled" in changed and bool(changed["enabled"]) != m.enabled:
            changes["enabled"] = bool(changed["enabled"])
        for column, field in (("input $/Mtok", "input_usd_per_mtok"), ("output $/Mtok", "output_usd_per_mtok")):
            if column not in changed:
                continue
            value = _price(changed[column])
            if value is None:
                changes["clear_prices"] = True
            else:
                changes[field] = value
        if not changes:
            continue
        try:
            info = set_model_overrides(m.name, **changes)  # type: ignore[arg-type]
        except UserError as exc:
            errors.append(f"{m.name}: {exc}")
            continue
        what = []
        if "enabled" in changes:
            what.append("enabled" if info.enabled else "disabled")
        if any(k in changes for k in ("input_usd_per_mtok", "output_usd_per_mtok", "clear_prices")):
            what.append(f"price {fmt.per_mtok(info.input_usd_per_mtok, info.output_usd_per_mtok, local=info.is_local)}")
        ui.flash(f"Saved {m.name}: {', '.join(what)}.")
    st.session_state[EDIT_ERRORS] = errors


def registry_table(models: list[ModelInfo]) -> None:
    """The registry, with Enabled and the two prices editable in place (saved as soon as a cell is left)."""
    for error in st.session_state.pop(EDIT_ERRORS, []):
        st.error(error)
    price_help = (
        "USD per million tokens. A price you type wins over the provider's and over the local server's 'free'; "
        "empty the cell to go back to them."
    )
    st.data_editor(
        registry_rows(models),
        key=EDITOR,
        hide_index=True,
        disabled=[c for c in registry_rows(models[:1])[0] if c not in ("enabled", "input $/Mtok", "output $/Mtok")]
        if models
        else True,
        column_config={
            "model": st.column_config.TextColumn(pinned=True, width=MODEL_PX),
            "enabled": st.column_config.CheckboxColumn(
                help="Disabled models are not offered to anyone.", width=ENABLED_PX
            ),
            "input $/Mtok": st.column_config.NumberColumn(format="$%g", help=price_help, width=PRICE_PX),
            "output $/Mtok": st.column_config.NumberColumn(format="$%g", help=price_help, width=PRICE_PX),
            "price from": st.column_config.TextColumn(width="medium"),
            "status": st.column_config.TextColumn(width="medium"),
        },
        on_change=save_inline_edits,
        args=(models,),
    )
    st.caption(
        "Enabled and the prices can be edited in the table; a change is saved when you leave the cell. "
        "Models on a local server count as free until you give them a price (a proxy to a paid API, say): a price "
        "you set is never replaced by the local guess."
    )


def filtered_models(models: list[ModelInfo]) -> list[ModelInfo]:
    providers = [p.name for p in list_providers()]
    c1, c2, c3 = st.columns([3, 2, 2])
    text = c1.text_input("Search", placeholder="name or alias, fuzzy", key="models-search")
    provider = c2.selectbox("Provider", ["all", *providers], key="models-provider")
    where = c3.selectbox("Where", ["anywhere", "local", "cloud"], key="models-where")
    # a row that wraps on a narrow window (five columns cut "Usable only" at 800 px)
    row = st.container(horizontal=True, wrap=True, vertical_alignment="bottom", gap="medium")
    tools = row.checkbox("Tools", key="models-tools", width="content")
    vision = row.checkbox("Vision", key="models-vision", width="content")
    usable = row.checkbox("Usable only", key="models-usable", width="content")
    max_price = row.number_input("Max input $/Mtok", min_value=0.0, value=None, key="models-max-price", width=200)
    min_context = row.number_input(
        "Min context", min_value=0, value=None, step=1000, key="models-min-context", width=200
    )
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
        empty = {"local": "free (local): type a price", "free": "free: type a price"}.get(m.price_source, "unknown")
        price_in = c4.number_input("Input $/Mtok", value=shown_in, format="%g", help=price_help, placeholder=empty)
        price_out = c5.number_input("Output $/Mtok", value=shown_out, format="%g", help=price_help, placeholder=empty)
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
        st.divider()
        people_table.people_section(models)
    with chains:
        scope_forms.chains_tab(models)
    with prompts:
        prompt_forms.templates_section()
        st.divider()
        prompt_forms.presets_section(models)


render()
