"""Replies a dead process left half-written: charge what was streamed, keep who wrote it, tell the thread.

A process killed mid-reply leaves its reply row `pending`, with the model that was writing it and the text
saved every couple of seconds. A live process renews the claim of every reply it holds (waiting its turn,
writing, showing) every third of SWITCHBOARD_STALE_REPLY_MINUTES (`kept_alive`); once a pending reply's claim has
not been renewed for that long, its process died, and the scheduler prices the saved text (and the conversation
that was sent) with the model's price, charges it to the budgets the reply had reserved against (held or already
expired), and leaves the thread a notice: the chat bots post it within seconds (core/threads/notices.py), else the
thread's next message shows it first. Text streamed after the last save is lost, so the charge can fall short by
those few seconds. A reply that was finished and stored but not yet shown when its process died is charged the cost
stored with it (the budget gate settles a reply only after it has been stored and shown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from core.attachments import with_files
from core.budgets import ledger
from core.budgets.gate import check_thresholds
from core.budgets.store import MICROS, list_budgets
from core.formatting import money
from core.models.registry import ModelInfo
from core.providers import llm
from core.settings import get_settings
from core.snapshot import current
from core.storage.db import off_loop
from core.threads import conversations
from core.types import TurnResult

log = logging.getLogger(__name__)
# Renewals run on a thread of their own: queued behind a busy process's storage calls (the shared pool of
# asyncio.to_thread), a live process's claims went stale and were taken for a dead one's (found by the soak).
_renew_claim = off_loop(conversations.keep_alive, ThreadPoolExecutor(max_workers=1, thread_name_prefix="claim-renewal"))


@contextlib.asynccontextmanager
async def kept_alive(reply_id: int) -> AsyncIterator[None]:
    """While the block runs, renew the reply's claim every third of SWITCHBOARD_STALE_REPLY_MINUTES, so however
    long it waits for its turn or takes to write, it is never taken for a dead process's."""

    async def renew(every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await _renew_claim(reply_id)
            except Exception:  # a database hiccup: the next round tries again
                log.warning("could not renew the claim of reply %s", reply_id, exc_info=True)

    task = asyncio.create_task(renew(get_settings().stale_reply_minutes * 60 / 3))
    try:
        yield
    finally:
        task.cancel()


def _priced(reply: conversations.StaleReply, model: ModelInfo | None) -> TurnResult:
    error = "The process writing this reply stopped before it finished."
    if reply.cost_usd is not None:  # finished and stored (and charged), but not shown: what it really cost
        return TurnResult(
            model=reply.model,
            provider=reply.provider,
            status="interrupted",
            prompt_tokens=reply.prompt_tokens or 0,
            completion_tokens=reply.completion_tokens or 0,
            cost_usd=reply.cost_usd,
            error=error,
            is_local=bool(model and model.is_local),
        )
    if model is None:  # nothing was sent to a model, or the model is gone from the registry: no price to use
        return TurnResult(model=reply.model, provider=None, status="interrupted", error=error)
    history = conversations.history(reply.conversation_id, before=reply.id)
    # text files are counted with their turn; images are not (their bytes are not loaded for an estimate)
    prompt = llm.count_tokens(model.litellm_name, [{"role": t.role, "content": with_files(t)} for t in history])
    completion = llm.count_text_tokens(model.litellm_name, reply.content) if reply.content else 0
    thought = llm.count_text_tokens(model.litellm_name, reply.reasoning) if reply.reasoning else None
    completion += thought or 0  # a reasoning model's thinking is output it was paid for too
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
        reasoning_tokens=thought,
    )


def _notice(reply: conversations.StaleReply, result: TurnResult) -> str:
    charged = money(result.cost_usd, local=result.is_local)
    by = f" from {result.model}" if result.model else ""
    asked, latest = conversations.answering(reply.id)
    if latest:
        to, again = "the last message here", "Send `!retry` to get a full answer."
    else:  # `!retry` answers the thread's last message: name this one
        to, again = f"“{_opening(asked)}”", "Send it again to get a full answer."
    if reply.cost_usd is not None and reply.content:  # written in full; whether it was shown, only its process knew
        return (
            f"The reply{by} to {to} may not have been shown in full ({len(reply.content):,} characters, {charged}): "
            f"the process showing it stopped. {again}"
        )
    written = f"after {len(reply.content):,} characters (kept above; {charged} charged for them)"
    return (
        f"The reply{by} to {to} was interrupted {written if reply.content else 'before it wrote anything'}: the "
        f"process writing it stopped. {again}"
    )


def _opening(text: str, words: int = 8) -> str:
    """The opening words of a message, to say which one is meant."""
    head = text.split()
    return " ".join(head[:words]) + ("…" if len(head) > words else "")


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
