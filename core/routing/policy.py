"""Which model answers a thread, and whether it may: resolution order, allowlists, local-only, paid models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from core.config.people import Preference
from core.config.scopes import Policy, ScopeKey, effective_policy
from core.models.registry import ModelInfo, resolve_model
from core.settings import get_settings
from core.snapshot import Snapshot


@dataclass(frozen=True)
class ModelChoice:
    """The model for a turn and where the choice came from, or a refusal that says what to do; with the
    scope's policy it was chosen under (the turn's budget gate needs it too: resolved once per turn)."""

    model: ModelInfo | None
    source: str  # thread | personal | last | channel … | workspace … | global | local (see source_label)
    policy: Policy
    refusal: str | None = None
    note: str | None = None  # the person's own model was skipped, and why (policy wins, never silently)


def source_label(source: str) -> str:
    """Where a model choice came from, as a user reads it."""
    fixed = {
        "thread": "this thread's model",
        "personal": "your default",
        "last": "the model you used last",
        "local": "the first local model, as nothing else is set",
    }
    return fixed.get(source, f"the {source} default")


def scope_key(platform: str, workspace: str, channel: str) -> ScopeKey:
    return ScopeKey(platform, workspace, channel)


def policy_for(snap: Snapshot, key: ScopeKey) -> Policy:
    return effective_policy(key, snap.scope_rows, get_settings().default_model)


def allowed_here(model: ModelInfo, policy: Policy) -> str | None:
    """Why `model` may not be used under `policy`, or None."""
    if policy.local_only and not model.is_local:
        return (
            f"{model.name} runs in the cloud, and this {_where(policy.local_only_from)} is local-only "
            "(an admin keeps data on local models here)"
        )
    if policy.allowed_models is not None and not ({model.name, model.alias} & policy.allowed_models):
        return f"{model.name} is not on the allowed list of this {_where(policy.allowed_from)}"
    return None


def _where(label: str | None) -> str:
    return (label or "channel").split(" ")[0]


def usable_here(snap: Snapshot, policy: Policy) -> list[ModelInfo]:
    return [m for m in snap.models if m.usable and allowed_here(m, policy) is None]


def suggestions(snap: Snapshot, policy: Policy, near: str | None = None, limit: int = 3) -> list[str]:
    """Models the user could pick instead: closest by name first, free/local ones preferred."""
    pool = usable_here(snap, policy)
    names: list[str] = []
    if near:
        res = resolve_model(near, pool)
        names += [res.model.name] if res.model else []
        names += [c.name for c in res.candidates] + list(res.suggestions)
    names += [m.name for m in sorted(pool, key=lambda m: (not m.is_local, not m.is_free, m.name))]
    return list(dict.fromkeys(names))[:limit]


def local_suggestions(snap: Snapshot, policy: Policy) -> list[str]:
    """Free local models this scope allows, best first: where a budget refusal points the user."""
    return [name for name in suggestions(snap, policy) if (m := snap.model(name)) is not None and m.is_local]


def vision_suggestions(snap: Snapshot, policy: Policy, most: int = 5) -> list[str]:
    """Models this scope allows that can see images, free local ones first: where an image turn points the user."""
    return _able(snap, policy, most, lambda m: m.supports_vision)


def tool_suggestions(snap: Snapshot, policy: Policy, most: int = 5) -> list[str]:
    """Models this scope allows that can call tools, free local ones first: where a thread without them looks."""
    return _able(snap, policy, most, lambda m: m.supports_tools)


def _able(snap: Snapshot, policy: Policy, most: int, can: Callable[[ModelInfo], bool]) -> list[str]:
    able = [m for m in snap.models if can(m) and _unusable(snap, m, m.name, policy) is None]
    able.sort(key=lambda m: (not m.is_local, m.is_paid, m.name))
    return [m.name for m in able[:most]]


def choose_model(
    snap: Snapshot, current_model: str | None, key: ScopeKey, mine: Preference | None = None
) -> ModelChoice:
    """The resolution order (README "In a thread"): the thread's model; for a new thread, its starter's own
    model (`mine`: their last one with "start where I left off", else their default); then the channel,
    workspace and global defaults; with nothing set, a free local model (an installed Ollama model first).
    Admin policy wins over a person's model: one it forbids is skipped, and the choice's note says so."""
    policy = policy_for(snap, key)
    if current_model or mine is None or not mine.start_models:
        return _choose(snap, current_model, policy)
    skipped = ""
    for name, source in mine.start_models:
        model = snap.model(name)
        why = _unusable(snap, model, name, policy)
        if why is None and model is not None:
            choice = ModelChoice(model, source, policy)
            break
        whose = "Your default" if source == "personal" else "The model you used last"
        skipped = skipped or f"{whose}, {name}, can't be used here: {why}"
    else:
        choice = _choose(snap, None, policy)
    if not skipped:
        return choice
    instead = f"; this thread starts on {choice.model.name} ({source_label(choice.source)})" if choice.model else ""
    return replace(choice, note=f"{skipped}{instead}.")


def _choose(snap: Snapshot, current_model: str | None, policy: Policy) -> ModelChoice:
    picks: list[tuple[str | None, str]] = [(current_model, "thread")]
    if policy.default_model:
        picks.append((policy.default_model, policy.default_from or "global"))
    for name, source in picks:
        if not name:
            continue
        model = snap.model(name)
        why = _unusable(snap, model, name, policy)
        if why is None and model is not None:
            return ModelChoice(model, source, policy)
        alternatives = suggestions(snap, policy, near=name)
        hint = f" For example: {', '.join(f'`{a}`' for a in alternatives)}." if alternatives else ""
        whose = "This thread's model" if source == "thread" else f"The {source} default"
        return ModelChoice(
            None, source, policy, f"{whose}, {name}, can't be used: {why}. Pick another with `!model NAME`.{hint}"
        )
    local = [m for m in snap.local_models() if allowed_here(m, policy) is None]
    if local:
        # the product's promise is "default to Ollama, free": an Ollama model wins over other local servers
        return ModelChoice(min(local, key=lambda m: (m.provider_kind != "ollama", m.name)), "local", policy)
    return ModelChoice(
        None,
        "none",
        policy,
        "No model is set up here yet: there is no default and no local model. "
        "An admin can add one, e.g. `switchboard providers add local --kind ollama` and "
        "`switchboard ollama pull llama3.2`, or pick a model with `!model NAME` (see `!models`).",
    )


def _unusable(snap: Snapshot, model: ModelInfo | None, name: str, policy: Policy) -> str | None:
    if model is None:
        provider, _, model_id = name.partition("/")
        pview = snap.providers.get(provider)
        if pview is not None and pview.kind == "ollama" and model_id:
            return (
                f"it was removed from the Ollama server '{provider}' "
                f"(an admin can reinstall it with `!install {model_id}`)"
            )
        return "it is no longer in the model registry (it was removed or renamed)"
    if not model.usable:
        return model.unusable_reason or "it is unavailable"
    return allowed_here(model, policy)


def may_set_default(model: ModelInfo, user_is_admin: bool) -> str | None:
    """A paid (or unknown-price) model can be a channel default only when an admin sets it."""
    if model.is_paid and not user_is_admin:
        price = "has an unknown price" if not model.price_known else "is a paid model"
        return (
            f"{model.name} {price}, so only an admin can make it this channel's default. "
            f"You can still use it in a thread with `!model {model.alias or model.name}`."
        )
    return None
