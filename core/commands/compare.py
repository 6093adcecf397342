"""`!compare MODEL_A MODEL_B [PROMPT]`: the same prompt on two models, side by side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from core.budgets.gate import budgeter_for
from core.commands.base import Context, command
from core.formatting import latency, money, tokens
from core.models.registry import ModelInfo, resolve_model
from core.routing.policy import allowed_here, local_suggestions
from core.routing.route import RouteOutcome, RouteSpec, route
from core.threads import aio as threads
from core.types import Comparison, Event, HistoryTurn, Notice, Reply, TurnResult


async def _answer(ctx: Context, model: ModelInfo, prompt: str) -> TurnResult:
    policy = ctx.policy
    spec = RouteSpec(
        target=model,
        variables=(("platform", ctx.msg.platform), ("user", ctx.msg.user_name)),
        # asking for a comparison is the explicit choice: budgets apply, the confirmation step does not
        budgeter=budgeter_for(
            ctx.snap.budgets,
            ctx.msg,
            model,
            policy,
            confirmed=True,
            local_models=lambda: local_suggestions(ctx.snap, policy),
            rate_limits=ctx.snap.rate_limits,
        ),
    )
    outcome: RouteOutcome | None = None
    async for event in route(spec, [HistoryTurn("user", prompt)], ctx.snap):
        if isinstance(event, RouteOutcome):
            outcome = event
    assert outcome is not None
    if outcome.refusal is not None:
        return TurnResult(model=None, provider=None, status="refused", error=outcome.refusal.text)
    return outcome.result


def _pick(ctx: Context, name: str) -> ModelInfo | str:
    res = resolve_model(name, ctx.snap.models)
    if res.model is None:
        near = [c.name for c in res.candidates] or list(res.suggestions)
        return f"'{name}' is " + (f"ambiguous or unknown; did you mean {', '.join(near[:3])}?" if near else "unknown")
    why = res.model.unusable_reason or allowed_here(res.model, ctx.policy)
    return f"{res.model.name} can't be used: {why}" if why else res.model


@command(
    "compare",
    "!compare MODEL_A MODEL_B [PROMPT]",
    "Run the same prompt (default: your last message) on two models and show both answers.",
)
async def compare_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    words = args.split(maxsplit=2)
    if len(words) < 2:
        yield Reply("Usage: `!compare MODEL_A MODEL_B [PROMPT]`.", kind="error", ephemeral=True)
        return
    picks = [_pick(ctx, words[0]), _pick(ctx, words[1])]
    problems = [p for p in picks if isinstance(p, str)]
    if problems:
        yield Reply("Can't compare: " + "; ".join(problems) + ".", kind="error", ephemeral=True)
        return
    models = [p for p in picks if not isinstance(p, str)]
    prompt = words[2] if len(words) > 2 else None
    if prompt is None and ctx.conversation is not None:
        prompt = await threads.last_user_text(ctx.conversation.id)
    if not prompt:
        yield Reply("Give a prompt: `!compare MODEL_A MODEL_B your question`.", kind="error", ephemeral=True)
        return
    yield Notice(f"Comparing {models[0].name} and {models[1].name}…")
    results = await asyncio.gather(*(_answer(ctx, m, prompt) for m in models))
    conv = ctx.conversation
    if conv is None:
        conv = await threads.conversation_for(ctx.msg)
    for r in results:  # counted in usage, kept out of the thread's history
        if r.model is not None:
            await threads.record_message(conv.id, r, role="compare", user=ctx.msg.user)
    sections = []
    for model, r in zip(models, results, strict=True):
        head = (
            f"**{r.model or model.name}** — {latency(r.latency_ms)} · {tokens(r.total_tokens)} · "
            f"{money(r.cost_usd, local=r.is_local)}"
        )
        body = (
            r.text
            if r.status in ("ok", "partial")
            else f"_{'refused' if r.status == 'refused' else 'failed'}: {r.error}_"
        )
        sections.append(f"{head}\n{body}")
    yield Reply("\n\n".join(sections), kind="compare", data=Comparison(prompt, tuple(results)))
