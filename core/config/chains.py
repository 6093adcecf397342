"""Fallback chains and virtual models: owns the FallbackChain and VirtualModel tables."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import select

from core.config.scopes import ScopeKey
from core.config.version import bump_config_version
from core.errors import UserError
from core.storage.db import session
from core.storage.tables import FallbackChain, VirtualModel, utcnow

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# litellm Router strategies that make sense for a group users pick by name
STRATEGIES = {
    "latency": "latency-based-routing",
    "cost": "cost-based-routing",
    "least-busy": "least-busy",
    "shuffle": "simple-shuffle",
}
# The order a fallback chain tries its models in (core.routing.strategy reads our own measured figures)
CHAIN_STRATEGIES = {
    "in_order": "in the order listed",
    "fastest": "fastest first (by measured time to first token)",
    "cheapest": "cheapest first (by price per token)",
}


@dataclass(frozen=True)
class ChainView:
    name: str
    scope: ScopeKey
    for_model: str | None
    models: tuple[str, ...]
    allow_paid: bool
    content_policy_rule: str | None
    enabled: bool
    strategy: str = "in_order"  # see CHAIN_STRATEGIES
    max_error_rate: float | None = None  # hold back a model whose recent error rate is above this (0-1)
    max_p95_ms: float | None = None  # hold back a model whose recent p95 latency is above this


@dataclass(frozen=True)
class VirtualModelView:
    name: str
    strategy: str
    members: tuple[str, ...]
    description: str


def list_chains() -> list[ChainView]:
    with session() as s:
        rows = s.exec(select(FallbackChain).order_by(FallbackChain.name)).all()
    return [
        ChainView(
            r.name,
            ScopeKey(r.platform, r.workspace, r.channel),
            r.for_model,
            tuple(r.models or []),
            r.allow_paid,
            r.content_policy_rule,
            r.enabled,
            r.strategy or "in_order",
            r.max_error_rate,
            r.max_p95_ms,
        )
        for r in rows
    ]


def save_chain(
    name: str,
    models: list[str],
    *,
    scope: ScopeKey = ScopeKey(),
    for_model: str | None = None,
    allow_paid: bool = False,
    content_policy_rule: str | None = None,
    enabled: bool = True,
    strategy: str = "in_order",
    max_error_rate: float | None = None,
    max_p95_ms: float | None = None,
) -> None:
    """Create or replace a chain. Model names are checked against the registry by the caller. `strategy` orders
    the models tried after the thread's own; the thresholds hold back a model whose recent figures are over them."""
    if not NAME_RE.match(name):
        raise UserError(f"'{name}' is not a valid chain name: lowercase letters, digits, '-', '_' and '.'.")
    if not models:
        raise UserError("A fallback chain needs at least one model.")
    if len(set(models)) != len(models):
        raise UserError("A fallback chain lists each model once.")
    if content_policy_rule not in (None, "fallback", "stop"):
        raise UserError("The content-policy rule is 'fallback' or 'stop'.")
    strategy = strategy.replace("-", "_")
    if strategy not in CHAIN_STRATEGIES:
        raise UserError(f"Unknown chain strategy '{strategy}'. Use one of: {', '.join(CHAIN_STRATEGIES)}.")
    if max_error_rate is not None and not 0 <= max_error_rate <= 1:
        raise UserError("The error-rate threshold is a fraction from 0 to 1, e.g. 0.2 for 20%.")
    if max_p95_ms is not None and not 0 < max_p95_ms <= 3_600_000:
        raise UserError("The p95 threshold is a positive number of milliseconds, e.g. 8000.")
    with session(write=True) as s:
        row = s.exec(select(FallbackChain).where(FallbackChain.name == name)).first() or FallbackChain(name=name)
        row.platform, row.workspace, row.channel = scope.platform, scope.workspace, scope.channel
        row.for_model, row.models, row.allow_paid = for_model or None, list(models), allow_paid
        row.content_policy_rule, row.enabled, row.updated_at = content_policy_rule, enabled, utcnow()
        row.strategy, row.max_error_rate, row.max_p95_ms = strategy, max_error_rate, max_p95_ms
        s.add(row)
        bump_config_version(s)


def delete_chain(name: str) -> None:
    with session(write=True) as s:
        row = s.exec(select(FallbackChain).where(FallbackChain.name == name)).first()
        if row is None:
            raise UserError(f"No fallback chain named '{name}'.")
        s.delete(row)
        bump_config_version(s)


def chain_for(chains: list[ChainView], model: str, key: ScopeKey) -> ChainView | None:
    """The most specific enabled chain: one for this model (narrowest scope first), then scope chains."""
    scopes = key.parents()
    enabled = [c for c in chains if c.enabled]
    for wanted_model in (model, None):
        for scope in scopes:
            for c in enabled:
                if c.for_model == wanted_model and c.scope == scope:
                    return c
    return None


def list_virtual_models() -> list[VirtualModelView]:
    with session() as s:
        rows = s.exec(select(VirtualModel).order_by(VirtualModel.name)).all()
    return [VirtualModelView(r.name, r.strategy, tuple(r.members or []), r.description) for r in rows]


def save_virtual_model(name: str, members: list[str], strategy: str = "latency", description: str = "") -> None:
    """An admin-defined group such as `auto-fast`, routed by litellm among its healthy members."""
    if not NAME_RE.match(name) or "/" in name:
        raise UserError(f"'{name}' is not a valid name: lowercase letters, digits, '-', '_' and '.'.")
    if strategy not in STRATEGIES and strategy not in STRATEGIES.values():
        raise UserError(f"Unknown strategy '{strategy}'. Use one of: {', '.join(STRATEGIES)}.")
    if len(members) < 1:
        raise UserError("A virtual model needs at least one member model.")
    with session(write=True) as s:
        row = s.exec(select(VirtualModel).where(VirtualModel.name == name)).first() or VirtualModel(name=name)
        row.members, row.strategy = list(dict.fromkeys(members)), STRATEGIES.get(strategy, strategy)
        row.description, row.updated_at = description, utcnow()
        s.add(row)
        bump_config_version(s)


def delete_virtual_model(name: str) -> None:
    with session(write=True) as s:
        row = s.exec(select(VirtualModel).where(VirtualModel.name == name)).first()
        if row is None:
            raise UserError(f"No virtual model named '{name}'.")
        s.delete(row)
        bump_config_version(s)
