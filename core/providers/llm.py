"""The one module that imports litellm.

litellm takes seconds to import, so it is imported on first use, never at module import time; the CLI and
the admin pages that only read the database stay fast. A bot imports it on a thread as it starts
(core.runtime.prepare_worker), and a turn awaits `ready()` before its first use.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


_imported = threading.Event()


@cache
def litellm() -> ModuleType:
    """The litellm module, imported once with our process-wide defaults. Safe to call from several threads at
    once: Python's import lock makes a second caller wait for the first import to finish."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm as _litellm

    _litellm.telemetry = False
    _litellm.suppress_debug_info = True
    _litellm.drop_params = True
    # Token counts for llama-2/3 and command-r names would download a tokenizer from Hugging Face's hub, in the
    # middle of a turn, on the event loop: without access to it every count retried for 24 s (each message to
    # such a model, measured by bench/scale.py). tiktoken's counts (bundled) are what litellm falls back to anyway.
    _litellm.disable_hf_tokenizer_download = True
    _imported.set()
    return _litellm


async def ready() -> None:
    """Until litellm is imported: at once when it is, else waiting on a worker thread (never on the event loop,
    which keeps answering other events meanwhile) while the import started at startup finishes, or doing it."""
    if not _imported.is_set():
        await asyncio.to_thread(litellm)


@dataclass(frozen=True)
class Metadata:
    """What litellm knows about a model. Prices are USD per million tokens; None means unknown."""

    context_window: int | None = None
    max_output: int | None = None
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    supports_tools: bool = False
    supports_vision: bool = False
    mode: str | None = None
    deprecation_date: str | None = None  # ISO date the provider retires the model, where litellm knows one


def _per_mtok(value: Any) -> float | None:
    return None if value is None else round(float(value) * 1_000_000, 6)


def model_metadata(litellm_provider: str, model_id: str) -> Metadata | None:
    """litellm's metadata for a model of a provider, trying the spellings its cost map uses."""
    lib = litellm()
    candidates = [f"{litellm_provider}/{model_id}", model_id]
    if litellm_provider == "ollama_chat":
        candidates.append(f"ollama/{model_id}")
    base = model_id.split(":", 1)[0]
    if base != model_id:
        candidates += [f"{litellm_provider}/{base}", base]
    for name in candidates:
        info = lib.model_cost.get(name)
        if info is None:
            continue
        provider = str(info.get("litellm_provider", ""))
        if name == model_id and provider and not provider.startswith(litellm_provider.split("_chat")[0]):
            continue  # a bare id that belongs to another provider's price list
        return Metadata(
            context_window=info.get("max_input_tokens") or info.get("max_tokens"),
            max_output=info.get("max_output_tokens"),
            input_usd_per_mtok=_per_mtok(info.get("input_cost_per_token")),
            output_usd_per_mtok=_per_mtok(info.get("output_cost_per_token")),
            supports_tools=bool(info.get("supports_function_calling")),
            supports_vision=bool(info.get("supports_vision")),
            mode=info.get("mode"),
            deprecation_date=str(info["deprecation_date"]) if info.get("deprecation_date") else None,
        )
    return None


def static_models(litellm_provider: str) -> list[str]:
    """The chat models litellm lists for a provider, ids without the provider prefix."""
    lib = litellm()
    out = []
    for name in sorted(lib.models_by_provider.get(litellm_provider, [])):
        info = lib.model_cost.get(name, {})
        if info.get("mode", "chat") != "chat":
            continue
        prefix = f"{litellm_provider}/"
        out.append(name[len(prefix) :] if name.startswith(prefix) else name)
    return out


def known_provider(name: str) -> bool:
    """True when litellm can route to this provider name."""
    return name in {str(p.value) if hasattr(p, "value") else str(p) for p in litellm().provider_list}


# ---------------------------------------------------------------- calling models


@dataclass(frozen=True)
class Deployment:
    """One model litellm can call: `name` is ours (the router's model group), the rest is litellm's."""

    name: str
    litellm_name: str
    api_key: str | None = None
    api_base: str | None = None
    organization: str | None = None
    extra_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RetryRules:
    rate_limit: int = 1
    timeout: int = 1
    server_error: int = 1


