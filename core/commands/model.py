"""`!model [NAME]` and `!models [FILTER]`."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

from core import snapshot
from core.commands import prefs
from core.commands.base import Context, command
from core.commands.lookup import describe, find_model, price_note
from core.config.scopes import update_scope
from core.menus.listing import (
    FILTER_HELP,
    FilterError,
    filter_models,
    group_heading,
    listed,
    model_line,
    parse_filter,
)
from core.providers.kinds import get_kind
from core.routing.policy import allowed_here, choose_model, may_set_default, source_label, suggestions
from core.settings import get_settings
from core.threads import aio as threads
from core.types import Choice, CurrentModel, Event, ModelChosen, ModelGroup, ModelListing, Reply


@command(
    "model",
    "!model [NAME] [--mine]",
    "Show this thread's model, or switch it (in a channel: set the channel default). "
    "With `--mine`: show or set your own default for new threads.",
)
async def model_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    words = args.split()
    if prefs.MINE in words:
        yield await prefs.my_default(ctx, " ".join(w for w in words if w != prefs.MINE))
        return
    if not args:
        yield await _show_current(ctx)
        return
    m = find_model(ctx, args)
    if isinstance(m, Reply):
        yield m
        return
    refusal = m.unusable_reason or allowed_here(m, ctx.policy)
    if refusal:
        alternatives = suggestions(ctx.snap, ctx.policy, near=args)
        hint = f" Try {', '.join(f'`{a}`' for a in alternatives)}." if alternatives else ""
        yield Reply(f"Can't use {m.name}: {refusal}.{hint}", kind="refusal", ephemeral=True)
        return
    if ctx.in_thread:
        assert ctx.conversation is not None
        await threads.set_thread_model(ctx.conversation.id, m.name)
        yield Reply(
            f"This thread now uses **{m.name}** ({describe(m)}). Earlier replies keep the model that wrote them."
            + price_note(m),
            kind="model_set",
            data=ModelChosen(m.name, "thread"),
        )
        return
    refusal = may_set_default(m, ctx.is_admin)
    if refusal:
        yield Reply(refusal, kind="refusal", ephemeral=True)
        return
    await asyncio.to_thread(update_scope, ctx.key, default_model=m.name, by=ctx.msg.user)
    snapshot.invalidate()
    yield Reply(
        f"New threads in this channel will use **{m.name}** ({describe(m)}). Existing threads keep their model."
        + price_note(m),
        kind="model_set",
        data=ModelChosen(m.name, "channel"),
    )


async def _show_current(ctx: Context) -> Reply:
    current = ctx.conversation.current_model if ctx.conversation else None
    current = current if ctx.in_thread else None
    mine = await prefs.preference_of(ctx)
    choice = choose_model(ctx.snap, current, ctx.key, mine)
    yours = choice.source in ("personal", "last")
    where = "This thread" if ctx.in_thread else "Your new threads here" if yours else "New threads in this channel"
    how = "`!model NAME` switches it" if ctx.in_thread else "`/model NAME` sets the channel default"
    if choice.model is None:
        return Reply(choice.refusal or "No model is available here.", kind="refusal", ephemeral=True)
    also = prefs.start_line(ctx, mine) if current else (f" {choice.note}" if choice.note else "")
    return Reply(
        f"{where} {'uses' if ctx.in_thread else 'use'} **{choice.model.name}** "
        f"({source_label(choice.source)}; {describe(choice.model)}). "
        f"{how}; `!models` lists models.{also}",
        kind="model_info",
        data=CurrentModel(choice.model.name, choice.source),
        ephemeral=not ctx.in_thread,
    )


# ---------------------------------------------------------------- !models


@command(
    "models",
    "!models [FILTER]",
    "List models by provider. " + FILTER_HELP,
)
async def models_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    try:
        f = parse_filter(args)
    except FilterError as exc:
        yield Reply(str(exc), kind="error", ephemeral=True)
        return
    policy = ctx.policy
    current = ctx.conversation.current_model if ctx.conversation and ctx.in_thread else None
    mine = None if current else await prefs.preference_of(ctx)  # marks the model your new thread would start on
    choice = choose_model(ctx.snap, current, ctx.key, mine)
    found = filter_models([m for m in ctx.snap.models if m.enabled and m.provider_enabled], f, policy)
    found.sort(key=lambda m: (m.provider, not m.usable, m.name))
    size = get_settings().models_page_size
    pages = max(1, math.ceil(len(found) / size))
    page = min(f.page, pages)
    shown = found[(page - 1) * size : page * size]
    note = ""
    if policy.local_only:
        note = f"This {policy.local_only_from or 'channel'} is local-only: only local models are listed."
    elif policy.allowed_models is not None:
        note = f"An admin limited this {policy.allowed_from or 'channel'} to an allowed list."
    current_name = choice.model.name if choice.model else None
    groups: list[ModelGroup] = []
    for provider in dict.fromkeys(m.provider for m in shown):
        pview = ctx.snap.providers.get(provider)
        kind = get_kind(pview.kind) if pview else None
        privacy = pview.privacy_note if pview else ("Routes among member models." if provider == "virtual" else "")
        members = tuple(listed(m, current=m.name == current_name) for m in shown if m.provider == provider)
        groups.append(ModelGroup(provider, kind.label if kind else provider, privacy, members))
    lines = [line for g in groups for line in (group_heading(g), *map(model_line, g.models))]
    filter_text = f.describe()
    title = (
        f"**Models**{f' matching `{filter_text}`' if filter_text else ''} — page {page}/{pages}, {len(found)} in all"
    )
    if not found:
        lines = [f"No models match `{filter_text}`." if filter_text else "No models are available here yet."]
    more = []
    if page < pages:
        more.append(f"Next: `!models {(filter_text + ' ') if filter_text else ''}page:{page + 1}`")
    body = "\n".join([title, *([note] if note else []), *lines, *more])
    nav = []
    if page > 1:
        nav.append(Choice("Previous", f"!models {filter_text} page:{page - 1}".replace("  ", " ")))
    if page < pages:
        nav.append(Choice("Next", f"!models {filter_text} page:{page + 1}".replace("  ", " ")))
    yield Reply(
        body,
        kind="models",
        ephemeral=not ctx.in_thread,
        data=ModelListing(page, pages, len(found), filter_text, note, tuple(groups), current_name),
        choices=tuple(nav),
    )
