"""Ranked candidates for pickers and autocomplete: what a user is typing, matched against what they may pick.

Platform-neutral: adapters turn `Pick`s into their own widgets (Discord autocomplete, Slack options). A picker
only offers what may be used where it is shown (local-only channels get local models; allowlists apply), ranks
usable models before unavailable ones, and keeps labels and values within 100 characters, a limit every chat
platform we serve shares.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config.scopes import ScopeKey
from core.formatting import context, per_mtok
from core.models.matching import CLOSE, best_closeness, close_names
from core.models.registry import ModelInfo
from core.routing.policy import allowed_here, choose_model, policy_for
from core.snapshot import Snapshot, current_async
from core.threads import aio as threads

MAX_PICKS = 25
MAX_TEXT = 100


@dataclass(frozen=True)
class Pick:
    """One candidate: `value` is what to run with (a model name), `label` what the user sees."""

    value: str
    label: str
    usable: bool = True


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _label(m: ModelInfo) -> str:
    price = per_mtok(m.input_usd_per_mtok, m.output_usd_per_mtok, local=m.is_local)
    price = price.replace(" per 1M tokens", "/1M")
    ctx = context(m.context_window) if m.context_window else ""
    status = "" if m.usable else " · unavailable"
    details = " · ".join(p for p in (ctx, price) if p)
    alias = f" ({m.alias})" if m.alias else ""
    return _clip(f"{m.name}{alias} — {details}{status}")


def model_picks(snap: Snapshot, key: ScopeKey, typed: str, *, limit: int = MAX_PICKS) -> list[Pick]:
    """Models to offer while the user types `typed` in scope `key`: at most `limit`, best first.

    Only models that policy allows here and an admin left enabled; usable ones rank before unavailable ones.
    With nothing typed, local and free models come first; otherwise close names (`core.models.matching`), closest first.
    """
    policy = policy_for(snap, key)
    pool = [
        m
        for m in snap.models
        if m.enabled and m.provider_enabled and len(m.name) <= MAX_TEXT and allowed_here(m, policy) is None
    ]
    typed = typed.strip()
    if typed:
        scored = [(m, best_closeness(typed, (m.name, m.model_id, m.alias))) for m in pool]
        ranked = sorted(
            ((m, s) for m, s in scored if s >= CLOSE), key=lambda ms: (not ms[0].usable, -ms[1], ms[0].name)
        )
        found = [m for m, _ in ranked]
    else:
        found = sorted(pool, key=lambda m: (not m.usable, not m.is_local, not m.is_free, m.name))
    return [Pick(m.name, _label(m), m.usable) for m in found[:limit]]


def provider_picks(snap: Snapshot, typed: str, *, limit: int = MAX_PICKS) -> list[Pick]:
    """Providers by name, for filters such as `/models provider:`."""
    names = sorted(p.name for p in snap.providers.values() if p.enabled)
    if typed.strip():
        names = close_names(typed, names)
    return [Pick(n, _clip(n)) for n in names[:limit] if len(n) <= MAX_TEXT]


def preset_picks(snap: Snapshot, typed: str, *, limit: int = MAX_PICKS) -> list[Pick]:
    """Presets by name, with the model each applies."""
    low = typed.strip().lower()
    presets = sorted(snap.presets.values(), key=lambda p: p.name)
    if low:
        presets = [p for p in presets if low in p.name.lower() or low in (p.description or "").lower()]
    return [Pick(p.name, _clip(f"{p.name} — {p.model}")) for p in presets[:limit] if len(p.name) <= MAX_TEXT]


@dataclass(frozen=True)
class Menu:
    """A model menu for one place: the picks grouped per provider, how many there are, the model answering now."""

    groups: list[tuple[str, list[Pick]]]  # (provider, picks), at most `max_options` picks in all
    total: int  # every pick available here (beyond `max_options` a menu searches instead)
    current: str | None  # the model that answers here now
    note: str = ""  # why some models are not offered (a local-only channel)


async def model_menu(
    platform: str, workspace: str, channel: str, thread: str = "", query: str = "", *, max_options: int = 100
) -> Menu:
    """The models a user may pick in this channel (matching `query`), and which one answers `thread` (or, with
    no thread, new threads of the channel)."""
    snap = await current_async()
    key = ScopeKey(platform, workspace, channel)
    conv = await threads.find_conversation(platform, workspace, channel, thread) if thread else None
    choice = choose_model(snap, conv.current_model if conv else None, key)
    every = model_picks(snap, key, query, limit=10_000)
    groups: dict[str, list[Pick]] = {}
    for pick in every[:max_options]:
        model = snap.model(pick.value)
        groups.setdefault(model.provider if model else "other", []).append(pick)
    note = "This channel is local-only: only local models are offered." if choice.policy.local_only else ""
    return Menu(list(groups.items()), len(every), choice.model.name if choice.model else None, note)