class LLMError(Exception):
    """A failed call, classified. `kind` picks the per-error rule; `message` is safe to show users."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        partial_text: str = "",
    ) -> None:
        super().__init__(message)
        self.kind = kind  # rate_limit | timeout | server | context_window | auth | content_policy
        # | not_found | bad_request | connection | unknown
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.partial_text = partial_text


@dataclass(frozen=True)
class ToolRequest:
    """A function call the model asked for: its id (what the result answers), the function name as offered, and
    its arguments as the JSON text the model wrote (not yet parsed: a model may write invalid JSON)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class StreamEnd:
    """The end of a stream: usage as the provider reported it (None when it did not)."""

    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    served_by: str | None
    reasoning_tokens: int | None = None  # of completion_tokens, where the usage says (completion_tokens_details)
    tool_calls: tuple[ToolRequest, ...] = ()  # the reply ends in these calls (streamed in pieces, put together)


class _CallParts:
    """Tool calls as a stream delivers them: the id and name in a call's first delta, its arguments in pieces
    after, each piece tagged with the call's index."""

    def __init__(self) -> None:
        self.calls: dict[int, list[str]] = {}  # index -> [id, name, arguments so far]

    def add(self, deltas: Any) -> None:
        for position, delta in enumerate(deltas):
            index = getattr(delta, "index", None)
            index = position if index is None else int(index)
            call = self.calls.setdefault(index, ["", "", ""])
            function = getattr(delta, "function", None)
            call[0] = getattr(delta, "id", None) or call[0]
            call[1] = (getattr(function, "name", None) or call[1]) if function is not None else call[1]
            call[2] += (getattr(function, "arguments", None) or "") if function is not None else ""

    def done(self) -> tuple[ToolRequest, ...]:
        return tuple(
            ToolRequest(call_id or f"call_{index}", name, arguments or "{}")
            for index, (call_id, name, arguments) in sorted(self.calls.items())
            if name
        )


class ReasoningPiece(str):
    """A piece of a reasoning model's thinking (litellm's `reasoning_content` on a delta), not of its answer."""

    __slots__ = ()


def _reasoning_tokens(usage: Any) -> int | None:
    details = getattr(usage, "completion_tokens_details", None)
    value = getattr(details, "reasoning_tokens", None) if details is not None else None
    return value if isinstance(value, int) else None


_LABELS = {
    "rate_limit": "rate limited",
    "timeout": "timed out",
    "server": "server error",
    "connection": "unreachable",
    "context_window": "context window exceeded",
    "auth": "authentication failed",
    "content_policy": "content policy",
    "not_found": "model not found",
    "bad_request": "bad request",
    "unknown": "failed",
}


def error_label(kind: str) -> str:
    """A short reason for footers: 'fallback from X: rate limited'."""
    return _LABELS.get(kind, kind)


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "litellm_response_headers", None) or {}
    try:
        value = headers.get("retry-after") if hasattr(headers, "get") else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _connection_failed(exc: BaseException) -> bool:
    """True when the cause of `exc` is a connection that failed (refused, reset, dropped), whatever status
    litellm put on it: it reports a refused connection as HTTP 500 for OpenAI-style providers."""
    import httpx

    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, ConnectionError | httpx.TransportError) and not isinstance(link, httpx.TimeoutException):
            return True
        link = link.__cause__ or link.__context__
    return False


def classify(exc: BaseException, partial_text: str = "") -> LLMError:
    """Map litellm's exception types onto our per-error rules (order matters: subclasses first)."""
    from core.logs import redact

    lib = litellm()
    ex = lib.exceptions
    status = getattr(exc, "status_code", None)
    kind = "unknown"
    if isinstance(exc, ex.ContextWindowExceededError):
        kind = "context_window"
    elif isinstance(exc, ex.ContentPolicyViolationError):
        kind = "content_policy"
    elif isinstance(exc, (ex.AuthenticationError, ex.PermissionDeniedError)):
        kind = "auth"
    elif isinstance(exc, ex.RateLimitError):
        kind = "rate_limit"
    elif isinstance(exc, ex.Timeout | TimeoutError):
        kind = "timeout"
    elif isinstance(exc, ex.NotFoundError):
        kind = "not_found"
    elif isinstance(exc, ex.MidStreamFallbackError):
        partial_text = partial_text or str(getattr(exc, "generated_content", "") or "")
        kind = "connection"
    elif isinstance(exc, ex.APIConnectionError):
        kind = "connection"
    elif isinstance(exc, (ex.InternalServerError, ex.ServiceUnavailableError, ex.BadGatewayError)):
        kind = "server"
    elif isinstance(exc, ex.BadRequestError):
        kind = "bad_request"
    elif isinstance(status, int) and status >= 500:
        kind = "server"
    if kind in ("server", "unknown", "connection") and _connection_failed(exc):
        kind, status = "connection", None  # litellm's 500 here is its own label, not the provider's answer
    detail = str(getattr(exc, "message", "") or exc).split("\n")[0][:300]
    message = redact(
        f"{error_label(kind)}"
        + (f" (HTTP {status})" if isinstance(status, int) else "")
        + (f": {detail}" if kind in ("bad_request", "not_found", "unknown", "content_policy") else "")
    )
    return LLMError(
        kind,
        message,
        status=status if isinstance(status, int) else None,
        retry_after=_retry_after(exc),
        partial_text=partial_text,
    )


