"""Chain strategies: the order a fallback chain tries its models in, from the figures we measure ourselves
(core.models.stats, read from the snapshot: no query per turn).

- `in_order`: as listed; `fastest`: by median time to first token (median latency where no first token was
  timed); `cheapest`: by input plus output price per million tokens. Models without enough measured replies (or
  without a known price) come after the others, in their listed order.
- The chain's thresholds hold back a model whose recent error rate or p95 latency is above them: it is tried
  last, after every other model, rather than never (a held-back model gets no new replies, so its figures could
  not recover if it were dropped for good).
- Only a model with at least MIN_SAMPLES measured replies is ranked or held back: one failed reply bans nothing.

The thread's own model is not part of this: it is always tried first. People pin a model on purpose (`!model`),
and a chain is what happens when that model cannot answer; for "whichever is fastest now", an admin makes a
virtual model (litellm's latency routing) the default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.config.chains import ChainView
from core.formatting import latency, per_mtok
from core.models.registry import ModelInfo
from core.models.stats import Measured

MIN_SAMPLES = 5


@dataclass(frozen=True)
class ChainPlan:
    """The chain's models in the order to try them, and why, for the footer of the reply one of them writes."""

    models: tuple[ModelInfo, ...] = ()
    why: tuple[tuple[str, str], ...] = ()  # model name -> how the strategy placed it (not for in_order)
    held_back: tuple[tuple[str, str], ...] = ()  # model name -> which threshold it is over (tried last)


def _speed(m: ModelInfo, measured: Mapping[str, Measured]) -> tuple[str, float] | None:
    got = measured.get(m.name)
    if got is None or got.samples < MIN_SAMPLES:
        return None
    if got.ttft_p50_ms is not None:
        return "first token", got.ttft_p50_ms
    if got.latency_p50_ms is not None:
        return "reply", got.latency_p50_ms
    return None


def _price(m: ModelInfo) -> float | None:
    if not m.price_known:
        return None
    return (m.input_usd_per_mtok or 0.0) + (m.output_usd_per_mtok or 0.0)


def _prices(m: ModelInfo) -> tuple[float | None, float | None]:
    return m.input_usd_per_mtok, m.output_usd_per_mtok


def _over(chain: ChainView, got: Measured | None) -> str | None:
    """Which of the chain's thresholds the model's recent figures are over, or None."""
    if got is None or got.samples < MIN_SAMPLES:
        return None
    if chain.max_error_rate is not None and got.error_rate is not None and got.error_rate > chain.max_error_rate:
        return (
            f"{got.error_rate:.0%} of its last {got.samples} replies failed "
            f"(chain '{chain.name}' allows {chain.max_error_rate:.0%})"
        )
    if chain.max_p95_ms is not None and got.latency_p95_ms is not None and got.latency_p95_ms > chain.max_p95_ms:
        return (
            f"its p95 latency is {latency(got.latency_p95_ms)} "
            f"(chain '{chain.name}' allows {latency(chain.max_p95_ms)})"
        )
    return None


def plan_chain(chain: ChainView | None, models: list[ModelInfo], measured: Mapping[str, Measured]) -> ChainPlan:
    """Order `models` (the chain's, in its listed order, the thread's own model left out) by the chain's strategy
    and thresholds."""
    if chain is None or not models:
        return ChainPlan(tuple(models))
    held = {m.name: over for m in models if (over := _over(chain, measured.get(m.name))) is not None}
    healthy = [m for m in models if m.name not in held]
    why: list[tuple[str, str]] = []
    lead = f"chain '{chain.name}' tries the {chain.strategy} first"
    if chain.strategy == "fastest":
        speeds = {m.name: _speed(m, measured) for m in healthy}
        healthy = _ranked(healthy, lambda m: s[1] if (s := speeds[m.name]) else None)
        for m in healthy:
            speed = speeds[m.name]
            said = f"{speed[0]} in {latency(speed[1])} (median)" if speed else "this model is not measured yet"
            why.append((m.name, f"{lead}: {said}"))
    elif chain.strategy == "cheapest":
        healthy = _ranked(healthy, _price)
        for m in healthy:
            priced = per_mtok(*_prices(m), local=m.is_local) if m.price_known else "this model's price is unknown"
            why.append((m.name, f"{lead}: {priced}"))
    ordered = healthy + [m for m in models if m.name in held]
    return ChainPlan(tuple(ordered), tuple(why), tuple((m.name, held[m.name]) for m in models if m.name in held))


def _ranked(models: list[ModelInfo], value: Callable[[ModelInfo], float | None]) -> list[ModelInfo]:
    """Lowest known value first (ties keep the listed order), then the models without one, as listed."""
    known = [(v, m) for m in models if (v := value(m)) is not None]
    return [m for _, m in sorted(known, key=lambda vm: vm[0])] + [m for m in models if value(m) is None]


def footer_note(
    plan_why: tuple[tuple[str, str], ...], held_back: tuple[tuple[str, str], ...], answered: str, tried: set[str]
) -> str | None:
    """What the footer says about the strategy when a chain model (`answered`) wrote the reply: how it was chosen,
    and which models were held back and not tried."""
    notes = [why for name, why in plan_why if name == answered]
    held = dict(held_back)
    if answered in held:
        notes.append(f"tried last: {held[answered]}")
    notes += [f"skipped {name}: {why}" for name, why in held_back if name != answered and name not in tried]
    return "; ".join(notes) or None
