"""Models page editors that depend on a scope (global, a workspace, a channel): default model, allowlist,
local-only, the paid-reply confirmation threshold and instructions; and fallback chains."""

from __future__ import annotations

import streamlit as st

from admin import auth, ui
from core import formatting as fmt
from core.config.chains import CHAIN_STRATEGIES, ChainView, delete_chain, list_chains, save_chain
from core.config.scopes import MAX_INSTRUCTIONS_CHARS, ScopeKey, load_all, update_scope
from core.errors import UserError
from core.models.registry import ModelInfo, require_model
from core.storage.tables import ScopeSetting

PLATFORMS = ["slack", "discord", "console"]
NO_MODEL = "(none)"
# a reasoning model's thinking: shown apart from the answer, or not (it is stored and counted either way)
REASONING = {"inherit": None, "show": True, "hide": False}
# may a thread set its own instructions (`!system TEXT`)? inherit: from the wider scope, else allowed
THREAD_OWN = {"inherit": None, "allow": True, "forbid": False}


def scope_label(key: ScopeKey) -> str:
    if not key.workspace:
        return "global"
    where = f"{key.platform} workspace {key.workspace}"
    return f"{where} / channel {key.channel}" if key.channel else where


def scope_inputs(prefix: str, initial: ScopeKey | None = None) -> tuple[str, str, str]:
    """Platform, workspace and channel inputs (inside a form); `scope_key` checks them on submit."""
    initial = initial or ScopeKey()
    c1, c2, c3 = st.columns(3)
    platform = c1.selectbox(
        "Platform",
        PLATFORMS,
        index=PLATFORMS.index(initial.platform) if initial.platform in PLATFORMS else 0,
        key=f"{prefix}-platform",
    )
    workspace = c2.text_input(
        "Workspace id", value=initial.workspace, key=f"{prefix}-workspace", help="Slack team id or Discord server id"
    )
    channel = c3.text_input("Channel id", value=initial.channel, key=f"{prefix}-channel", help="Blank: whole workspace")
    return platform, workspace, channel


def scope_key(platform: str, workspace: str, channel: str) -> ScopeKey:
    """A scope from form input, or UserError when it is incomplete."""
    workspace, channel = workspace.strip(), channel.strip()
    if channel and not workspace:
        raise UserError("A channel scope needs its workspace id too.")
    if not workspace:
        return ScopeKey()
    return ScopeKey(platform, workspace, channel)


def model_names(names: list[str]) -> list[str]:
    """Registry names for what was picked, or UserError naming the one that does not exist."""
    return [require_model(n).name for n in names]


# ---------------------------------------------------------------- defaults and allowlists


def scopes_table(rows: dict[ScopeKey, ScopeSetting]) -> None:
    if not rows:
        st.caption("No defaults or allowlists set yet: every usable model is allowed everywhere.")
        return
    st.dataframe(
        [
            {
                "scope": scope_label(k),
                "default model": r.default_model or "",
                "allowed models": ", ".join(r.allowed_models) if r.allowed_models is not None else "any",
                "local only": r.local_only,
                "confirm replies over": fmt.money(r.confirm_over_usd, unknown="inherited"),
                "reasoning": next(k for k, v in REASONING.items() if v == r.show_reasoning),
                "instructions": (r.instructions or "")[:60],
                "thread's own": next(k for k, v in THREAD_OWN.items() if v == r.thread_instructions),
                "updated": fmt.ago(r.updated_at),
                "by": r.updated_by or "",
            }
            for k, r in sorted(rows.items(), key=lambda kv: (kv[0].workspace, kv[0].channel, kv[0].platform))
        ],
        hide_index=True,
    )


