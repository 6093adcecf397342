"""Model discovery into the registry: ask each provider what it serves, fill the gaps from litellm's metadata,
and write the outcome to the Model table (new models added, vanished ones marked unavailable, history kept).

core.models.registry reads and edits the same table; this module is the only one that adds discovered rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace

from sqlmodel import select

from core.config.version import bump_config_version
from core.errors import UserError
from core.providers import llm
from core.providers.discovery import CheckResult, DiscoveredModel, chat_capable, list_models
from core.providers.kinds import get_kind
from core.providers.store import list_providers, provider_config, record_health
from core.settings import get_settings
from core.storage.db import session
from core.storage.tables import Model, Provider, utcnow

log = logging.getLogger(__name__)
# Providers refreshed at once. Each waits mostly on its provider's answer, so the bound only keeps a registry of
# very many providers from opening as many connections and worker threads at the same moment.
REFRESH_CONCURRENCY = 16


@dataclass
class RefreshResult:
    provider: str
    ok: bool
    source: str  # api | static | none
    models: int
    added: int
    unavailable: int
    seconds: float
    message: str
    error_kind: str | None = None


def _merged(kind_provider: str, found: DiscoveredModel) -> DiscoveredModel:
    """Fill what the provider's API did not say from litellm's metadata."""
    meta = llm.model_metadata(kind_provider, found.model_id)
    if meta is None:
        return replace(found, chat=found.chat and chat_capable(found.model_id, context_window=found.context_window))
    window = found.context_window or meta.context_window
    return replace(
        found,
        chat=found.chat and chat_capable(found.model_id, mode=meta.mode, context_window=window),
        context_window=found.context_window or meta.context_window,
        max_output=found.max_output or meta.max_output,
        input_usd_per_mtok=found.input_usd_per_mtok
        if found.input_usd_per_mtok is not None
        else meta.input_usd_per_mtok,
        output_usd_per_mtok=found.output_usd_per_mtok
        if found.output_usd_per_mtok is not None
        else meta.output_usd_per_mtok,
        supports_tools=found.supports_tools if found.supports_tools is not None else meta.supports_tools,
        supports_vision=found.supports_vision if found.supports_vision is not None else meta.supports_vision,
    )


def _apply(provider_name: str, result: CheckResult, static: list[str]) -> RefreshResult:
    """Write one provider's discovery outcome. Unreachable: keep history, mark unavailable."""
    now = utcnow()
    with session(write=True) as s:
        prov = s.exec(select(Provider).where(Provider.name == provider_name)).first()
        if prov is None:
            return RefreshResult(provider_name, False, "none", 0, 0, 0, 0.0, "provider was removed")
        kind = get_kind(prov.kind)
        prefix = kind.litellm_provider if kind else prov.kind
        rows = {m.model_id: m for m in s.exec(select(Model).where(Model.provider_id == prov.id)).all()}
        static_kind = kind is not None and kind.listing == "static"
        if result.ok and not static_kind:
            source, available, found_models = "api", True, list(result.models)
        elif static_kind:
            source, available, found_models = "static", True, [DiscoveredModel(model_id=m) for m in static]
        elif not rows:  # failing and never listed: show litellm's list, marked static and unavailable
            source, available, found_models = "static", False, [DiscoveredModel(model_id=m) for m in static]
        else:  # failing: keep history, mark everything unavailable below
            source, available, found_models = "none", False, []
        merged = [_merged(prefix, m) for m in found_models]
        discovered = [m for m in merged if m.chat]
        seen: set[str] = set()
        added = 0
        changed = False
        for found in merged:  # rows of models we now know cannot chat leave the registry
            row = rows.get(found.model_id)
            if not found.chat and row is not None and row.source != "manual":
                s.delete(row)
                del rows[found.model_id]
                changed = True
        for found in discovered:
            seen.add(found.model_id)
            row = rows.get(found.model_id)
            if row is None:
                row = Model(
                    provider_id=prov.id or 0,
                    name=f"{prov.name}/{found.model_id}",
                    model_id=found.model_id,
                    litellm_name=f"{prefix}/{found.model_id}",
                    first_seen=now,
                )
                rows[found.model_id] = row
                added += 1
                changed = True
            changed |= row.available != available
            row.available = available
            row.source = source if row.source != "manual" else "manual"
            row.is_local = prov.is_local
            row.context_window = found.context_window
            row.max_output = found.max_output
            row.input_usd_per_mtok = 0.0 if prov.is_local else found.input_usd_per_mtok
            row.output_usd_per_mtok = 0.0 if prov.is_local else found.output_usd_per_mtok
            row.supports_tools = bool(found.supports_tools)
            row.supports_vision = bool(found.supports_vision)
            row.size_bytes, row.family, row.digest = found.size_bytes, found.family, found.digest
            row.parameter_size, row.quantization = found.parameter_size, found.quantization
            if available:
                row.last_seen = now
            s.add(row)
        gone = 0
        for model_id, row in rows.items():
            if model_id in seen or (row.source == "manual" and result.ok):
                continue
            if row.available:
                row.available = False
                gone += 1
                changed = True
                s.add(row)
        prov.last_refresh_at = now
        prov.last_refresh_source = source if discovered else "none"
        s.add(prov)
        if changed:
            bump_config_version(s)
    total = len(discovered)
    return RefreshResult(
        provider=provider_name,
        ok=result.ok,
        source=source if discovered else "none",
        models=total,
        added=added,
        unavailable=gone,
        seconds=0.0,
        message=result.message,
        error_kind=result.error_kind,
    )


