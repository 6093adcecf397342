"""Version tracking for the cloud models configuration relies on: a model named by a scope default, a chain, a
preset or a person's default that is gone from its provider's list, or that nears a retirement date litellm
knows, raises one alert (the alert's dedupe key makes "once" hold across processes and runs).

The scheduler runs `check_model_versions` after each registry refresh (core.jobs). A thread on a gone model is
told when it next writes, with models to switch to (core.routing.policy via ModelInfo.unusable_reason). Local
models are the Ollama manager's business (installs, updates, removals), so only cloud models are checked here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from core.alerts import raise_alert
from core.config import chains, people, prompts, scopes
from core.models import registry
from core.models.matching import close_matches
from core.models.registry import ModelInfo
from core.providers import llm
from core.providers.kinds import get_kind
from core.providers.store import ProviderView, list_providers
from core.settings import get_settings
from core.storage.tables import utcnow

log = logging.getLogger(__name__)
WARN_DAYS = 30  # how long before a retirement date the admins hear of it


@dataclass(frozen=True)
class VersionProblem:
    """One model in use that needs an admin: `reason` is "gone" or "retiring"."""

    model: str
    provider: str
    reason: str
    text: str
    dedupe_key: str


def models_in_use() -> dict[str, list[str]]:
    """Every model name the configuration names, with where (for the alert's text)."""
    uses: dict[str, list[str]] = {}

    def use(name: str | None, where: str) -> None:
        if name and where not in uses.setdefault(name, []):
            uses[name].append(where)

    use(get_settings().default_model, "the global default (SWITCHBOARD_DEFAULT_MODEL)")
    for key, row in scopes.load_all().items():
        use(row.default_model, "the global default" if not key.workspace else f"the default of {key.label}")
    for chain in chains.list_chains():
        for name in (chain.for_model, *chain.models):
            use(name, f"chain '{chain.name}'")
    for preset in prompts.list_presets():
        use(preset.model, f"preset '{preset.name}'")
    counts: dict[str, int] = {}
    for pref in people.everyone(only_set=True):
        for name in {pref.default_model, pref.last_model if pref.follow_last else None} - {None}:
            counts[str(name)] = counts.get(str(name), 0) + 1
    for name, n in counts.items():
        use(name, f"the personal default of {n} {'person' if n == 1 else 'people'}")
    return uses


def _retires(m: ModelInfo) -> date | None:
    kind = get_kind(m.provider_kind)
    meta = llm.model_metadata(kind.litellm_provider if kind else m.provider_kind, m.model_id)
    if meta is None or not meta.deprecation_date:
        return None
    try:
        return date.fromisoformat(meta.deprecation_date[:10])
    except ValueError:
        return None


def _gone(m: ModelInfo, provider: ProviderView | None) -> bool:
    """The provider's latest listing answered and left the model out (not an outage, not an admin's switch)."""
    if provider is None or m.available or not (m.enabled and m.provider_enabled) or m.source == "manual":
        return False
    if provider.last_check_ok is False or provider.last_refresh_source not in ("api", "static"):
        return False
    return m.last_seen is None or provider.last_refresh_at is None or m.last_seen < provider.last_refresh_at


def _successor(m: ModelInfo, models: list[ModelInfo], horizon: date) -> str | None:
    """A replacement among the provider's usable models that are not retiring soon themselves: the family's
    undated name first (`gpt-5` for `gpt-5-2025-08-07`, `gpt-4o` for `gpt-4o-mini`), else the longest shared
    stem (`claude-3-5-` ...), else the closest name."""
    pool = [
        x
        for x in models
        if x.provider == m.provider and x.usable and x.name != m.name and ((d := _retires(x)) is None or d > horizon)
    ]
    gone = m.model_id.lower()
    family = [x for x in pool if gone.startswith(x.model_id.lower())]
    if family:
        return max(family, key=lambda x: len(x.model_id)).name
    stems = [(len(_stem(gone, x.model_id.lower())), x) for x in pool]
    best = max((n for n, _ in stems), default=0)
    if best >= 3:
        return min((x for n, x in stems if n == best), key=lambda x: len(x.model_id)).name
    found = close_matches(m.model_id, pool, lambda x: (x.model_id, x.alias), limit=1)
    return found[0].name if found else None


def _stem(a: str, b: str) -> str:
    """The common start of two ids, cut back to its last separator (`gpt-4o-` of `gpt-4o-mini` and `gpt-4o-2024`)."""
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    cut = max(a.rfind(sep, 0, n) for sep in "-.:/_")
    return a[: cut + 1] if cut >= 0 else ""


def find_problems(today: date | None = None, warn_days: int = WARN_DAYS) -> list[VersionProblem]:
    """The cloud models in use that are gone from their provider's list or retire within `warn_days`."""
    today = today or utcnow().date()
    horizon = today + timedelta(days=warn_days)
    models = registry.all_models()
    by_name = {m.name: m for m in models} | {m.alias: m for m in models if m.alias}
    providers = {p.name: p for p in list_providers()}
    problems: list[VersionProblem] = []
    for name, where in models_in_use().items():
        m = by_name.get(name)
        if m is None or m.on_local_server or m.provider_kind == "virtual":
            continue
        used_by = ", ".join(where)
        if _gone(m, providers.get(m.provider)):
            instead = _successor(m, models, horizon)
            hint = f" A close replacement: {instead}." if instead else ""
            seen = m.last_seen.strftime("%Y-%m-%d") if m.last_seen else "never"
            problems.append(
                VersionProblem(
                    m.name,
                    m.provider,
                    "gone",
                    f"{m.name} is gone from the list of provider '{m.provider}' (last seen {seen}) and is still "
                    f"used by {used_by}. Threads on it are asked to switch.{hint}",
                    f"model-gone:{m.name}:{seen}",
                )
            )
            continue
        retires = _retires(m)
        if retires is not None and retires <= horizon:
            instead = _successor(m, models, horizon)
            hint = f" A close replacement: {instead}." if instead else ""
            when = (
                f"was due to be retired on {retires:%Y-%m-%d}"
                if retires < today
                else f"is due to be retired on {retires:%Y-%m-%d} (in {(retires - today).days} days)"
            )
            problems.append(
                VersionProblem(
                    m.name,
                    m.provider,
                    "retiring",
                    f"{m.name} {when}, by litellm's model list, and is still used by {used_by}.{hint}",
                    f"model-retiring:{m.name}:{retires:%Y-%m-%d}",
                )
            )
    return problems


def check_model_versions(today: date | None = None, warn_days: int = WARN_DAYS) -> list[VersionProblem]:
    """Raise one alert per model and reason (already raised ones stay as they are). Returns the new ones."""
    raised = []
    for problem in find_problems(today, warn_days):
        if raise_alert("model", problem.dedupe_key, problem.text, provider=problem.provider):
            log.warning("models: %s", problem.text)
            raised.append(problem)
    return raised
