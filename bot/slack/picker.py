"""What the Slack model menus offer: core's picks for this channel, grouped per provider for option groups."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from core.config.scopes import ScopeKey
from core.config.snapshot import current_async
from core.models.pickers import Pick, model_picks
from core.routing.policy import choose_model, policy_for
from core.threads import conversations

PLATFORM = "slack"
MAX_OPTIONS = 100


@dataclass(frozen=True)
class Menu:
    groups: list[tuple[str, list[Pick]]]  # (provider, picks), at most MAX_OPTIONS picks in all
    total: int  # every pick available here (beyond MAX_OPTIONS the menus search instead)
    current: str | None  # the model that answers here now
    note: str = ""


async def model_menu(workspace: str, channel: str, thread: str = "", query: str = "") -> Menu:
    """The models a user may pick in this channel (matching `query`), and which one answers `thread` (or, with
    no thread, new threads of the channel)."""
    snap = await current_async()
    key = ScopeKey(PLATFORM, workspace, channel)
    pinned = None
    if thread:
        conv = await asyncio.to_thread(conversations.find_conversation, PLATFORM, workspace, channel, thread)
        pinned = conv.current_model if conv else None
    choice = choose_model(snap, pinned, key)
    every = model_picks(snap, key, query, limit=10_000)
    groups: dict[str, list[Pick]] = {}
    for pick in every[:MAX_OPTIONS]:
        model = snap.model(pick.value)
        groups.setdefault(model.provider if model else "other", []).append(pick)
    policy = policy_for(snap, key)
    note = "This channel is local-only: only local models are offered." if policy.local_only else ""
    return Menu(list(groups.items()), len(every), choice.model.name if choice.model else None, note)
