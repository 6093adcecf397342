"""Which models a listing shows: one filter language and one filter for `!models`, `/models` (Slack, Discord)
and `switchboard models`, over the snapshot's models (registry entries and virtual models alike); and how a
listed model and its provider read, in chat text and Discord embeds alike."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from core.config.scopes import Policy
from core.errors import UserError
from core.formatting import context, per_mtok
from core.models.registry import ModelInfo, search_models
from core.routing.policy import allowed_here
from core.types import ListedModel, ModelGroup

FILTER_HELP = (
    "Filters: local, cloud, vision, tools, free, provider:NAME, under:$1 (USD per million input tokens), "
    "ctx:32k, page:2, or any text."
)
_PRICE = re.compile(r"\$?(\d+(?:\.\d*)?|\.\d+)")
_CONTEXT = re.compile(r"(\d+(?:\.\d+)?)([km]?)")
MAX_PRICE = 10_000.0  # USD per million tokens: the most `models set` accepts too


class FilterError(UserError):
    """A filter word that cannot be read; the message says what a valid one looks like."""


@dataclass
class ModelFilter:
    text: list[str] = field(default_factory=list)
    local: bool | None = None
    tools: bool = False
    vision: bool = False
    free: bool = False
    provider: str | None = None
    max_price: float | None = None
    min_context: int | None = None
    page: int = 1
    usable_only: bool = False

    def __post_init__(self) -> None:
        if self.max_price is not None and not (math.isfinite(self.max_price) and 0 <= self.max_price <= MAX_PRICE):
            raise FilterError(
                f"A maximum price must be between 0 and {MAX_PRICE:g} USD per million input tokens "
                f"(got {self.max_price:g})."
            )
        if self.min_context is not None and self.min_context < 0:
            raise FilterError(f"A minimum context must be a positive number of tokens (got {self.min_context}).")

    def describe(self) -> str:
        parts = [*self.text]
        parts += ["local"] if self.local else (["cloud"] if self.local is False else [])
        parts += [w for w, on in (("tools", self.tools), ("vision", self.vision), ("free", self.free)) if on]
        parts += [f"provider:{self.provider}"] if self.provider else []
        parts += [f"under:${self.max_price:g}"] if self.max_price is not None else []
        parts += [f"ctx:{self.min_context}"] if self.min_context else []
        return " ".join(parts)


def parse_filter(args: str) -> ModelFilter:
    """`local vision provider:groq under:$1 ctx:32k page:2 llama` and friends; FilterError for a bad value."""
    f = ModelFilter()
    for word in args.split():
        low = word.lower()
        key, colon, value = low.partition(":")
        if low in ("local", "cloud"):
            f.local = low == "local"
        elif low in ("tools", "vision", "free"):
            setattr(f, low, True)
        elif colon and key in ("provider", "p", "under", "max", "price", "ctx", "context", "page") and not value:
            raise FilterError(f"`{word}` needs a value, like `{key}:{_EXAMPLES[key]}`. {FILTER_HELP}")
        elif key in ("provider", "p"):
            f.provider = value
        elif key in ("under", "max", "price"):
            f.max_price = _price(word, value)
        elif key in ("ctx", "context"):
            f.min_context = _context(word, value)
        elif key == "page":
            if not value.isdigit():
                raise FilterError(f"`{word}` is not a page number: use one like `page:2`.")
            f.page = max(1, int(value))
        else:
            f.text.append(word)
    return f


_EXAMPLES = {
    "provider": "groq",
    "p": "groq",
    "under": "$1",
    "max": "$1",
    "price": "$1",
    "ctx": "32k",
    "context": "32k",
    "page": "2",
}


def _price(word: str, value: str) -> float:
    m = _PRICE.fullmatch(value)
    usd = float(m[1]) if m else math.nan
    if not (math.isfinite(usd) and usd <= MAX_PRICE):
        raise FilterError(
            f"`{word}` is not a price: use dollars per million input tokens from 0 to {MAX_PRICE:g}, "
            "like `under:$1` or `under:0.5`."
        )
    return usd


def _context(word: str, value: str) -> int:
    m = _CONTEXT.fullmatch(value)
    tokens = float(m[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[m[2]] if m else math.nan
    if not (math.isfinite(tokens) and tokens <= 100_000_000):
        raise FilterError(f"`{word}` is not a context size: use a number of tokens, like `ctx:32k` or `ctx:8000`.")
    return int(tokens)


def filter_models(models: list[ModelInfo], f: ModelFilter, policy: Policy | None = None) -> list[ModelInfo]:
    """The models `f` selects (closest names first when it has text), among those `policy` allows here."""
    found = search_models(
        " ".join(f.text) or None,
        provider=f.provider,
        local=True if policy is not None and policy.local_only else f.local,
        tools=f.tools,
        vision=f.vision,
        max_input_usd_per_mtok=f.max_price,
        min_context=f.min_context,
        usable_only=f.usable_only,
        models=models,
    )
    return [m for m in found if (policy is None or allowed_here(m, policy) is None) and (not f.free or m.is_free)]


# ---------------------------------------------------------------- how a listing reads


def listed(m: ModelInfo, *, current: bool) -> ListedModel:
    """A registry model as a listing shows it; `current`: the model a message here would use now."""
    return ListedModel(
        name=m.name,
        alias=m.alias,
        context_window=m.context_window,
        input_usd_per_mtok=m.input_usd_per_mtok,
        output_usd_per_mtok=m.output_usd_per_mtok,
        tools=m.supports_tools,
        vision=m.supports_vision,
        local=m.is_local,
        current=current,
        usable=m.usable,
        reason=m.unusable_reason,
    )


def summary(m: ListedModel) -> str:
    """`128k ctx · $2.5 in / $10 out per 1M tokens · tools, vision`."""
    caps = [c for c, on in (("tools", m.tools), ("vision", m.vision)) if on]
    parts = [context(m.context_window), per_mtok(m.input_usd_per_mtok, m.output_usd_per_mtok, local=m.local)]
    return " · ".join(parts + ([", ".join(caps)] if caps else []))


def model_line(m: ListedModel) -> str:
    """`• `oa/gpt-4o` (alias `4o`) ← current — 128k ctx · … — unavailable: why`; local models say `[local]`."""
    alias = f" (alias `{m.alias}`)" if m.alias else ""
    badges = (" [local]" if m.local else "") + (" ← current" if m.current else "")
    status = "" if m.usable else f" — unavailable: {m.reason}"
    return f"• `{m.name}`{alias}{badges} — {summary(m)}{status}"


def group_heading(g: ModelGroup) -> str:
    """`**lab** (OpenAI-compatible server) — where prompts go`."""
    return f"**{g.provider}** ({g.label}) — {g.privacy}".rstrip(" —")
