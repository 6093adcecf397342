"""`!usage`, `!preset [NAME]` and `!help`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from core.commands.base import COMMANDS, Context, command
from core.formatting import money, tokens
from core.reports.usage import usage_report
from core.routing.policy import allowed_here
from core.threads import aio as threads
from core.types import Event, ModelChosen, Reply, UsageSum


def _line(label: str, u: UsageSum) -> str:
    unknown = f" (+{u.unknown_cost_replies} replies of unknown price)" if u.unknown_cost_replies else ""
    replies = f"{u.replies} reply" if u.replies == 1 else f"{u.replies} replies"
    return f"• {label}: {replies} · {tokens(u.tokens)} · {money(u.cost_usd)}{unknown}"


@command("usage", "!usage", "Tokens and cost of this thread, this channel and you.")
async def usage_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    m = ctx.msg
    conversation_id = ctx.conversation.id if ctx.conversation else None
    report = await asyncio.to_thread(usage_report, conversation_id, m.platform, m.workspace, m.channel, m.user)
    lines = ["**Usage**"]
    if report.thread is not None:
        lines.append(_line("This thread", report.thread))
    lines += [_line("This channel", report.channel), _line("You, in this workspace", report.user)]
    yield Reply("\n".join(lines), kind="usage", data=report, ephemeral=True)


@command("preset", "!preset [NAME]", "Apply a named model and system prompt (admins define presets).")
async def preset_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    presets = ctx.snap.presets
    if not args:
        if not presets:
            yield Reply(
                "No presets are defined yet. Admins can add them in the admin app or with `switchboard presets add`.",
                kind="info",
                ephemeral=True,
            )
            return
        lines = [
            f"• `{p.name}` — {p.model}" + (f": {p.description}" if p.description else "") for p in presets.values()
        ]
        yield Reply(
            "**Presets**\n" + "\n".join(lines) + "\nApply one with `!preset NAME`.",
            kind="info",
            ephemeral=True,
        )
        return
    preset = presets.get(args.lower())
    if preset is None:
        known = ", ".join(f"`{n}`" for n in presets) or "none yet"
        yield Reply(f"No preset called '{args}'. Presets: {known}.", kind="error", ephemeral=True)
        return
    if not ctx.in_thread or ctx.conversation is None:
        yield Reply("Presets apply to a thread: use `!preset NAME` inside the thread.", kind="error", ephemeral=True)
        return
    model = ctx.snap.model(preset.model)
    why = (model.unusable_reason or allowed_here(model, ctx.policy)) if model else "it is not in the registry"
    if model is None or why:
        yield Reply(
            f"Preset `{preset.name}` uses {preset.model}, which can't be used here: {why}.",
            kind="refusal",
            ephemeral=True,
        )
        return
    await threads.apply_preset(ctx.conversation.id, preset.name, model.name, preset.system_prompt)
    yield Reply(
        f"This thread now uses preset **{preset.name}**: {model.name}"
        + (" with its system prompt." if preset.system_prompt else "."),
        kind="model_set",
        data=ModelChosen(model.name, "thread", preset=preset.name),
    )


@command("help", "!help", "What each command does.")
async def help_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    lines = ["**Commands** (in a thread type them as `!command`; in a channel the slash commands work too)"]
    for spec in sorted(COMMANDS.values(), key=lambda s: s.name):
        if spec.admin_only and not ctx.is_admin:
            continue
        lines.append(f"• `{spec.usage}` — {spec.help}")
    yield Reply("\n".join(lines), kind="info", ephemeral=True)
