"""The footer under every model reply: who wrote it, what it cost, and how it ended (numbers read as
core.formatting writes them)."""

from __future__ import annotations

from core.formatting import money, tokens
from core.types import TurnResult


def render_footer(r: TurnResult) -> str:
    """`model · tokens · cost`, plus `fallback from X: reason` when a fallback answered."""
    if r.model is None:
        return "no reply" + (f" · {r.error}" if r.error else "")
    name = f"{r.model} (via {r.via})" if r.via else r.model
    thought = [f"{r.reasoning_tokens:,} of them reasoning"] if r.reasoning_tokens else []  # already counted in
    parts = [name, tokens(r.total_tokens), *thought, money(r.cost_usd, local=r.is_local)]
    if r.tool_rounds:  # tokens and cost above add up every round (a model call each)
        rounds = f"{r.tool_rounds} tool round{'s' if r.tool_rounds != 1 else ''}"
        parts.append(f"{rounds}, {r.tool_ms / 1000:.1f} s in tools")
    if r.fallback_from:
        parts.append(f"fallback from {r.fallback_from}: {r.fallback_reason}")
    if r.route_note:
        parts.append(r.route_note)
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
