"""A per-process snapshot of configuration (registry, providers, scopes, chains, templates, presets, budgets),
reloaded when the config version in the database changes. Admin changes reach running bots within a second, and
a message does not pay for a dozen queries.

The snapshot reads the stores it holds (core.models.registry, core.providers.store, core.config.chains and
prompts, core.budgets.store) and is read by what sits above it (routing, commands, chat); none of those stores
imports it back (import-linter contracts in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field, replace

from core.budgets.rates import RateLimitView, list_rate_limits
from core.budgets.store import BudgetView, list_budgets
from core.config import chains as chain_store
from core.config import prompts, scopes
from core.config.version import config_version
from core.models import registry, stats
from core.models.registry import ModelInfo
from core.providers.store import ProviderView, list_providers
from core.storage.tables import ScopeSetting
from core.tools.servers import ServerView, list_servers

CHECK_EVERY_S = 1.0
MEASURED_EVERY_S = 30.0  # measured figures move with every reply, not with config: reloaded on their own clock


@dataclass(frozen=True)
class Snapshot:
    version: int
    models: list[ModelInfo]
    providers: dict[str, ProviderView]
    scope_rows: dict[scopes.ScopeKey, ScopeSetting]
    chains: list[chain_store.ChainView]
    templates: list[prompts.TemplateView]
    virtual: dict[str, chain_store.VirtualModelView]
    presets: dict[str, prompts.PresetView]
    budgets: list[BudgetView] = field(default_factory=list)
    rate_limits: list[RateLimitView] = field(default_factory=list)  # the enabled ones
    by_name: dict[str, ModelInfo] = field(default_factory=dict)
    measured: dict[str, stats.Measured] = field(default_factory=dict)  # by model name: what chain strategies read
    mcp_servers: list[ServerView] = field(default_factory=list)  # every registered MCP server (core.tools)

    def model(self, name: str | None) -> ModelInfo | None:
        return self.by_name.get(name) if name else None

    def local_models(self) -> list[ModelInfo]:
        return [m for m in self.models if m.is_local and m.usable]


def _virtual_info(v: chain_store.VirtualModelView, by_name: dict[str, ModelInfo]) -> ModelInfo:
    """A virtual model seen as one model: the weakest window, the highest price, usable if a member is."""
    members = [by_name[m] for m in v.members if m in by_name]
    usable = [m for m in members if m.usable] or members
    windows = [m.context_window for m in usable if m.context_window]
    prices_in = [m.input_usd_per_mtok for m in usable]
    prices_out = [m.output_usd_per_mtok for m in usable]
    known = bool(usable) and None not in prices_in and None not in prices_out
    return ModelInfo(
        name=v.name,
        provider="virtual",
        provider_kind="virtual",
        model_id=v.name,
        litellm_name=v.name,
        context_window=min(windows) if windows else None,
        max_output=None,
        input_usd_per_mtok=max(p for p in prices_in if p is not None) if known else None,
        output_usd_per_mtok=max(p for p in prices_out if p is not None) if known else None,
        price_source="virtual",
        supports_tools=bool(usable) and all(m.supports_tools for m in usable),
        supports_vision=bool(usable) and all(m.supports_vision for m in usable),
        is_local=bool(usable) and all(m.is_local for m in usable),
        available=any(m.usable for m in members),
        enabled=True,
        provider_enabled=True,
        source="virtual",
        alias=None,
        last_seen=None,
        provider_error=None if any(m.usable for m in members) else "none of its member models is available",
    )


def _load(version: int) -> Snapshot:
    models = registry.all_models()
    by_name = {m.name: m for m in models}
    by_name.update({m.alias: m for m in models if m.alias})
    virtual = {v.name: v for v in chain_store.list_virtual_models()}
    for v in virtual.values():
        info = _virtual_info(v, by_name)
        models.append(info)
        by_name[v.name] = info
    return Snapshot(
        version=version,
        models=models,
        providers={p.name: p for p in list_providers()},
        scope_rows=scopes.load_all(),
        chains=chain_store.list_chains(),
        templates=prompts.list_templates(),
        virtual=virtual,
        presets={p.name: p for p in prompts.list_presets()},
        budgets=list_budgets(),
        rate_limits=[r for r in list_rate_limits() if r.enabled],
        by_name=by_name,
        measured=stats.measured(),
        mcp_servers=list_servers(),
    )


_lock = threading.Lock()
_current: Snapshot | None = None
_checked_at = 0.0
_measured_at = 0.0


def current(max_age_s: float = CHECK_EVERY_S) -> Snapshot:
    """The snapshot, re-checking the config version at most every `max_age_s` seconds."""
    global _current, _checked_at, _measured_at
    now = time.monotonic()
    snap = _current
    if snap is not None and now - _checked_at < max_age_s:
        return snap
    with _lock:
        if _current is not None and time.monotonic() - _checked_at < max_age_s:
            return _current
        version = config_version()
        if _current is None or _current.version != version:
            _current, _measured_at = _load(version), time.monotonic()
        elif time.monotonic() - _measured_at > MEASURED_EVERY_S:
            _current, _measured_at = replace(_current, measured=stats.measured()), time.monotonic()
        _checked_at = time.monotonic()
        return _current


async def current_async() -> Snapshot:
    """`current()` without blocking the event loop when a database check is due."""
    snap = _current
    if snap is not None and time.monotonic() - _checked_at < CHECK_EVERY_S:
        return snap
    return await asyncio.to_thread(current)


def invalidate() -> None:
    """Forget the snapshot (tests; right after this process changed config)."""
    global _current, _checked_at
    with _lock:
        _current, _checked_at = None, 0.0