class Gateway:
    """litellm Routers built from the registry: one for plain models, one per virtual model (its strategy).

    Retries per error type come from litellm's RetryPolicy; the fallback chain is walked by core.routing.route, which
    needs to know why each step failed. Cooldowns are off for single models (a cooled-down model would fail as
    'no deployments' instead of saying why) and on for virtual models, where they steer around a bad member.
    """

    def __init__(
        self,
        deployments: list[Deployment],
        virtual: dict[str, tuple[str, list[str]]],
        rules: RetryRules,
        timeout_s: float,
    ) -> None:
        lib = litellm()
        from litellm.types.router import RetryPolicy

        policy = RetryPolicy(
            RateLimitErrorRetries=rules.rate_limit,
            TimeoutErrorRetries=rules.timeout,
            InternalServerErrorRetries=rules.server_error,
            ServiceUnavailableErrorRetries=rules.server_error,
            AuthenticationErrorRetries=0,
            ContentPolicyViolationErrorRetries=0,
            BadRequestErrorRetries=0,
            NotFoundErrorRetries=0,
        )
        by_name = {d.name: d for d in deployments}
        self.names = set(by_name)
        self._main = (
            lib.Router(
                model_list=[self._entry(d.name, d) for d in deployments],
                retry_policy=policy,
                num_retries=max(rules.rate_limit, rules.timeout, rules.server_error),
                timeout=timeout_s,
                disable_cooldowns=True,
            )
            if deployments
            else None
        )
        if self._main is not None:
            # With one deployment per model and cooldowns off, the main router's usage-tracking callbacks
            # feed nothing (no cooldowns, no usage-based strategy) yet cost CPU on every call: unregister them.
            # Retries (RetryPolicy) do not depend on them. Virtual-model routers keep theirs.
            self._main.discard()
        self._virtual: dict[str, Any] = {}
        for group, (strategy, members) in virtual.items():
            entries = [self._entry(group, by_name[m]) for m in members if m in by_name]
            if entries:
                self._virtual[group] = lib.Router(
                    model_list=entries,
                    routing_strategy=strategy,
                    retry_policy=policy,
                    num_retries=max(rules.rate_limit, rules.timeout, rules.server_error),
                    timeout=timeout_s,
                    allowed_fails=1,
                    cooldown_time=30,
                )

    @staticmethod
    def _entry(group: str, d: Deployment) -> dict[str, Any]:
        params: dict[str, Any] = {"model": d.litellm_name}
        if d.api_key:
            params["api_key"] = d.api_key
        if d.api_base:
            params["api_base"] = d.api_base
        if d.organization:
            params["organization"] = d.organization
        if d.extra_headers:
            params["extra_headers"] = dict(d.extra_headers)
        return {"model_name": group, "litellm_params": params, "model_info": {"id": d.name}}

    def close(self) -> None:
        """Unregister the routers' callbacks: litellm keeps every Router's callbacks in module-level lists, so a
        replaced gateway that is not discarded would leak them (and their per-call work) forever."""
        for router in [self._main, *self._virtual.values()]:
            if router is not None:
                router.discard()

    def has(self, name: str) -> bool:
        return name in self._virtual or name in self.names

    async def stream(
        self,
        name: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
    ) -> AsyncGenerator[str | StreamEnd, None]:
        """Text deltas of `name`'s reply (its thinking as ReasoningPiece, apart), then one StreamEnd (with the tool
        calls it ended in, when it was offered `tools`). Failures raise LLMError (with any partial text)."""
        router = self._virtual.get(name) or self._main
        if router is None or not self.has(name):
            raise LLMError("not_found", f"{name} is not configured for routing")
        text: list[str] = []
        # litellm delivers the provider's usage in one last chunk, then, when the stream is read once more,
        # assembles the whole reply again from its chunks and dispatches its success logging. The main router's
        # callbacks are unregistered (see __init__), so that pass feeds nothing: stop at the usage chunk. Virtual
        # routers read to the end, because their routing strategies learn from that success logging. (litellm
        # strips usage from every earlier chunk; the finish reason, real or its synthetic "stop", comes first.)
        stop_at_usage = router is self._main
        calls = _CallParts()
        offered: dict[str, Any] = {"tools": tools, "tool_choice": tool_choice or "auto"} if tools else {}
        try:
            response = await router.acompletion(
                model=name,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                max_tokens=max_tokens,
                **offered,
            )
            served = (getattr(response, "_hidden_params", None) or {}).get("model_id")
            usage = None
            finish = None
            try:
                async for chunk in response:
                    choices = getattr(chunk, "choices", None) or []
                    if choices:
                        delta = getattr(choices[0], "delta", None)
                        thought = getattr(delta, "reasoning_content", None) if delta is not None else None
                        if thought:
                            yield ReasoningPiece(thought)
                        piece = getattr(delta, "content", None) if delta is not None else None
                        if piece:
                            text.append(piece)
                            yield piece
                        wanted = getattr(delta, "tool_calls", None) if delta is not None else None
                        if wanted:
                            calls.add(wanted)
                        finish = getattr(choices[0], "finish_reason", None) or finish
                    chunk_usage = getattr(chunk, "usage", None)
                    if chunk_usage is not None:
                        usage = chunk_usage
                        if stop_at_usage and finish is not None:
                            break
            finally:  # release the HTTP connection now, also when our caller stops reading
                close = getattr(response, "aclose", None)
                if close is not None:
                    await close()
        except LLMError:
            raise
        except Exception as exc:  # litellm raises many types; classify() maps them
            raise classify(exc, "".join(text)) from None
        yield StreamEnd(
            prompt_tokens=getattr(usage, "prompt_tokens", None) if usage else None,
            completion_tokens=getattr(usage, "completion_tokens", None) if usage else None,
            finish_reason=finish,
            served_by=served,
            reasoning_tokens=_reasoning_tokens(usage) if usage else None,
            tool_calls=calls.done(),
        )