def save_policy(
    key: ScopeKey,
    default: str | None,
    restrict: bool,
    allowed: list[str],
    local_only: bool,
    confirm_over: float | None,
    by: str,
    show_reasoning: bool | None = None,
    instructions: str | None = None,
    thread_instructions: bool | None = None,
) -> None:
    """Check the whole policy, then write it in one transaction (nothing is half-saved)."""
    default_name = model_names([default])[0] if default else None
    allowed_names = model_names(allowed) if restrict else None
    if restrict and not allowed_names:
        raise UserError("An allowlist needs at least one model; untick 'Only allow these models' to allow any.")
    if default_name and allowed_names is not None and default_name not in allowed_names:
        raise UserError(f"The default model {default_name} is not in the allowlist; add it or pick another default.")
    if default_name and local_only and not require_model(default_name).is_local:
        raise UserError(f"{default_name} is not a local model, so it cannot be the default of a local-only scope.")
    update_scope(
        key,
        default_model=default_name,
        allowed_models=allowed_names,
        local_only=local_only,
        confirm_over_usd=confirm_over,
        show_reasoning=show_reasoning,
        instructions=instructions,
        thread_instructions=thread_instructions,
        by=by,
    )


def defaults_tab(models: list[ModelInfo]) -> None:
    rows = load_all()
    scopes_table(rows)
    labels = {scope_label(k): k for k in rows}
    labels.setdefault("global", ScopeKey())
    chosen = ui.pick("Scope to edit", sorted(labels), key="scope-pick")
    key = labels[chosen] if chosen else None
    row = rows.get(key) if key is not None else None
    names = [m.name for m in models]
    entered = ("", "", "")
    with st.form("scope-policy"):
        if key is None:
            st.markdown("**New scope**: a workspace, or a channel in it")
            entered = scope_inputs("scope-new")
        else:
            st.markdown(f"**{scope_label(key)}**")
        current = row.default_model if row and row.default_model in names else NO_MODEL
        default = st.selectbox("Default model", [NO_MODEL, *names], index=[NO_MODEL, *names].index(current))
        restrict = st.checkbox("Only allow these models", value=bool(row and row.allowed_models is not None))
        allowed = st.multiselect(
            "Allowed models", names, default=[n for n in (row.allowed_models or []) if n in names] if row else []
        )
        local_only = st.checkbox(
            "Local models only", value=bool(row and row.local_only), help="Prompts never leave your machines."
        )
        confirm = st.number_input(
            "Ask before a reply estimated above (USD)",
            min_value=0.0,
            value=row.confirm_over_usd if row else None,
            help="Empty: inherit from the wider scope or SWITCHBOARD_CONFIRM_OVER_USD.",
        )
        shown = row.show_reasoning if row else None
        reasoning = st.selectbox(
            "Show reasoning",
            list(REASONING),
            index=list(REASONING.values()).index(shown),
            help="A reasoning model's thinking, shown apart from its answer. Inherit: from the wider scope or "
            "SWITCHBOARD_SHOW_REASONING. Hidden thinking is still stored (the conversation view shows it) and counted.",
        )
        instructions = st.text_area(
            "Instructions",
            value=(row.instructions or "") if row else "",
            max_chars=MAX_INSTRUCTIONS_CHARS,
            help="Sent to the model with every message of every thread here. Layered: global, workspace, then "
            "channel, then a preset's or the thread's own, then the model's template. `!system` in a thread shows "
            "them. May use {date}, {platform}, {user}, {model} and {channel}.",
        )
        own = row.thread_instructions if row else None
        thread_own = st.selectbox(
            "Threads may set their own instructions",
            list(THREAD_OWN),
            index=list(THREAD_OWN.values()).index(own),
            help="`!system TEXT` in a thread. Inherit: from the wider scope; allowed when no scope says.",
        )
        submitted = st.form_submit_button("Save scope")
    if not submitted:
        return
    with ui.user_errors():
        target = key if key is not None else scope_key(*entered)
        if key is None and target == ScopeKey():
            raise UserError("Enter a workspace id for a new scope (pick 'global' above to edit the global scope).")
        save_policy(
            target,
            None if default == NO_MODEL else default,
            restrict,
            allowed,
            local_only,
            confirm,
            by=auth.who(),
            show_reasoning=REASONING[reasoning],
            instructions=instructions,
            thread_instructions=THREAD_OWN[thread_own],
        )
        ui.flash(f"Saved the policy of {scope_label(target)}.")
        st.rerun()


# ---------------------------------------------------------------- fallback chains

RULES = {"default (SWITCHBOARD_CONTENT_POLICY_RULE)": None, "fall back": "fallback", "stop": "stop"}
ANY_MODEL = "(any model in the scope)"


