"""`!system [TEXT | clear]`: the instructions a thread's model is given, layer by layer, and a thread's own."""

from __future__ import annotations

from collections.abc import AsyncIterator

from core.commands.base import Context, command
from core.config.prompts import Layer, TemplateView
from core.config.scopes import Instructions, check_instructions, effective_instructions
from core.errors import UserError
from core.routing.policy import choose_model
from core.routing.route import template_for
from core.threads import aio as threads
from core.types import Event, Reply

ORDER = "workspace, then channel, then the preset's or the thread's own, then the model's template"


def applied_note(layers: tuple[Layer, ...], template: TemplateView | None) -> str:
    """The line under a thread's first reply: which instructions it was written under."""
    names = [layer.source for layer in layers] + ([f"template {template.name}"] if template else [])
    return f"Instructions: {', '.join(names)} (`!system` shows them)."


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.strip().splitlines())


def _who_decides(rules: Instructions) -> str:
    return f"an admin set this for {rules.thread_may_set_from}" if rules.thread_may_set_from else "the default"


@command(
    "system",
    "!system [TEXT | clear]",
    "Show the instructions this thread's model is given, layer by layer; set this thread's own, or clear them.",
)
async def system_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    rules = effective_instructions(ctx.key, ctx.snap.scope_rows)
    if not args:
        yield _show(ctx, rules)
        return
    if not ctx.in_thread or ctx.conversation is None:
        yield Reply(
            "A thread's own instructions are set inside the thread: `!system TEXT` there. Channel and workspace "
            "instructions are set by admins (the admin's Models page, or `switchboard defaults set --instructions`).",
            kind="error",
            ephemeral=True,
        )
        return
    conv = ctx.conversation
    if args.lower() == "clear":
        if not conv.system_prompt:
            yield Reply("This thread has no instructions of its own to clear.", kind="info", ephemeral=True)
            return
        await threads.set_thread_instructions(conv.id, None)
        gone = f"Preset `{conv.preset}`'s instructions no longer apply here" if conv.preset else "Cleared"
        yield Reply(f"{gone}: the thread has no instructions of its own now. `!system` shows those that apply.")
        return
    if not rules.thread_may_set:
        yield Reply(
            f"Threads here may not set their own instructions ({_who_decides(rules)}). Nothing was changed; "
            "`!system` shows the instructions that apply, and an admin can allow it on the Models page.",
            kind="refusal",
            ephemeral=True,
        )
        return
    try:
        text = check_instructions(args)
    except UserError as err:
        yield Reply(str(err), kind="error", ephemeral=True)
        return
    await threads.set_thread_instructions(conv.id, text)
    replaced = f" They take the place of preset `{conv.preset}`'s (the thread keeps its model)." if conv.preset else ""
    yield Reply(
        "This thread's own instructions are set. The model reads them after the workspace's and channel's and before "
        f"its template.{replaced} `!system` shows them all; `!system clear` removes them.",
        kind="info",
    )


def _show(ctx: Context, rules: Instructions) -> Reply:
    conv = ctx.conversation if ctx.in_thread else None
    layers = rules.for_thread(conv.system_prompt, conv.preset) if conv else rules.layers
    choice = choose_model(ctx.snap, conv.current_model if conv else None, ctx.key)
    template = template_for(ctx.snap, choice.model) if choice.model else None
    where = "this thread" if conv else "new threads in this channel"
    sections = [f"**{layer.source[:1].upper()}{layer.source[1:]}**\n{_quoted(layer.text)}" for layer in layers]
    if template is not None and choice.model is not None:
        sections.append(f"**Template {template.name}** (for {choice.model.name})\n{_quoted(template.system_prompt)}")
    if sections:
        head = f"**Instructions for {where}**, in the order the model reads them ({ORDER}):"
    else:
        head = f"No instructions apply to {where}: the model is given none."
    if conv and conv.system_prompt and not conv.preset and not rules.thread_may_set:
        sections.append(
            f"This thread's own instructions are not sent: threads here may not set their own ({_who_decides(rules)})."
        )
    elif rules.thread_may_set:
        sections.append("A thread may set its own with `!system TEXT` and remove them with `!system clear`.")
    else:
        sections.append(f"Threads here may not set their own instructions ({_who_decides(rules)}).")
    return Reply("\n\n".join([head, *sections]), kind="info", ephemeral=not ctx.in_thread)