async def refresh_provider(name: str, timeout: float | None = None) -> RefreshResult:
    """Discover one provider's models (bounded by `timeout`) and merge them into the registry."""
    started = time.perf_counter()
    timeout = timeout or get_settings().provider_timeout_s
    cfg = await asyncio.to_thread(provider_config, name)
    try:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation (Ctrl-C) that lands
        # as the inner call finishes
        async with asyncio.timeout(timeout + 0.5):
            result = await list_models(cfg, timeout=timeout)
    except TimeoutError:
        result = CheckResult(ok=False, message=f"No answer within {timeout:g} s.", error_kind="timeout")
    static = await asyncio.to_thread(llm.static_models, cfg.kind.litellm_provider) if not cfg.kind.local else []
    if cfg.kind.name == "openai_compatible":
        static = []  # litellm's OpenAI list says nothing about a self-hosted server
    if cfg.kind.listing != "static":
        await asyncio.to_thread(record_health, name, result)
    outcome = await asyncio.to_thread(_apply, name, result, static)
    outcome.seconds = time.perf_counter() - started
    return outcome


async def _refresh_isolated(name: str, timeout: float | None, slots: asyncio.Semaphore) -> RefreshResult:
    """refresh_provider, whose failure (a bug, the database refusing one write) stays this provider's result."""
    started = time.perf_counter()
    async with slots:
        try:
            return await refresh_provider(name, timeout)
        except UserError as exc:  # e.g. a stored provider of a kind this version no longer has
            message = str(exc)
        except Exception as exc:
            log.exception("registry: refreshing %s failed", name)
            message = f"Refreshing '{name}' failed on our side ({type(exc).__name__})."
    return RefreshResult(
        provider=name,
        ok=False,
        source="none",
        models=0,
        added=0,
        unavailable=0,
        seconds=time.perf_counter() - started,
        message=message,
        error_kind="internal",
    )


async def refresh(names: list[str] | None = None, timeout: float | None = None) -> list[RefreshResult]:
    """Refresh providers concurrently (at most REFRESH_CONCURRENCY at once): the total time is that of the
    slowest, not the sum, and one provider that hangs (until its timeout) or fails holds up no other."""
    providers = await asyncio.to_thread(list_providers)
    chosen = [p.name for p in providers if p.enabled and (names is None or p.name in names)]
    slots = asyncio.Semaphore(REFRESH_CONCURRENCY)
    return list(await asyncio.gather(*(_refresh_isolated(name, timeout, slots) for name in chosen)))
