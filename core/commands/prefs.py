"""`!prefs` and `!model NAME --mine`: a person's own default model for new threads, and "start where I left off".

A personal default may be a paid model: it only picks the model of the person's own new threads, which they could
pick in each thread with `!model NAME` anyway, and every reply still goes through the budgets and the confirmation
threshold. What only an admin may do is make a paid model the default of everyone's threads (a channel default).
Allowlists and local-only still win: a personal default a channel forbids is skipped there, with a note.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.commands.base import Context, command
from core.commands.lookup import describe, find_model, price_note
from core.config.people import (
    Person,
    Preference,
    clear_async,
    preference_async,
    set_default_async,
    set_follow_last_async,
)
from core.routing.policy import choose_model, source_label
from core.types import Event, ModelChosen, Reply

MINE = "--mine"
USAGE = "`!prefs` shows your settings; `!prefs last on` or `!prefs last off`; `!prefs clear` forgets them."


def person_of(ctx: Context) -> Person:
    return Person(ctx.msg.platform, ctx.msg.workspace, ctx.msg.user)


async def preference_of(ctx: Context) -> Preference:
    return await preference_async(person_of(ctx))


def start_line(ctx: Context, mine: Preference) -> str:
    """Where this person's new threads here start, as a sentence to append (empty when they set nothing)."""
    if not mine.is_set:
        return ""
    choice = choose_model(ctx.snap, None, ctx.key, mine)
    if choice.note:
        return f" {choice.note}"
    if choice.model is None:
        return ""
    return f" Your new threads here start on **{choice.model.name}** ({source_label(choice.source)})."


async def my_default(ctx: Context, name: str) -> Reply:
    """`!model --mine` (show) or `!model NAME --mine` (set): the model this person's new threads start on."""
    if not name:
        mine = await preference_of(ctx)
        if not mine.default_model:
            return Reply(
                "You have no default model: your new threads start on this channel's default. "
                "`!model NAME --mine` sets one." + start_line(ctx, mine),
                kind="info",
                ephemeral=True,
            )
        return Reply(
            f"Your default model is **{mine.default_model}**." + start_line(ctx, mine),
            kind="info",
            ephemeral=True,
        )
    m = find_model(ctx, name, then=f" {MINE}")
    if isinstance(m, Reply):
        return m
    if m.unusable_reason:
        return Reply(f"Can't use {m.name}: {m.unusable_reason}.", kind="refusal", ephemeral=True)
    mine = await set_default_async(person_of(ctx), m.name)
    text = f"Your new threads will start on **{m.name}** ({describe(m)}). Threads you already have keep their model."
    pinned = ctx.conversation.current_model if ctx.conversation and ctx.in_thread else None
    if pinned:
        text += f" This one stays on {pinned}: `!model NAME` switches it."
    text += price_note(m) + start_line(ctx, mine)
    if mine.follow_last and mine.last_model:
        text += ' "Start where I left off" is on, so the model you used last comes first (`!prefs last off`).'
    return Reply(text, kind="model_set", ephemeral=True, data=ModelChosen(m.name, "personal"))


def settings_text(ctx: Context, mine: Preference) -> str:
    default = f"**{mine.default_model}**" if mine.default_model else "none (`!model NAME --mine` sets one)"
    state, toggle = ("on", "off") if mine.follow_last else ("off", "on")
    lines = [
        "**Your settings** (for your new threads in this workspace)",
        f"• Default model: {default}",
        f"• Start where I left off: {state} (`!prefs last {toggle}` turns it {toggle})",
        f"• Last model you used: {mine.last_model or 'none yet'}",
    ]
    where = start_line(ctx, mine).strip()
    if where:
        lines.append(where)
    lines.append("Admin policy (allowed models, local-only) still decides what each channel may use.")
    return "\n".join(lines)


@command(
    "prefs",
    "!prefs [last on|off | clear]",
    "Your own settings: your default model for new threads (`!model NAME --mine`), and whether new threads "
    "start where you left off (on the model you used last).",
)
async def prefs_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    words = args.lower().split()
    person = person_of(ctx)
    if not words:
        yield Reply(settings_text(ctx, await preference_async(person)), kind="info", ephemeral=True)
    elif len(words) == 2 and words[0] == "last" and words[1] in ("on", "off"):
        mine = await set_follow_last_async(person, words[1] == "on")
        if mine.follow_last:
            text = "Your new threads will start on the model you used last" + (
                f" ({mine.last_model})." if mine.last_model else "; you have not used one yet."
            )
        else:
            text = "Your new threads no longer start on the model you used last."
        yield Reply(text + start_line(ctx, mine), kind="info", ephemeral=True)
    elif words == ["clear"]:
        await clear_async(person)
        yield Reply(
            "Your settings are cleared: your new threads start on this channel's default again.",
            kind="info",
            ephemeral=True,
        )
    else:
        yield Reply(f"`!prefs {args}` is not something I know. {USAGE}", kind="error", ephemeral=True)
