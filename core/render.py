"""Platform-neutral text for what users see under every reply and in command answers."""

from __future__ import annotations

from core.types import TurnResult


def money(usd: float | None, *, local: bool = False, unknown: str = "cost unknown") -> str:
    """Dollars as everyone shows them (replies, CLI, admin): cents from $0.10 up; below that up to four decimals,
    so small amounts stay readable ($0.0014, $0.022); below $0.0001, `<$0.0001`."""
    if local:
        return "free (local)"
    if usd is None:
        return unknown
    if usd == 0:
        return "$0"
    if usd >= 0.1:
        return f"${usd:,.2f}"
    if usd < 0.0001:
        return "<$0.0001"
    return f"${usd:.4f}".rstrip("0").rstrip(".")


def per_mtok(price_in: float | None, price_out: float | None, *, local: bool) -> str:
    if local:
        return "free (local)"
    if price_in is None or price_out is None:
        return "price unknown"
    return f"${price_in:g} in / ${price_out:g} out per 1M tokens"


def tokens(n: int) -> str:
    return f"{n:,} tokens"


def render_footer(r: TurnResult) -> str:
    """`model · tokens · cost`, plus `fallback from X: reason` when a fallback answered."""
    if r.model is None:
        return "no reply" + (f" · {r.error}" if r.error else "")
    name = f"{r.model} (via {r.via})" if r.via else r.model
    parts = [name, tokens(r.total_tokens), money(r.cost_usd, local=r.is_local)]
    if r.fallback_from:
        parts.append(f"fallback from {r.fallback_from}: {r.fallback_reason}")
    if r.status == "partial":
        parts.append(f"cut off ({r.error})" if r.error else "cut off")
    elif r.status == "interrupted":
        parts.append("interrupted")
    elif r.finish_reason == "length":
        parts.append("stopped at the output limit")
    elif r.finish_reason == "budget":
        parts.append("stopped: the budget cannot cover a longer reply")
    if r.status in ("partial", "interrupted"):
        parts.append("`!retry` for a full answer")
    elif r.finish_reason == "length":
        parts.append('say "continue" for more')
    return " · ".join(parts)