def chains_table(chains: list[ChainView]) -> None:
    if not chains:
        st.caption("No fallback chains yet.")
        return
    st.dataframe(
        [
            {
                "chain": c.name,
                "for model": c.for_model or "any",
                "scope": scope_label(c.scope),
                "then try": " → ".join(c.models),
                "paid fallbacks": c.allow_paid,
                "content policy": c.content_policy_rule or "default",
                "strategy": CHAIN_STRATEGIES.get(c.strategy, c.strategy),
                "try last above": _thresholds(c),
                "enabled": c.enabled,
            }
            for c in chains
        ],
        hide_index=True,
    )


def _thresholds(c: ChainView) -> str:
    over = [f"{c.max_error_rate:.0%} errors"] if c.max_error_rate is not None else []
    over += [f"p95 {fmt.latency(c.max_p95_ms)}"] if c.max_p95_ms is not None else []
    return ", ".join(over) or "-"


def chains_tab(models: list[ModelInfo]) -> None:
    chains = list_chains()
    chains_table(chains)
    chosen = ui.pick("Chain to edit", [c.name for c in chains], key="chain-pick")
    chain = next((c for c in chains if c.name == chosen), None)
    names = [m.name for m in models]
    with st.form("chain"):
        name = st.text_input("Name", value=chain.name if chain else "", disabled=chain is not None)
        for_options = [ANY_MODEL, *names]
        for_model = st.selectbox(
            "When this model fails",
            for_options,
            index=for_options.index(chain.for_model) if chain and chain.for_model in for_options else 0,
        )
        scope = scope_inputs("chain", chain.scope if chain else None)
        ordered = st.multiselect(
            "Try these models, in this order",
            names,
            default=[m for m in chain.models if m in names] if chain else [],
            help="The order you pick them in is the order they are tried.",
        )
        c1, c2, c3 = st.columns(3)
        allow_paid = c1.checkbox("Allow paid fallbacks", value=chain.allow_paid if chain else False)
        rule_labels = list(RULES)
        current_rule = next((k for k, v in RULES.items() if chain and v == chain.content_policy_rule), rule_labels[0])
        rule = c2.selectbox("On a content-policy refusal", rule_labels, index=rule_labels.index(current_rule))
        enabled = c3.checkbox("Enabled", value=chain.enabled if chain else True)
        s1, s2, s3 = st.columns(3)
        strategies = list(CHAIN_STRATEGIES)
        strategy = s1.selectbox(
            "After the thread's own model, try",
            strategies,
            index=strategies.index(chain.strategy) if chain and chain.strategy in strategies else 0,
            format_func=lambda k: CHAIN_STRATEGIES[k],
            help="Fastest and cheapest use the figures measured from recent replies (the Performance page).",
        )
        error_pct = s2.number_input(
            "Try last above this error rate (%)",
            min_value=0.0,
            max_value=100.0,
            value=chain.max_error_rate * 100 if chain and chain.max_error_rate is not None else None,
            help="Empty: no limit. Counted over a model's recent replies, once it has a few.",
        )
        p95_ms = s3.number_input(
            "Try last above this p95 latency (ms)",
            min_value=1.0,
            value=chain.max_p95_ms if chain and chain.max_p95_ms is not None else None,
            help="Empty: no limit.",
        )
        submitted = st.form_submit_button("Save chain")
    if submitted:
        with ui.user_errors():
            save_chain(
                chain.name if chain else name.strip(),
                model_names(ordered),
                scope=scope_key(*scope),
                for_model=None if for_model == ANY_MODEL else require_model(for_model).name,
                allow_paid=allow_paid,
                content_policy_rule=RULES[rule],
                enabled=enabled,
                strategy=strategy,
                max_error_rate=None if error_pct is None else error_pct / 100,
                max_p95_ms=p95_ms,
            )
            ui.flash(f"Saved fallback chain '{chain.name if chain else name.strip()}'.")
            st.rerun()
    if chain and ui.confirm_delete(f"chain '{chain.name}'", key=f"chain-{chain.name}"):
        with ui.user_errors():
            delete_chain(chain.name)
            ui.flash(f"Deleted fallback chain '{chain.name}'.")
            st.rerun()
