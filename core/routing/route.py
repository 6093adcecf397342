"""Routing a turn: context within the model's window, the model's prompt template, then the fallback chain.

litellm's Router (via core.providers.llm.Gateway) does retries per error type and virtual-model strategies. The chain is
walked here because each step depends on why the previous one failed: a context-window error needs a model
with a bigger window, an auth error rules out the provider's other models, a content-policy refusal follows
its configured rule, and only a chain that allows it moves a free thread onto a paid model.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from core import attachments as files
from core.attachments import ImagePart
from core.config.prompts import Layer, TemplateView, layered, pick_template, render
from core.models.registry import ModelInfo
from core.providers import llm
from core.providers.llm import Deployment, Gateway, LLMError, RetryRules, StreamEnd, ToolRequest
from core.providers.store import mark_unhealthy, provider_config
from core.routing.budget import UNBUDGETED, BudgetGate, BudgetHold
from core.routing.strategy import footer_note
from core.settings import get_settings
from core.snapshot import Snapshot
from core.tools.rounds import as_text
from core.types import Delta, HistoryTurn, Notice, Reply, Thinking, TurnResult

DEFAULT_WINDOW = 8192  # when nobody knows a model's window, assume a modest one rather than a huge one
PER_MESSAGE_OVERHEAD = 4


@dataclass(frozen=True)
class Attempt:
    model: str
    provider: str
    error: LLMError
    latency_ms: float


@dataclass(frozen=True)
class Writing:
    """An attempt is about to stream: which model writes the reply now (stored, so a crash can be charged)."""

    model: ModelInfo


@dataclass
class RouteOutcome:
    result: TurnResult
    failures: list[Attempt] = field(default_factory=list)
    dropped_turns: int = 0
    refusal: Reply | None = None  # the gate refused the model: show this instead (nothing was called)
    tool_calls: tuple[ToolRequest, ...] = ()  # the reply ended in these calls (core.routing.tool_loop runs them)
    stored: TurnResult | None = None  # what the reply row stores when it differs from `result` (a tool loop's last
    # round; `result` then adds up every round, for the footer)


@dataclass(frozen=True)
class RouteSpec:
    target: ModelInfo
    chain: tuple[ModelInfo, ...] = ()
    allow_paid: bool = False
    content_policy_rule: str = "stop"
    instructions: tuple[Layer, ...] = ()  # scope, then preset or thread (core.config.scopes.Instructions.for_thread)
    variables: tuple[tuple[str, str], ...] = ()
    budgeter: BudgetGate | None = None  # None: no budget or confirmation applies
    needs_vision: bool = False  # the turn brings images: only models that can see them may answer it
    chain_why: tuple[tuple[str, str], ...] = ()  # how the chain's strategy placed each model (core.routing.strategy)
    held_back: tuple[tuple[str, str], ...] = ()  # chain models over its thresholds (last in `chain`), and why
    tools: tuple[dict[str, Any], ...] = ()  # functions offered to the models that support tool calls
    tool_choice: str | None = None  # "none": offered, but the model must answer now (the last round)
    exchange: tuple[dict[str, Any], ...] = ()  # this turn's tool calls and results so far, after the history


# ---------------------------------------------------------------- the gateway, rebuilt on config change

_gateway_lock = threading.Lock()
_gateway: tuple[int, Gateway] | None = None


def gateway(snap: Snapshot) -> Gateway:
    """The litellm gateway for this config version (keys read from the secret store once per rebuild)."""
    global _gateway
    cached = _gateway
    if cached is not None and cached[0] == snap.version:
        return cached[1]
    with _gateway_lock:
        if _gateway is not None and _gateway[0] == snap.version:
            return _gateway[1]
        configs = {}
        deployments = []
        for m in snap.models:
            if m.provider_kind == "virtual" or not m.provider_enabled:
                continue
            if m.provider not in configs:
                configs[m.provider] = provider_config(m.provider)
            cfg = configs[m.provider]
            deployments.append(
                Deployment(
                    name=m.name,
                    litellm_name=m.litellm_name,
                    api_key=cfg.api_key or ("sk-no-key" if cfg.kind.name == "openai_compatible" else None),
                    api_base=cfg.url or None,
                    organization=cfg.organization,
                    extra_headers=tuple(sorted(cfg.extra_headers.items())),
                )
            )
        s = get_settings()
        built = Gateway(
            deployments,
            {v.name: (v.strategy, list(v.members)) for v in snap.virtual.values()},
            RetryRules(s.retries_rate_limit, s.retries_timeout, s.retries_server_error),
            s.request_timeout_s,
        )
        old, _gateway = _gateway, (snap.version, built)
        if old is not None:
            old[1].close()  # in-flight streams keep working; only the old routers' usage callbacks go
        return built


def reset_gateway() -> None:
    global _gateway
    with _gateway_lock:
        if _gateway is not None:
            _gateway[1].close()
        _gateway = None


# ---------------------------------------------------------------- context


@lru_cache(maxsize=20_000)
def _tokens(litellm_name: str, text: str) -> int:
    return llm.count_text_tokens(litellm_name, text) + PER_MESSAGE_OVERHEAD


def max_output_for(model: ModelInfo) -> int:
    wanted = get_settings().max_output_tokens
    window = model.context_window or DEFAULT_WINDOW
    return max(16, min(wanted, model.max_output or wanted, window // 2))


def template_for(snap: Snapshot, model: ModelInfo) -> TemplateView | None:
    """The prompt template of `model` (by its name, id, family or litellm name)."""
    return pick_template(snap.templates, model.name, model.model_id, model.family, model.litellm_name)


def system_prompt_for(spec: RouteSpec, snap: Snapshot, model: ModelInfo) -> str | None:
    """The layers in order: workspace (after a global one), channel, the preset's or the thread's own, then the
    model's template, joined as headed sections (core.config.prompts.layered).

    Widest first, so each narrower layer reads as refining what came before it: a channel's topic within the
    workspace's house rules, a person's request for their thread within both. The template comes last because it
    is about the model, not the place: how to talk to this family, which a fallback to another model changes while
    everything above it stays the same."""
    values = dict(spec.variables, model=model.name, provider=model.provider)
    template = template_for(snap, model)
    layers = [*spec.instructions, *([Layer("template", template.name, template.system_prompt)] if template else [])]
    return layered([Layer(x.kind, x.name, render(x.text, **values)) for x in layers])


def build_messages(
    model: ModelInfo,
    history: list[HistoryTurn],
    system_prompt: str | None,
    images: dict[int, ImagePart] | None = None,
    exchange: tuple[dict[str, Any], ...] = (),
) -> tuple[list[dict[str, Any]], int, int]:
    """Newest turns first, as many as fit the window minus the reserved output. Returns (messages, dropped, the
    prompt tokens of the images kept). A turn's files are part of it (core.attachments): text files and PDFs in
    its text, images as image parts for a vision model (`images`: those loaded for this request, with their
    estimated tokens), each counted with its turn; an earlier reply's tool calls are a note before its text
    (core.tools.rounds.as_text). `exchange` (this turn's tool calls and results) always goes last, whole."""
    window = model.context_window or DEFAULT_WINDOW
    budget = window - max_output_for(model) - 16
    head: list[dict[str, Any]] = []
    if system_prompt:
        head = [{"role": "system", "content": system_prompt}]
        budget -= _tokens(model.litellm_name, system_prompt)
    tail = list(exchange)
    if tail:
        budget -= llm.count_tokens(model.litellm_name, tail)
    given = [_given(t, images or {}, model.supports_vision) for t in history]
    texts = [_text_of(content) for content, _ in given]
    # Every token covers at least one byte, so when the bytes fit, the tokens fit: no need to count them.
    if (
        sum(len(t.encode()) + PER_MESSAGE_OVERHEAD + extra for t, (_, extra) in zip(texts, given, strict=True))
        <= budget
    ):
        everything = [{"role": t.role, "content": c} for t, (c, _) in zip(history, given, strict=True)]
        return head + everything + tail, 0, sum(extra for _, extra in given)
    kept: list[dict[str, Any]] = []
    pictured = 0
    for turn, text, (content, extra) in reversed(list(zip(history, texts, given, strict=True))):
        cost = _tokens(model.litellm_name, text) + extra
        if cost > budget:
            break
        budget -= cost
        pictured += extra
        kept.append({"role": turn.role, "content": content})
    if not kept and history:
        raise LLMError(
            "context_window",
            f"the message does not fit {model.name}'s {window:,}-token context window",
        )
    kept.reverse()
    return head + kept + tail, len(history) - len(kept), pictured


def _given(turn: HistoryTurn, images: dict[int, ImagePart], vision: bool) -> tuple[str | list[dict[str, Any]], int]:
    if turn.files:
        return files.content(turn, images, vision)
    if turn.tools:
        return f"{as_text(turn.tools)}\n\n{turn.content}", 0
    return turn.content, 0


def prompt_tokens_of(
    litellm_name: str, messages: list[dict[str, Any]], pictured: int, tools: list[dict[str, Any]] | None = None
) -> int:
    """The prompt's tokens: litellm's counter for its text, plus `pictured`, its images' stated estimate as
    build_messages kept them (core.attachments.image_tokens: litellm counts a data-URL image at the low-detail 85
    tokens, which would under-reserve a screenshot by a factor of ten or more)."""
    if pictured:
        messages = [
            {**m, "content": _text_of(m["content"])} if isinstance(m.get("content"), list) else m for m in messages
        ]
    return llm.count_tokens(litellm_name, messages, tools) + pictured


def _text_of(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content)


# ---------------------------------------------------------------- output within what is held


class _OutputFit:
    """Keeps a streamed reply within what its budget reservation holds, for any provider behaviour.

    A reservation covers `max_out` output tokens, which we ask the provider for. Tokenizers differ, so an honest
    reply may count a little over by ours: the hold then grows (atomically, like the reservation itself) in
    quarter steps up to twice `max_out`. A provider that ignores max_tokens is stopped there ("length"), or
    sooner where a hard budget cannot cover more ("budget"). Without a budget, only the ceiling applies.
    """

    def __init__(self, model: ModelInfo, max_out: int, hold: BudgetHold) -> None:
        self.cap = llm.OutputCap(model.litellm_name, max_out)
        self.ceiling = 2 * max_out
        self.step = max(16, max_out // 4)
        self.hold = hold

    async def take(self, piece: str) -> tuple[str, str | None]:
        """(the part of `piece` to show, why the reply must stop now or None)."""
        cap = self.cap
        shown = cap.take(piece)
        rest = piece[len(shown) :]
        while cap.full:
            if cap.limit >= self.ceiling:
                return shown, "length"
            more = min(self.step, self.ceiling - cap.limit)
            if not await self.hold.grow(more):
                return shown, "budget"
            cap.raise_limit(more)
            if not rest:
                break
            taken = cap.take(rest)
            shown, rest = shown + taken, rest[len(taken) :]
        return shown, None


# ---------------------------------------------------------------- the fallback walk


def _eligible(snap: Snapshot, spec: RouteSpec, m: ModelInfo, skip: set[str], need_window: int) -> bool:
    if not m.usable or m.provider in skip:
        return False
    if spec.needs_vision and not m.supports_vision:
        return False  # a turn with images is never moved to a model that cannot see them
    if spec.exchange and not m.supports_tools:
        return False  # a turn that has called tools goes on with a model that can read their results
    if m.is_paid and not spec.target.is_paid and not spec.allow_paid:
        return False  # a free thread only moves to a paid model where the chain says so
    provider = snap.providers.get(m.provider)
    if provider is not None and provider.last_check_ok is False and "authentic" in (provider.last_check_error or ""):
        return False
    return (m.context_window or DEFAULT_WINDOW) > need_window


async def route(
    spec: RouteSpec, history: list[HistoryTurn], snap: Snapshot
) -> AsyncGenerator[Delta | Thinking | Notice | Writing | RouteOutcome, None]:
    """Stream the reply of the first model in [target, *chain] that answers; ends with one RouteOutcome.

    Each attempt runs inside its budget gate (`spec.budgeter`, see core.routing.budget): admitted first
    (estimate, confirmation, reservation), then settled or released when the attempt ends, however it ends,
    also when the caller stops reading mid-stream.
    """
    await llm.ready()  # a worker that has just started may still be importing litellm (core.runtime)
    cached = _gateway
    # the gateway is rebuilt only when config changes; don't hop to a thread for the cached one
    gw = cached[1] if cached is not None and cached[0] == snap.version else await asyncio.to_thread(gateway, snap)
    gate = spec.budgeter or UNBUDGETED
    started = time.perf_counter()
    has_images = any(f.kind == "image" for t in history for f in t.files)
    images = await asyncio.to_thread(files.load_images, history) if has_images else {}
    failures: list[Attempt] = []
    skipped: list[str] = []
    skip: set[str] = set()
    need_window = 0
    dropped = 0
    rule = spec.content_policy_rule
    for index, model in enumerate((spec.target, *spec.chain)):
        if index > 0 and not _eligible(snap, spec, model, skip, need_window):
            continue
        attempt_started = time.perf_counter()
        text: list[str] = []
        thoughts: list[str] = []  # a reasoning model's thinking: shown apart, stored, never part of `text`
        ttft: float | None = None
        end: StreamEnd | None = None
        messages: list[dict[str, Any]] = []
        pictured = 0  # the prompt tokens of the images in `messages`
        failed: LLMError | None = None
        outcome: RouteOutcome | None = None
        offered = list(spec.tools) if spec.tools and model.supports_tools else None
        try:
            prompt = system_prompt_for(spec, snap, model)
            messages, dropped, pictured = build_messages(model, history, prompt, images, spec.exchange)
        except LLMError as err:
            failed = err
        else:
            max_out = max_output_for(model)
            # only a budget needs the prompt's tokens (to estimate the reply's cost)
            prompt_tokens = (
                prompt_tokens_of(model.litellm_name, messages, pictured, offered) if spec.budgeter is not None else 0
            )

            def cut() -> TurnResult:
                """What the attempt used when it is cut short: charged for what was really streamed. Called only
                while this iteration's gate closes, so it reads this attempt's text and ttft as they are then."""
                streamed, thought = "".join(text), "".join(thoughts)  # noqa: B023
                used = (model, spec, snap, messages, streamed, None, started, ttft, failures)  # noqa: B023
                return _result(*used, "interrupted", reasoning=thought, pictured=pictured)  # noqa: B023

            async with gate.attempt(model, prompt_tokens, max_out, primary=index == 0, if_cut=cut) as hold:
                if hold.refusal is not None:
                    if index == 0:
                        refused = TurnResult(model=None, provider=None, status="refused", error=hold.refusal.text)
                        outcome = RouteOutcome(refused, failures, dropped, refusal=hold.refusal)
                    else:
                        skipped.append(f"{model.name}: {hold.refusal.text}")
                else:
                    if hold.notice:
                        yield Notice(hold.notice)
                    yield Writing(model)
                    fit = _OutputFit(model, max_out, hold)
                    try:
                        wrote = gw.stream(
                            model.name, messages, max_tokens=max_out, tools=offered, tool_choice=spec.tool_choice
                        )
                        async with aclosing(wrote) as pieces:
                            async for piece in pieces:
                                if isinstance(piece, StreamEnd):
                                    end = piece
                                    continue
                                # Thinking is billed as output tokens and a provider's max_tokens covers it too
                                # (OpenAI's reasoning models, DeepSeek), so it fills the same hold as the answer:
                                # counted apart, a model could think past what its reservation covers, uncharged.
                                # The price: a model that thinks at length may stop ("length") before it answers.
                                thinking = isinstance(piece, llm.ReasoningPiece)
                                shown, stop = await fit.take(piece)
                                if shown:
                                    if ttft is None:  # the model's first token, thought or answer
                                        ttft = (time.perf_counter() - started) * 1000
                                    if thinking:
                                        thoughts.append(shown)
                                        yield Thinking(shown)
                                    else:
                                        text.append(shown)
                                        yield Delta(shown)
                                if stop is not None:  # past what may be streamed: stop reading (closes the stream)
                                    end = StreamEnd(None, None, stop, None)
                                    break
                    except LLMError as err:
                        if text or err.partial_text:  # the user already saw part of it: no restart on another model
                            partial = _result(
                                model,
                                spec,
                                snap,
                                messages,
                                "".join(text),
                                None,
                                started,
                                ttft,
                                failures,
                                "partial",
                                error=err.message,
                                reasoning="".join(thoughts),
                                pictured=pictured,
                            )
                            hold.record(partial)
                            outcome = RouteOutcome(partial, failures, dropped)
                        else:
                            failed = err  # nothing recorded: leaving the gate releases the reservation
                    else:
                        answer, thought = "".join(text), "".join(thoughts)
                        used = (model, spec, snap, messages, answer, end, started, ttft, failures)
                        result = _result(*used, "ok", reasoning=thought, pictured=pictured)
                        hold.record(result)
                        outcome = RouteOutcome(result, failures, dropped, tool_calls=end.tool_calls if end else ())
                    if outcome is not None:
                        # Heard before the gate settles: the caller stores the reply with its cost (and shows it) before
                        # it reads on, which settles it, so a process that dies in between leaves a stored cost for the
                        # crash rules to charge, never a charge without one. A caller that stops reading here still has
                        # it settled as recorded.
                        yield outcome
                        return
            # refused, or failed without a word: the gate is closed (released) before anyone hears of it
        if outcome is not None:
            yield outcome
            return
        if failed is None:  # refused by the gate on a fallback model: try the next one
            continue
        latency = (time.perf_counter() - attempt_started) * 1000
        failures.append(Attempt(model.name, model.provider, failed, latency))
        if failed.kind == "auth":
            skip.add(model.provider)
            await asyncio.to_thread(mark_unhealthy, model.provider, f"authentication failed: {failed.message}")
        elif failed.kind == "context_window":
            need_window = max(need_window, model.context_window or DEFAULT_WINDOW)
        elif failed.kind == "content_policy" and rule != "fallback":
            break
    reasons = [f"{a.model}: {a.error.message}" for a in failures] + skipped
    yield RouteOutcome(
        TurnResult(
            model=None,
            provider=None,
            status="error",
            error="; ".join(reasons) or "no model could be tried",
            latency_ms=(time.perf_counter() - started) * 1000,
            fallback_from=spec.target.name if failures else None,
        ),
        failures,
        dropped,
    )


def _result(
    model: ModelInfo,
    spec: RouteSpec,
    snap: Snapshot,
    messages: list[dict[str, Any]],
    text: str,
    end: StreamEnd | None,
    started: float,
    ttft: float | None,
    failures: list[Attempt],
    status: str,
    error: str | None = None,
    reasoning: str = "",
    pictured: int = 0,
) -> TurnResult:
    served = model
    via = None
    if model.provider_kind == "virtual":
        member = snap.model(end.served_by if end else None)
        if member is not None:
            served, via = member, model.name
    prompt = (
        end.prompt_tokens if end and end.prompt_tokens else prompt_tokens_of(served.litellm_name, messages, pictured)
    )
    reasoning_tokens = (
        end.reasoning_tokens
        if end and end.reasoning_tokens is not None
        else (llm.count_text_tokens(served.litellm_name, reasoning) if reasoning else None)
    )
    # A provider's completion_tokens already include the thinking (OpenAI's usage: reasoning_tokens are a part of
    # them, in completion_tokens_details), so they are not added again; only a count of our own adds them.
    calls = " ".join(f"{c.name} {c.arguments}" for c in end.tool_calls) if end else ""
    completion = (
        end.completion_tokens
        if end and end.completion_tokens is not None
        else sum(llm.count_text_tokens(served.litellm_name, t) for t in (text, calls) if t) + (reasoning_tokens or 0)
    )
    cost = llm.cost_usd(served.litellm_name, prompt, completion, served.input_usd_per_mtok, served.output_usd_per_mtok)
    first_failure = failures[0] if failures else None
    return TurnResult(
        model=served.name,
        provider=served.provider,
        status=status,
        text=text,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost,
        latency_ms=(time.perf_counter() - started) * 1000,
        ttft_ms=ttft,
        finish_reason=end.finish_reason if end else None,
        error=error,
        is_local=served.is_local,
        fallback_from=first_failure.model if first_failure else None,
        fallback_reason=llm.error_label(first_failure.error.kind) if first_failure else None,
        route_note=footer_note(spec.chain_why, spec.held_back, model.name, {a.model for a in failures})
        if first_failure and model.name != spec.target.name
        else None,
        via=via,
        reasoning=reasoning,
        reasoning_tokens=reasoning_tokens,
    )
