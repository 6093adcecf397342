"""The one entry point adapters call: `handle(IncomingMessage)` yields what the user should see.

A turn: store the message (idempotent on its event id) and claim the reply, pick the model, route it with its
fallback chain, stream the text, then store the reply with model, tokens, cost, latency and status. Whatever
happens (a provider error, a crash in our code, the adapter cancelling), the reply row ends in a final status
and what was already streamed is kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

from core import attachments as files
from core import commands
from core.budgets.gate import budgeter_for
from core.commands.system import applied_note
from core.config.chains import chain_for
from core.config.people import Person, preference_async
from core.config.scopes import Policy, ScopeKey, effective_instructions
from core.models import stats
from core.models.registry import ModelInfo
from core.prose import clause
from core.render import render_footer
from core.routing import tool_loop
from core.routing.policy import (
    choose_model,
    local_suggestions,
    source_label,
    tool_suggestions,
    vision_suggestions,
)
from core.routing.route import Attempt, RouteOutcome, RouteSpec, Writing, template_for
from core.routing.strategy import plan_chain
from core.settings import get_settings
from core.snapshot import Snapshot, current_async
from core.threads import aio as threads
from core.threads import conversations, order, recovery
from core.threads.conversations import TurnStart as TurnStart  # what `receive` stored: adapters take it from here
from core.types import (
    Accepted,
    Delta,
    Done,
    Event,
    HistoryTurn,
    IncomingMessage,
    Notice,
    Reply,
    Thinking,
    ToolActivity,
    TurnResult,
)

log = logging.getLogger(__name__)
SAVE_PARTIAL_EVERY_S = 2.0
STATS_EVERY_S = 30.0
_stats_due: dict[str, float] = {}


async def receive(msg: IncomingMessage) -> TurnStart | None:
    """Store a message the moment it arrives, before its platform is told it was received (Slack's ack): what
    `handle` stores first, done ahead, so a process that dies after telling loses nothing (the crash rules answer
    for its claimed reply). Hand the result to `handle`. None: nothing to store ahead."""
    text = msg.text.strip()
    if (not text and not msg.files) or len(text) > get_settings().max_message_chars:
        return None
    if not text or commands.parse(text) is None:
        return await threads.receive_turn(msg)
    return await threads.receive_turn(msg, role="command", claim_reply=False) if msg.thread else None


async def handle(msg: IncomingMessage, received: TurnStart | None = None) -> AsyncGenerator[Event, None]:
    """Answer one incoming message: a command's reply, or a model's streamed reply ending in Done. `received`:
    what `receive` stored for this delivery of it (None: store it now)."""
    text = msg.text.strip()
    if not text and not msg.files:
        return
    limit = get_settings().max_message_chars
    if len(text) > limit:
        if msg.thread:  # the thread is a conversation all the same: a shorter message there is answered
            await threads.conversation_for(msg)
        yield Reply(
            f"Your message is {len(text):,} characters; the limit is {limit:,}. Nothing was sent to a model. "
            "Split it into smaller messages, or attach the text as a file and summarise what you need.",
            kind="error",
        )
        return
    parsed = commands.parse(text) if text else None
    # aclosing: when the adapter stops reading, the inner generators must finish (and store) right away
    answer = _command(msg, *parsed, received) if parsed is not None else _turn(msg, received)
    async with aclosing(answer) as events:
        async for event in events:
            yield event


async def _command(
    msg: IncomingMessage, name: str, args: str, received: TurnStart | None
) -> AsyncGenerator[Event, None]:
    conversation = None
    if msg.thread:
        start = received or await threads.start_turn(msg, role="command", claim_reply=False)
        if start.user_message_id is None:
            return  # a redelivery of a command we already answered
        conversation = start.conversation
        notice = await _pending_notice(conversation)
        if notice is not None and name != "retry":  # a retry is the answer to the notice
            yield notice
    if name == "retry" and conversation is not None:
        async with aclosing(_retry(msg, conversation)) as events:
            async for event in events:
                yield event
        return
    if name in ("confirm", "cancel"):  # answers to a confirmation: they resume (or drop) a turn
        async with aclosing(_confirmation(msg, name, args, conversation)) as events:
            async for event in events:
                yield event
        return
    snap = await current_async()
    async for event in commands.run(name, args, commands.Context(msg, snap, conversation)):
        yield event


async def _confirmation(
    msg: IncomingMessage, name: str, args: str, conv: conversations.ConversationRef | None
) -> AsyncGenerator[Event, None]:
    """`!confirm` / `!cancel`: the answer to an expensive reply's question, or to a tool's request for consent
    (`!confirm always`: the tool may run for the rest of the thread; `!cancel`: the model is told it was declined
    and answers without it)."""
    if conv is None:
        yield Reply(f"`!{name}` answers a confirmation inside a thread.", kind="error", ephemeral=True)
        return
    if await threads.parked_for_consent(conv.id):
        reply_id = await threads.claim_confirmation(conv.id)
        if reply_id is None:
            yield Reply("Nothing is waiting for confirmation in this thread.", kind="info", ephemeral=True)
            return
        consent = "declined" if name == "cancel" else "always" if args.strip().lower() == "always" else "once"
        async with aclosing(_answer(msg, conv, reply_id, created=False, consent=consent)) as events:
            async for event in events:
                yield event
        return
    if name == "cancel":
        cancelled = await threads.cancel_confirmation(conv.id)
        yield Reply(
            "Cancelled: nothing was sent to a model." if cancelled else "Nothing is waiting for confirmation.",
            kind="info",
        )
        return
    reply_id = await threads.claim_confirmation(conv.id)
    if reply_id is None:
        yield Reply("Nothing is waiting for confirmation in this thread.", kind="info", ephemeral=True)
        return
    async with aclosing(_answer(msg, conv, reply_id, created=False, confirmed=True)) as events:
        async for event in events:
            yield event


async def _pending_notice(conv: conversations.ConversationRef) -> Notice | None:
    """What the thread must be told first, taken (so said once); no query when the conversation row had none."""
    if not conv.pending_notice:
        return None
    text = await threads.take_notice(conv.id)
    return Notice(text) if text else None


async def _retry(msg: IncomingMessage, conv: conversations.ConversationRef) -> AsyncGenerator[Event, None]:
    """Answer the thread's last message again (after a reply was cut off, interrupted or failed)."""
    history = await threads.history(conv.id)
    if not any(turn.role == "user" for turn in history):
        yield Reply("There is nothing to answer again in this thread yet.", kind="info", ephemeral=True)
        return
    reply_id = await threads.claim_reply(conv.id, msg.event_id, msg.user)
    if reply_id is None:
        return  # a redelivered `!retry`: its answer is already claimed
    async with aclosing(_answer(msg, conv, reply_id, created=False, history=history)) as events:
        async for event in events:
            yield event


async def _turn(msg: IncomingMessage, received: TurnStart | None) -> AsyncGenerator[Event, None]:
    start = received or await threads.receive_turn(msg)
    if start.reply_id is None:
        return  # duplicate delivery: stored nothing, answer nothing
    yield Accepted()
    if msg.files and start.user_message_id is not None:
        try:
            await files.take_in(msg.files, start.user_message_id, start.conversation.id)
        except files.FileRefused as refused:  # kept nothing, sent nothing: the message stays, unanswered
            await threads.drop_reply(start.reply_id)
            order.turn_ended(start.conversation.id)
            yield Reply(str(refused), kind="error")
            return
    notice = await _pending_notice(start.conversation)  # e.g. the previous reply was interrupted: say so first
    if notice is not None:
        yield notice
    answer = _answer(msg, start.conversation, start.reply_id, created=start.created, behind=start.behind)
    async with aclosing(answer) as events:
        async for event in events:
            yield event


def _spec(
    msg: IncomingMessage,
    conv: conversations.ConversationRef,
    snap: Snapshot,
    model: ModelInfo,
    policy: Policy,
    confirmed: bool,
    reply_id: int,
    needs_vision: bool = False,
) -> RouteSpec:
    key = ScopeKey(msg.platform, msg.workspace, msg.channel)
    chain = chain_for(snap.chains, model.name, key)
    settings = get_settings()
    budgeter = budgeter_for(
        snap.budgets,
        msg,
        model,
        policy,  # the policy choose_model resolved: once per turn
        confirmed=confirmed,
        local_models=lambda: local_suggestions(snap, policy),
        message_key=conversations.budget_key(reply_id),
        rate_limits=snap.rate_limits,
    )
    listed = [m for m in (snap.model(n) for n in (chain.models if chain else ())) if m and m.name != model.name]
    plan = plan_chain(chain, listed, snap.measured)  # the thread's own model stays first (core.routing.strategy)
    return RouteSpec(
        target=model,
        chain=plan.models,
        chain_why=plan.why,
        held_back=plan.held_back,
        allow_paid=bool(chain and chain.allow_paid),
        content_policy_rule=(chain.content_policy_rule if chain and chain.content_policy_rule else None)
        or settings.content_policy_rule,
        instructions=effective_instructions(key, snap.scope_rows).for_thread(conv.system_prompt, conv.preset),
        variables=(("platform", msg.platform), ("user", msg.user_name or msg.user), ("channel", msg.channel)),
        budgeter=budgeter,
        needs_vision=needs_vision,
    )


async def _answer(
    msg: IncomingMessage,
    conv: conversations.ConversationRef,
    reply_id: int,
    *,
    created: bool,
    confirmed: bool = False,
    history: list[HistoryTurn] | None = None,
    behind: bool = True,
    consent: str | None = None,
) -> AsyncGenerator[Event, None]:
    """Answer the thread's latest message into the claimed reply row, after the thread's earlier turns
    (`behind`: one may still be running; see core.threads.order). `consent`: the user's answer to the tool
    request this reply was parked with (core.routing.tool_loop)."""
    try:
        async with recovery.kept_alive(reply_id):  # so it is never taken for a dead process's, however long
            if behind and await order.wait_for_earlier(conv.id, reply_id):
                fresh = await threads.conversation_ref(conv.id)
                conv = fresh or conv  # the earlier turn may have pinned the model, `!model` may have switched it
            answer = _answer_now(msg, conv, reply_id, created, confirmed, history, consent)
            async with aclosing(answer) as events:
                async for event in events:
                    yield event
    finally:
        order.turn_ended(conv.id)


async def _answer_now(
    msg: IncomingMessage,
    conv: conversations.ConversationRef,
    reply_id: int,
    created: bool,
    confirmed: bool,
    history: list[HistoryTurn] | None,
    consent: str | None = None,
) -> AsyncGenerator[Event, None]:
    snap = await current_async()
    person = Person(msg.platform, msg.workspace, msg.user)
    mine = None if conv.current_model else await preference_async(person)  # a new thread starts on its asker's own
    choice = choose_model(snap, conv.current_model, ScopeKey(msg.platform, msg.workspace, msg.channel), mine)
    if choice.note:  # their own model was skipped: admin policy wins, but never silently
        yield Notice(choice.note)
    if choice.model is None:
        await threads.drop_reply(reply_id)
        yield Reply(choice.refusal or "No model is available here.", kind="refusal")
        return
    model = choice.model
    pin = model.name if conv.current_model is None else None  # a thread keeps the model it started with
    if history is None:
        fresh = created and not msg.files  # a new thread's history is this message (its files: read them back)
        history = [HistoryTurn("user", msg.text)] if fresh else await threads.history(conv.id, before=reply_id)
    while history and history[-1].role == "assistant":  # a retry answers the last message again
        history.pop()
    needs_vision = bool(history) and files.has_images(history[-1])
    first_reply = not any(turn.role == "assistant" for turn in history)
    if needs_vision and not model.supports_vision:  # never sent blind: the image is what was asked about
        await threads.drop_reply(reply_id)
        yield Reply(_no_vision_text(snap, model, choice.policy), kind="refusal")
        return
    spec = _spec(msg, conv, snap, model, choice.policy, confirmed, reply_id, needs_vision)
    here = tool_loop.available(snap, ScopeKey(msg.platform, msg.workspace, msg.channel), conv.preset)
    notes = _tool_notes(conv, here, model, snap, choice.policy)
    if notes:  # none, almost always: then no query
        await threads.note_tools(conv.id, [key for key, _ in notes])
        for _, text in notes:
            yield Notice(text)
    resumed = confirmed or consent is not None  # a parked reply answered: it goes on from its stored rounds
    tool_turn = tool_loop.ToolTurn(conv.id, reply_id, msg.user, consent, resumed)
    writing = model
    streamed: list[str] = []
    thoughts: list[str] = []  # kept with an interrupted reply, like its text
    show_thinking = choice.policy.show_reasoning  # off: stored and counted all the same, only not shown
    finished = False
    shown_as: str | None = None  # the status of a reply stored but not yet released (see below)
    last_save = time.monotonic()
    try:
        async with aclosing(tool_loop.answer(spec, history, snap, tool_turn, here)) as routed:
            async for event in routed:
                if isinstance(event, ToolActivity):
                    yield event
                    continue
                if isinstance(event, tool_loop.Parked):  # a tool waits for the user's OK (or a round's cost)
                    finished = True
                    await threads.await_confirmation(reply_id, event.reply.text)
                    yield event.reply
                    return
                if isinstance(event, Delta | Thinking):
                    if isinstance(event, Delta):
                        streamed.append(event.text)
                        yield event
                    else:
                        thoughts.append(event.text)
                        if show_thinking:
                            yield event
                    if time.monotonic() - last_save > SAVE_PARTIAL_EVERY_S:
                        last_save = time.monotonic()
                        await threads.save_partial(reply_id, "".join(streamed), "".join(thoughts))
                    continue
                if isinstance(event, Notice):
                    yield event
                    continue
                if isinstance(event, Writing):
                    writing = event.model
                    await threads.save_attempt(reply_id, writing.name, writing.provider)
                    continue
                outcome: RouteOutcome = event
                if outcome.refusal is not None:  # the budget gate said no (or asks first): nothing was called
                    finished = True
                    if outcome.refusal.kind == "confirm":
                        await threads.await_confirmation(reply_id, outcome.refusal.text)
                    else:
                        await threads.drop_reply(reply_id)
                    yield outcome.refusal
                    return
                # said once, with no flag to store: every later reply of the thread has this one before it
                if first_reply and outcome.result.status != "error" and spec.instructions:
                    yield Notice(applied_note(spec.instructions, template_for(snap, writing)))
                if outcome.dropped_turns and not conv.trim_notified:
                    await threads.mark_trim_notified(conv.id)
                    yield Notice(
                        f"Older messages of this thread ({outcome.dropped_turns}) were left out so the conversation "
                        f"fits {outcome.result.model or model.name}'s context window."
                    )
                failed_attempts = [  # failed attempts are usage facts too (error rates, health)
                    TurnResult(
                        model=a.model,
                        provider=a.provider,
                        status="error",
                        error=a.error.message,
                        latency_ms=a.latency_ms,
                        cost_usd=0.0,
                    )
                    for a in outcome.failures
                ]
                # Stored with what it cost, but still pending: it is shown, then charged (route's gate settles once
                # this loop has it), then released, and only then does the thread's next turn start, in any process,
                # so that never shows above this one. A process that dies before the release leaves this cost for the
                # crash rules to charge (if the gate had not) and the thread to be told.
                result = outcome.result
                used = (person, model.name) if result.status != "error" else None  # for "start where I left off"
                await threads.finish_turn(
                    conv.id,
                    reply_id,
                    outcome.stored or result,
                    failed_attempts,
                    msg.user,
                    pin,
                    shown=False,
                    last_used=used,
                )
                finished, shown_as = True, result.status
                _refresh_stats_soon(outcome)
                if result.status == "error":
                    yield Reply(_failure_text(result, outcome.failures), kind="error")
                footer = render_footer(result)
                if pin and choice.source == "local" and result.model == model.name:
                    footer += " · chosen as the free local default (no default is set here; `!model NAME` switches)"
                elif pin and choice.source in ("personal", "last") and result.model == model.name:
                    footer += f" · {source_label(choice.source)} (`!prefs` shows your settings)"
                yield Done(result, footer)
        if shown_as is not None:  # shown, and charged as the route ended
            await threads.release_reply(reply_id, shown_as)
            shown_as = None
    except Exception:
        log.exception("turn failed in conversation %s", conv.id)
        failed = TurnResult(
            model=None,
            provider=None,
            status="error",
            text="".join(streamed),
            error="internal error while writing the reply",
        )
        await threads.finish_reply(reply_id, failed)
        finished = True
        yield Reply(
            "Something went wrong on our side while writing the reply. Your message is saved; "
            "send it again or try another model with `!model NAME`.",
            kind="error",
        )
    finally:
        if shown_as is not None:  # the adapter stopped reading while showing it: the reply is stored all the same
            conversations.release_reply(reply_id, shown_as)
        if not finished:  # cancelled, or the adapter stopped reading: keep what was streamed
            conversations.finish_reply(
                reply_id,
                TurnResult(
                    model=writing.name,
                    provider=writing.provider,
                    status="interrupted",
                    text="".join(streamed),
                    error="the reply was interrupted before it finished",
                    reasoning="".join(thoughts),
                ),
            )


def _tool_notes(
    conv: conversations.ConversationRef, here: tool_loop.Available, model: ModelInfo, snap: Snapshot, policy: Policy
) -> list[tuple[str, str]]:
    """What the thread is told, once each (stored with the conversation, so on any worker), of tools it cannot use
    now: its model cannot call tools, or a server is down. (key, text) pairs."""
    notes = []
    if here.tools and not model.supports_tools and f"model:{model.name}" not in conv.tool_notes:
        able = tool_suggestions(snap, policy, most=3)
        names = f" Models here that can: {', '.join(f'`{n}`' for n in able)} (`!model NAME` switches)." if able else ""
        text = f"Tools are enabled here, but {model.name} cannot call tools, so it answers without them.{names}"
        notes.append((f"model:{model.name}", text))
    for server in here.down:
        if f"down:{server.name}" not in conv.tool_notes:
            why = f" ({server.last_check_error})" if server.last_check_error else ""
            text = f"The tools of `{server.name}` are unavailable: its server is down{why}. An admin has been told."
            notes.append((f"down:{server.name}", text))
    return notes


def _no_vision_text(snap: Snapshot, model: ModelInfo, policy: Policy) -> str:
    able = vision_suggestions(snap, policy)
    where = (
        f" Models here that can: {', '.join(f'`{n}`' for n in able)}. Switch with `!model NAME`, then send `!retry`."
        if able
        else " No model that can see images is available here; an admin can add one (for example an Ollama vision "
        "model such as llava)."
    )
    return f"{model.name} cannot see images, so your message was not sent to it.{where}"


def _failure_text(result: TurnResult, failures: list[Attempt]) -> str:
    rejected = sorted({a.provider for a in failures if a.error.kind == "auth"})
    if failures and len(rejected) == len({a.provider for a in failures}):  # trying again cannot help
        names = ", ".join(f"'{p}'" for p in rejected)
        return (
            f"Sorry, no model could answer: {clause(result.error or 'the API key was rejected')}. The provider "
            f"{names} rejected its API key, so trying again will not help: an admin needs to set a valid key "
            "(the admin's Providers page). Meanwhile, switch with `!model NAME` (see `!models`)."
        )
    return (
        f"Sorry, no model could answer. {clause(result.error or 'no model could be tried')}. "
        "Try again in a moment, or switch with `!model NAME` (see `!models`)."
    )


def _refresh_stats_soon(outcome: RouteOutcome) -> None:
    """Roll the answering model's latency stats now and then (also done by the scheduler)."""
    names = {a.model for a in outcome.failures} | ({outcome.result.model} if outcome.result.model else set())
    now = time.monotonic()
    due = [n for n in names if now - _stats_due.get(n, 0.0) > STATS_EVERY_S]
    for n in due:
        _stats_due[n] = now
    if due:
        asyncio.get_running_loop().run_in_executor(None, stats.update_stats, due)
