"""The model registry: discovered models merged with litellm's metadata, admin overrides, search and resolve.

This module owns the Model table; core.models.sync adds the discovered rows and core.models.stats keeps their measured
performance columns. Names users type are `<provider>/<model id>` (or an alias).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from core.config.version import bump_config_version
from core.errors import UserError
from core.models.matching import close_matches, normalize
from core.prose import clause
from core.providers.kinds import get_kind
from core.storage.db import session
from core.storage.tables import Model, Provider

ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


class RegistryError(UserError):
    """Bad registry input; the message says what to fix."""


@dataclass(frozen=True)
class ModelInfo:
    """A registry entry as everyone else sees it: effective values, overrides applied."""

    name: str
    provider: str
    provider_kind: str
    model_id: str
    litellm_name: str
    context_window: int | None
    max_output: int | None
    input_usd_per_mtok: float | None  # None: unknown, never free
    output_usd_per_mtok: float | None
    price_source: str  # local | free | override | provider | unknown
    supports_tools: bool
    supports_vision: bool
    is_local: bool  # on a local server and costing nothing: free, offered in local-only channels, `[local]`
    available: bool
    enabled: bool
    provider_enabled: bool
    source: str
    alias: str | None
    last_seen: datetime | None
    size_bytes: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    digest: str | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    ttft_p50_ms: float | None = None
    tokens_per_s: float | None = None
    error_rate: float | None = None
    provider_error: str | None = None
    on_local_server: bool = False  # where it runs, whatever its price (a local server may proxy a paid API)

    @property
    def priced_local(self) -> bool:
        """On a local server, but an admin gave it a price: it counts as paid (see `_effective`)."""
        return self.on_local_server and not self.is_local

    @property
    def price_known(self) -> bool:
        return self.input_usd_per_mtok is not None and self.output_usd_per_mtok is not None

    @property
    def is_free(self) -> bool:
        return self.price_known and self.input_usd_per_mtok == 0 and self.output_usd_per_mtok == 0

    @property
    def is_paid(self) -> bool:
        """Paid or of unknown price: either way it needs an explicit choice."""
        return not self.is_free

    @property
    def usable(self) -> bool:
        return self.available and self.enabled and self.provider_enabled

    @property
    def unusable_reason(self) -> str | None:
        if not self.provider_enabled:
            return f"provider '{self.provider}' is disabled"
        if not self.enabled:
            return "an admin disabled it"
        if not self.available:
            if self.provider_kind == "ollama" and self.provider_error is None:  # server fine, model gone
                return (
                    f"it is no longer installed on the Ollama server '{self.provider}' "
                    f"(an admin can reinstall it with `!install {self.model_id}`)"
                )
            if self.provider_error is None and not self.on_local_server and self.source != "manual":
                # the provider answered and left it out: retired or renamed, not a passing outage
                return f"it is not available from '{self.provider}' any more: it is gone from the provider's list"
            why = f": {clause(self.provider_error)}" if self.provider_error else ""  # callers end the sentence
            return f"it is not available from '{self.provider}' right now{why}"
        return None


def _effective(row: Model, prov: Provider) -> ModelInfo:
    """What everyone else sees of a row. Prices: `--free` first, then prices an admin set, then "a model of a local
    server costs nothing", then the provider's price. An admin's price beats the local guess because a loopback
    server can be a proxy to a paid API; such a model is then treated as paid everywhere (budgets, footers,
    local-only policy), since Switchboard cannot tell where the proxy sends prompts."""
    price_in: float | None
    price_out: float | None
    overridden = row.input_usd_per_mtok_override is not None or row.output_usd_per_mtok_override is not None
    if row.free:
        price_in, price_out, source = 0.0, 0.0, "free"
    elif overridden:
        # the half an admin did not set comes from the provider; a local server's "0" is a guess, not a price
        fallback_in = None if row.is_local else row.input_usd_per_mtok
        fallback_out = None if row.is_local else row.output_usd_per_mtok
        price_in = _first(row.input_usd_per_mtok_override, fallback_in)
        price_out = _first(row.output_usd_per_mtok_override, fallback_out)
        source = "override" if price_in is not None and price_out is not None else "unknown"
    elif row.is_local:
        price_in, price_out, source = 0.0, 0.0, "local"
    else:
        price_in, price_out = row.input_usd_per_mtok, row.output_usd_per_mtok
        source = "provider" if price_in is not None and price_out is not None else "unknown"
    local = row.is_local and price_in == 0 and price_out == 0
    return ModelInfo(
        name=row.name,
        provider=prov.name,
        provider_kind=prov.kind,
        model_id=row.model_id,
        litellm_name=row.litellm_name,
        context_window=row.context_window_override or row.context_window,
        max_output=row.max_output,
        input_usd_per_mtok=price_in,
        output_usd_per_mtok=price_out,
        price_source=source,
        supports_tools=row.supports_tools,
        supports_vision=row.supports_vision,
        is_local=local,
        available=row.available,
        enabled=row.enabled,
        provider_enabled=prov.enabled,
        source=row.source,
        alias=row.alias,
        last_seen=row.last_seen,
        size_bytes=row.size_bytes,
        family=row.family,
        parameter_size=row.parameter_size,
        quantization=row.quantization,
        digest=row.digest,
        latency_p50_ms=row.latency_p50_ms,
        latency_p95_ms=row.latency_p95_ms,
        ttft_p50_ms=row.ttft_p50_ms,
        tokens_per_s=row.tokens_per_s,
        error_rate=row.error_rate,
        provider_error=None if prov.last_check_ok is not False else prov.last_check_error,
        on_local_server=row.is_local,
    )


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


# ---------------------------------------------------------------- reading


def all_models() -> list[ModelInfo]:
    """Every registry entry, ordered by provider then name."""
    with session() as s:
        rows = s.exec(select(Model, Provider).join(Provider).order_by(Provider.name, Model.model_id)).all()
    return [_effective(m, p) for m, p in rows]


def get_model(name: str) -> ModelInfo | None:
    """An entry by exact name or alias."""
    with session() as s:
        row = s.exec(select(Model, Provider).join(Provider).where((Model.name == name) | (Model.alias == name))).first()
    return _effective(*row) if row else None


def search_models(
    text: str | None = None,
    *,
    provider: str | None = None,
    local: bool | None = None,
    tools: bool = False,
    vision: bool = False,
    max_input_usd_per_mtok: float | None = None,
    min_context: int | None = None,
    usable_only: bool = False,
    models: list[ModelInfo] | None = None,
) -> list[ModelInfo]:
    """Filter the registry; free text matches names containing it, else close names (`core.models.matching`), closest
    first."""
    found = models if models is not None else all_models()
    if provider:
        found = [m for m in found if m.provider == provider or m.provider_kind == provider]
    if local is not None:
        found = [m for m in found if m.is_local == local]
    if tools:
        found = [m for m in found if m.supports_tools]
    if vision:
        found = [m for m in found if m.supports_vision]
    if max_input_usd_per_mtok is not None:
        found = [m for m in found if m.price_known and (m.input_usd_per_mtok or 0) <= max_input_usd_per_mtok]
    if min_context is not None:
        found = [m for m in found if (m.context_window or 0) >= min_context]
    if usable_only:
        found = [m for m in found if m.usable]
    if text:
        needle = text.lower()
        direct = [m for m in found if needle in m.name.lower() or needle in (m.alias or "").lower()]
        if direct:
            return direct
        return close_matches(text, found, _names)
    return found


def _names(m: ModelInfo) -> tuple[str, str, str | None]:
    return m.name, m.model_id, m.alias


@dataclass(frozen=True)
class Resolution:
    """The outcome of resolving what a user typed: one model, several candidates, or suggestions."""

    model: ModelInfo | None = None
    candidates: tuple[ModelInfo, ...] = ()
    suggestions: tuple[str, ...] = ()


def resolve_model(text: str, models: list[ModelInfo] | None = None) -> Resolution:
    """Resolve a typed name: exact name or alias, a unique model id, a unique normalised match, a unique prefix
    of an id or alias (3+ characters); else the candidates it matches, or close names (`core.models.matching`)."""
    text = text.strip()
    pool = models if models is not None else all_models()
    if not text or not pool:
        return Resolution()
    lowered = text.lower()
    for m in pool:
        if lowered in (m.name.lower(), (m.alias or "").lower()):
            return Resolution(model=m)
    by_id = [m for m in pool if lowered in (m.model_id.lower(), m.litellm_name.lower())]
    if len(by_id) == 1:
        return Resolution(model=by_id[0])
    if len(by_id) > 1:
        return Resolution(candidates=tuple(_prefer_usable(by_id)))
    norm = normalize(text)
    by_norm = [m for m in pool if norm in (normalize(m.model_id), normalize(m.name), normalize(m.alias or "-"))]
    if len(by_norm) == 1:
        return Resolution(model=by_norm[0])
    if len(by_norm) > 1:
        return Resolution(candidates=tuple(_prefer_usable(by_norm)))
    prefixed = [m for m in pool if normalize(m.model_id).startswith(norm) or normalize(m.alias or "-").startswith(norm)]
    if len(prefixed) == 1 and len(norm) >= 3:
        return Resolution(model=prefixed[0])
    if 1 < len(prefixed) <= 10 and len(norm) >= 3:
        return Resolution(candidates=tuple(_prefer_usable(prefixed)))
    return Resolution(suggestions=tuple(m.name for m in close_matches(text, pool, _names, limit=5)))


def _prefer_usable(models: list[ModelInfo]) -> list[ModelInfo]:
    return sorted(models, key=lambda m: (not m.usable, m.name))


# ---------------------------------------------------------------- admin overrides


def set_model_overrides(
    name: str,
    *,
    input_usd_per_mtok: float | None = None,
    output_usd_per_mtok: float | None = None,
    context_window: int | None = None,
    alias: str | None = None,
    enabled: bool | None = None,
    free: bool | None = None,
    clear_prices: bool = False,
) -> ModelInfo:
    """Fill in or override a model's metadata; these survive refreshes. Validates before writing.

    `name` is resolved like everywhere else (`resolve_model`): a unique bare id or alias works, an ambiguous one
    is refused with the candidates. A price set without `free` ends an earlier `--free`: the latest wins."""
    for label, value in (("input price", input_usd_per_mtok), ("output price", output_usd_per_mtok)):
        if value is not None and (value < 0 or value != value or value > 10_000):
            raise RegistryError(f"The {label} must be between 0 and 10000 USD per million tokens.")
    if context_window is not None and not 1 <= context_window <= 100_000_000:
        raise RegistryError("The context window must be a positive number of tokens.")
    if alias is not None and alias != "" and not ALIAS_RE.match(alias):
        raise RegistryError(f"'{alias}' is not a valid alias: letters, digits, '-', '_', '.', ':' (max 64).")
    res = resolve_model(name)
    if res.model is None and res.candidates:
        raise _not_found(name, res)
    if free is None and (input_usd_per_mtok is not None or output_usd_per_mtok is not None):
        free = False
    with session(write=True) as s:
        target = res.model.name if res.model is not None else name
        found = s.exec(select(Model, Provider).join(Provider).where(Model.name == target)).first()
        if found is None:
            row, prov = _manual_model(s, name, res)
        else:
            row, prov = found
        if alias:
            clash = s.exec(select(Model).where((Model.alias == alias) | (Model.name == alias))).first()
            if clash is not None and clash.id != row.id:
                raise RegistryError(f"'{alias}' is already the name or alias of {clash.name}.")
        if input_usd_per_mtok is not None:
            row.input_usd_per_mtok_override = input_usd_per_mtok
        if output_usd_per_mtok is not None:
            row.output_usd_per_mtok_override = output_usd_per_mtok
        if clear_prices:
            row.input_usd_per_mtok_override = row.output_usd_per_mtok_override = None
        if context_window is not None:
            row.context_window_override = context_window
        if alias is not None:
            row.alias = alias or None
        if enabled is not None:
            row.enabled = enabled
        if free is not None:
            row.free = free
        s.add(row)
        bump_config_version(s)
        try:
            s.flush()
        except IntegrityError:
            raise RegistryError(f"'{alias}' is already in use.") from None
        return _effective(row, prov)


def _manual_model(s: object, name: str, res: Resolution) -> tuple[Model, Provider]:
    """`models set provider/id` for a model discovery did not list (e.g. a server without /models)."""
    from sqlmodel import Session

    assert isinstance(s, Session)
    prov_name, _, model_id = name.partition("/")
    prov = s.exec(select(Provider).where(Provider.name == prov_name)).first() if model_id else None
    kind = get_kind(prov.kind) if prov else None
    # Only servers whose listing we cannot trust get hand-made entries; elsewhere a typo must not add a model.
    if prov is None or kind is None or not (kind.listing == "static" or kind.name == "openai_compatible"):
        raise _not_found(name, res)
    prefix = kind.litellm_provider
    row = Model(
        provider_id=prov.id or 0,
        name=name,
        model_id=model_id,
        litellm_name=f"{prefix}/{model_id}",
        is_local=prov.is_local,
        source="manual",
        available=True,
    )
    return row, prov


def forget_model(name: str) -> bool:
    """Drop one registry entry whose model was deleted at its provider (e.g. removed from an Ollama server), so
    it leaves `/models` at once. True when there was one. Messages keep the name of the model that wrote them."""
    with session(write=True) as s:
        row = s.exec(select(Model).where(Model.name == name)).first()
        if row is None:
            return False
        s.delete(row)
        bump_config_version(s)
    return True


def require_model(name: str, models: list[ModelInfo] | None = None) -> ModelInfo:
    """The model `name` resolves to, or a RegistryError that lists the candidates or close names."""
    res = resolve_model(name, models)
    if res.model is not None:
        return res.model
    raise _not_found(name, res)


def _not_found(name: str, res: Resolution) -> RegistryError:
    """What to say when `name` is not one model: the candidates it matches, or close names (or none)."""
    if res.candidates:
        names = ", ".join(c.name for c in res.candidates[:10])
        return RegistryError(f"'{name}' matches several models: {names}. Use the full name.")
    hint = f" Did you mean {', '.join(res.suggestions[:3])}?" if res.suggestions else " No model has a close name."
    return RegistryError(f"No model named '{name}'.{hint} `switchboard models` lists them.")
