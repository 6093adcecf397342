"""Replies a dead process left half-written: charge what was streamed, keep who wrote it, tell the thread.

A process killed mid-reply leaves its reply row `pending`, with the model that was writing it and the text
saved every couple of seconds. Once such a row is older than SWITCHBOARD_STALE_REPLY_MINUTES, the scheduler
prices the saved text (and the conversation that was sent) with the model's price, charges it to the budgets the
reply had reserved against (held or already expired), and leaves the thread a notice: the chat bots post it
within seconds (core/threads/notices.py), else the thread's next message shows it first. Text streamed after the last
save is lost, so the charge can fall short by those few seconds.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from core.budgets import ledger
from core.budgets.gate import check_thresholds
from core.budgets.store import MICROS, list_budgets
from core.formatting import money
from core.models.registry import ModelInfo
from core.providers import llm
from core.settings import get_settings
from core.snapshot import current
from core.threads import conversations
from core.types import TurnResult

log = logging.getLogger(__name__)


def _priced(reply: conversations.StaleReply, model: ModelInfo | None) -> TurnResult:
    error = "The process writing this reply stopped before it finished."
    if model is None:  # nothing was sent to a model, or the model is gone from the registry: no price to use
        return TurnResult(model=reply.model, provider=None, status="interrupted", error=error)
    history = conversations.history(reply.conversation_id, before=reply.id)
    prompt = llm.count_tokens(model.litellm_name, [{"role": r, "content": c} for r, c in history])
    completion = llm.count_text_tokens(model.litellm_name, reply.content) if reply.content else 0
    cost = llm.cost_usd(model.litellm_name, prompt, completion, model.input_usd_per_mtok, model.output_usd_per_mtok)
    return TurnResult(
        model=model.name,
        provider=model.provider,
        status="interrupted",
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost,
        error=error,
        is_local=model.is_local,
    )


def _notice(reply: conversations.StaleReply, result: TurnResult) -> str:
    written = (
        f"after {len(reply.content):,} characters (kept above; {money(result.cost_usd, local=result.is_local)} "
        "charged for them)"
        if reply.content
        else "before it wrote anything"
    )
    by = f" from {result.model}" if result.model else ""
    return (
        f"The reply{by} to the last message here was interrupted {written}: the process writing it stopped. "
        "Send `!retry` to get a full answer."
    )


def recover_stale_replies(older_than: timedelta | None = None) -> int:
    """Settle every reply left pending by a dead process; returns how many. Safe to run in many processes."""
    older_than = older_than or timedelta(minutes=get_settings().stale_reply_minutes)
    stale = conversations.stale_replies(older_than)
    if not stale:
        return 0
    snap = current()
    done = 0
    for reply in stale:
        model = snap.model(reply.model)
        result = _priced(reply, model)
        if not conversations.interrupt_reply(reply.id, result, _notice(reply, result)):
            continue  # another process got to it first
        done += 1
        states = ledger.settle_orphaned(
            conversations.budget_key(reply.id),
            usd_micros=round((result.cost_usd or 0.0) * MICROS),
            tokens=result.total_tokens,
        )
        if states:
            by_id = {b.id: b for b in list_budgets()}
            pairs = [(by_id[s.budget_id], s) for s in states if s.budget_id in by_id]
            check_thresholds(pairs, get_settings().timezone)
    return done