class OutputCap:
    """Counts a streamed reply's tokens against `limit`, whatever the provider does with max_tokens.

    Counting every delta would cost a tokenizer pass per chunk; instead, since every token covers at least one
    byte, the text can grow by as many bytes as tokens are left before it needs counting again.
    """

    def __init__(self, litellm_name: str, limit: int) -> None:
        self.litellm_name = litellm_name
        self.limit = limit
        self.parts: list[str] = []
        self.tokens = 0  # tokens of the text when last counted
        self.uncounted = 0  # bytes added since: at most that many more tokens
        self.full = False

    def _fits(self, text: str) -> int | None:
        n = count_text_tokens(self.litellm_name, text)
        return n if n <= self.limit else None

    def take(self, piece: str) -> str:
        """The part of `piece` that fits; sets `full` once the limit is reached."""
        if self.full:
            return ""
        size = len(piece.encode())
        if self.tokens + self.uncounted + size <= self.limit:
            self.parts.append(piece)
            self.uncounted += size
            return piece
        so_far = "".join(self.parts)
        total = self._fits(so_far + piece)
        if total is not None:
            self.parts, self.tokens, self.uncounted = [so_far + piece], total, 0
            self.full = total == self.limit
            return piece
        lo, hi = 0, len(piece)  # the piece crosses the limit: keep its longest prefix that fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._fits(so_far + piece[:mid]) is not None:
                lo = mid
            else:
                hi = mid - 1
        self.full = True
        return piece[:lo]

    def raise_limit(self, more: int) -> None:
        self.limit += more
        self.full = False


def count_tokens(litellm_name: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> int:
    """Tokens of `messages` (and the `tools` offered with them) for this model, by litellm's counter (tiktoken or
    the model's tokenizer)."""
    if tools:
        return int(litellm().token_counter(model=litellm_name, messages=messages, tools=tools))
    return int(litellm().token_counter(model=litellm_name, messages=messages))


def count_text_tokens(litellm_name: str, text: str) -> int:
    return int(litellm().token_counter(model=litellm_name, text=text))


def cost_usd(
    litellm_name: str,
    prompt_tokens: int,
    completion_tokens: int,
    in_per_mtok: float | None,
    out_per_mtok: float | None,
) -> float | None:
    """Cost by litellm's calculator with the registry's (possibly overridden) prices; None when unknown."""
    if in_per_mtok is None or out_per_mtok is None:
        return None
    if in_per_mtok == 0 and out_per_mtok == 0:
        return 0.0
    from litellm.types.utils import CostPerToken

    prompt_cost, completion_cost = litellm().cost_per_token(
        model=litellm_name,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        custom_cost_per_token=CostPerToken(
            input_cost_per_token=in_per_mtok / 1_000_000, output_cost_per_token=out_per_mtok / 1_000_000
        ),
    )
    return float(prompt_cost + completion_cost)
