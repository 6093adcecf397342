"""A loopback fake of an OpenAI-compatible API: `GET /v1/models` and a scriptable `POST /v1/chat/completions`.

Chat behaviour is scripted per model as a FIFO queue of steps, with a fallback default::

    with FakeOpenAI(ttft_s=0.0) as fake:
        fake.script("gpt-4o", RateLimited(retry_after=1), Reply(text="Hello there"))
        fake.set_default(ServerError(503), model="gpt-4o-mini")
        fake.context_windows["small-model"] = 100
        ...
        assert fake.chat_calls("gpt-4o")[-1]["max_tokens"] == 64

Which step answers a request: the model's queue, then the shared queue (`script(None, ...)`), then the model's
default, then the shared default (`Reply()`: "echo: <last user text>"). Auth and the context-window check come
first and do not consume a step, so a too-long prompt can be retried (trimmed) against the same script.
A `Mixed` step draws one of its steps per request, at random but seeded (a soak's 20% of faults); `steps_taken`
records which step answered each request.

Token accounting is deliberately simple and documented so tests can predict it:
- a reply is split into word-ish tokens (`\\s*\\S+`, leading whitespace kept), one per stream chunk;
  joining the tokens gives back the exact text;
- prompt tokens = ceil(characters of all message text / 4), at least 1 (`approx_tokens`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import random
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from tests.fakes.base import FakeServer

# -- scripted steps ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """A function call the model makes (OpenAI's `tool_calls`). `name` is the function name as the request
    offered it; `arguments` is sent as JSON text (a str is sent as it is, so a test can send malformed JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)

    @property
    def arguments_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass(frozen=True)
class Reply:
    """A successful answer. `None` fields fall back to the server's settings.

    With `tool_calls`, the reply ends in those calls (finish_reason "tool_calls", after any `text`), streamed as
    OpenAI streams them: each call's id, type and name in its first chunk, its arguments in pieces after it. A
    request that offers no tools, or says `tool_choice: "none"`, gets the text alone (the echo when `text` is
    None), as a real model cannot call what it was not given."""

    text: str | None = None  # None: "echo: <last user message text>"
    ttft_s: float | None = None  # delay before the first content token
    token_delay_s: float | None = None  # delay between content tokens
    finish_reason: str = "stop"
    usage: bool | None = None  # False: never send usage (stream or not); None: server's `send_usage`
    # A reasoning model's thinking, streamed before the answer as DeepSeek and vLLM do (`delta.reasoning_content`,
    # or `reasoning` as newer vLLM, Groq and OpenRouter name it) and counted in usage as
    # `completion_tokens_details.reasoning_tokens` (part of completion_tokens, as OpenAI counts it).
    reasoning: str = ""
    reasoning_field: Literal["reasoning_content", "reasoning"] = "reasoning_content"
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True)
class RateLimited:
    """429 with OpenAI's body, `Retry-After` (seconds; omitted when None) and x-ratelimit-* headers."""

    retry_after: float | None = 1
    retry_after_ms: int | None = None  # OpenAI's non-standard header; the openai SDK prefers it
    code: str = "rate_limit_exceeded"  # or "insufficient_quota"


@dataclass(frozen=True)
class ServerError:
    status: int = 500
    message: str = "The server had an error while processing your request. Sorry about that!"


@dataclass(frozen=True)
class Hang:
    """Stop answering: before the response (None) or after streaming `after_tokens` tokens.

    The handler waits until the client gives up and closes the connection (or the server stops).
    """

    after_tokens: int | None = None


@dataclass(frozen=True)
class Disconnect:
    """Close the connection abruptly: before any response (None) or after streaming `after_tokens` tokens.

    A stream cut this way has no final chunk, no usage and no `[DONE]`.
    """

    after_tokens: int | None = None
    text: str | None = None  # what the cut-off stream would have said


@dataclass(frozen=True)
class ContextLengthExceeded:
    """OpenAI's 400 `context_length_exceeded`; None fields use the model's window / the prompt estimate."""

    limit: int | None = None
    prompt_tokens: int | None = None


ContentPolicyKind = Literal["invalid_prompt", "content_policy_violation", "azure_content_filter", "finish_reason"]


@dataclass(frozen=True)
class ContentPolicy:
    """A safety refusal, in one of the shapes seen in the wild.

    - invalid_prompt: OpenAI chat's 400 (`code: invalid_prompt`, "...violating our usage policy...").
    - content_policy_violation: OpenAI's 400 `code: content_policy_violation` (images API style).
    - azure_content_filter: Azure OpenAI's 400 `code: content_filter` served from an OpenAI-compatible URL.
    - finish_reason: 200 with empty content and `finish_reason: "content_filter"`.
    """

    kind: ContentPolicyKind = "invalid_prompt"


@dataclass(frozen=True)
class Overlong:
    """A provider that ignores max_tokens (some local servers and proxies do): streams `text` (None: the echo)
    `times` over, whatever the request's max_tokens and the server's `honours_max_tokens` say."""

    times: int = 40
    text: str | None = None


Step = Reply | RateLimited | ServerError | Hang | Disconnect | ContextLengthExceeded | ContentPolicy | Overlong


@dataclass(frozen=True)
class Mixed:
    """Each request draws one of `steps` ((weight, step) pairs), at random from a generator seeded with `seed`:
    the same seed and the same order of requests draw the same steps."""

    steps: tuple[tuple[float, Step], ...]
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rng", random.Random(self.seed))

    def draw(self) -> Step:
        weights = [w for w, _ in self.steps]
        return self._rng.choices([s for _, s in self.steps], weights)[0]


CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")
DEFAULT_CONTEXT_WINDOW = 128_000
_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Word-ish tokens, leading whitespace attached: "Hello there" -> ["Hello", " there"]."""
    return _TOKEN_RE.findall(text)


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal parts: only the text counts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def approx_tokens(messages: list[dict[str, Any]]) -> int:
    chars = sum(len(message_text(m)) for m in messages if isinstance(m, dict))
    return max(1, math.ceil(chars / 4))


def echo_text(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return f"echo: {message_text(m)}"
    return "echo: "


def openai_error(
    status: int,
    message: str,
    type_: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _seconds_header(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class FakeOpenAI(FakeServer):
    """OpenAI-style server. `api_key=None` accepts any (or no) key.

    Chat settings (plain attributes, safe to change between requests): `ttft_s`, `token_delay_s`, `send_usage`
    (False: like servers that never report usage), `context_windows` {model: tokens}, `honours_max_tokens`
    (False: like some local servers and proxies, the reply runs past the request's max_tokens).
    Counters: `in_flight`, `max_in_flight`, `chat_count` (updated on the server loop only).
    """

    def __init__(
        self,
        models: list[str] | None = None,
        api_key: str | None = "sk-test-openai-key-1234",
        *,
        delay_s: float = 0.0,
        models_status: int = 200,
        extra_fields: dict[str, dict[str, object]] | None = None,
        retry_after: str | None = None,
        ttft_s: float = 0.0,
        token_delay_s: float = 0.0,
        send_usage: bool = True,
        context_windows: dict[str, int] | None = None,
        honours_max_tokens: bool = True,
    ) -> None:
        super().__init__()
        self.models = models if models is not None else ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]
        self.api_key = api_key
        self.delay_s = delay_s
        self.models_status = models_status
        self.extra_fields = extra_fields or {}
        self.retry_after = retry_after
        self.ttft_s = ttft_s
        self.token_delay_s = token_delay_s
        self.send_usage = send_usage
        self.context_windows: dict[str, int] = dict(context_windows or {})
        self.honours_max_tokens = honours_max_tokens
        self.in_flight = 0
        self.max_in_flight = 0
        self.chat_count = 0
        # Keyed by model; None is the shared queue / default. Guarded by self._lock: the test thread
        # scripts while the server loop consumes.
        self._queues: dict[str | None, deque[Step | Mixed]] = {}
        self._defaults: dict[str | None, Step | Mixed] = {None: Reply()}
        self._ids = itertools.count(1)
        # (request body, the step that answered it) for every chat request past auth and the context check
        self.steps_taken: list[tuple[dict[str, Any], Step]] = []

    # -- scripting (call from any thread)
    def script(self, model: str | None, *steps: Step | Mixed) -> FakeOpenAI:
        """Queue steps for `model` (None: any model without its own queued step), consumed one per request."""
        with self._lock:
            self._queues.setdefault(model, deque()).extend(steps)
        return self

    def set_default(self, step: Step | Mixed, model: str | None = None) -> FakeOpenAI:
        """What `model` (None: every model) does once its queued steps are used up."""
        with self._lock:
            self._defaults[model] = step
        return self

    def pending(self, model: str | None = None) -> int:
        """Queued steps not consumed yet."""
        with self._lock:
            return len(self._queues.get(model, ()))

    def reset(self) -> None:
        """Forget scripts, defaults, recorded requests and counters (settings stay)."""
        with self._lock:
            self._queues.clear()
            self._defaults = {None: Reply()}
            self.requests.clear()
            self.steps_taken.clear()
        self.max_in_flight = self.in_flight
        self.chat_count = 0

    def chat_calls(self, model: str | None = None) -> list[dict[str, Any]]:
        """Parsed JSON bodies of chat requests (in arrival order), optionally for one model."""
        bodies = []
        for r in self.calls(method="POST"):
            if r.path not in CHAT_PATHS:
                continue
            try:
                body = r.json()
            except ValueError:
                continue
            if isinstance(body, dict) and (model is None or body.get("model") == model):
                bodies.append(body)
        return bodies

    def _next_step(self, model: str) -> Step:
        with self._lock:
            step = self._scripted(model)
            return step.draw() if isinstance(step, Mixed) else step

    def _scripted(self, model: str) -> Step | Mixed:
        for key in (model, None):
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
        return self._defaults.get(model) or self._defaults[None]

    # -- routes
    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self._models)
        self.add_chat_routes(app)

    def add_chat_routes(self, app: web.Application) -> None:
        for path in CHAT_PATHS:
            app.router.add_post(path, self._chat)

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if self.api_key is None:
            return None
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return openai_error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        return None

    async def _models(self, request: web.Request) -> web.Response:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        if self.models_status != 200:
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return web.json_response(
                {"error": {"message": f"status {self.models_status}", "type": "server_error"}},
                status=self.models_status,
                headers=headers,
            )
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {
                        "id": m,
                        "object": "model",
                        "created": 1715367049,
                        "owned_by": "system",
                        **self.extra_fields.get(m, {}),
                    }
                    for m in self.models
                ],
            }
        )

    # -- chat completions
    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.chat_count += 1
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        try:
            body = json.loads(await request.read())  # the recording middleware already buffered it
        except ValueError:
            return openai_error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
        if not isinstance(body, dict):
            body = {}
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not isinstance(messages, list) or not messages:
            return openai_error(
                400, "Missing required parameter: 'messages'.", "invalid_request_error", None, "messages"
            )
        prompt_tokens = approx_tokens(messages)
        window = self.context_windows.get(model)
        if window is not None and prompt_tokens > window:
            return self._context_error(window, prompt_tokens)

        step = self._next_step(model)
        self.steps_taken.append((body, step))
        match step:
            case Reply() | Disconnect() | Hang() | ContentPolicy(kind="finish_reason") | Overlong():
                return await self._reply(request, body, step, prompt_tokens)
            case RateLimited():
                return self._rate_limited(model, step)
            case ServerError(status=status, message=message):
                return openai_error(status, message, "server_error")
            case ContextLengthExceeded(limit=limit, prompt_tokens=tokens):
                limit = limit or window or DEFAULT_CONTEXT_WINDOW
                return self._context_error(limit, tokens or max(prompt_tokens, limit + 1))
            case ContentPolicy(kind=kind):
                return self._policy_error(kind)
        raise AssertionError(f"unknown step {step!r}")

    @staticmethod
    def _context_error(limit: int, tokens: int) -> web.Response:
        return openai_error(
            400,
            f"This model's maximum context length is {limit} tokens. However, your messages resulted in "
            f"{tokens} tokens. Please reduce the length of the messages.",
            "invalid_request_error",
            "context_length_exceeded",
            "messages",
        )

    @staticmethod
    def _rate_limited(model: str, step: RateLimited) -> web.Response:
        wait = step.retry_after if step.retry_after is not None else 1
        headers = {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{_seconds_header(wait)}s",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "0",
            "x-ratelimit-reset-tokens": f"{_seconds_header(wait)}s",
        }
        if step.retry_after is not None:
            headers["Retry-After"] = _seconds_header(step.retry_after)
        if step.retry_after_ms is not None:
            headers["retry-after-ms"] = str(step.retry_after_ms)
        if step.code == "insufficient_quota":
            message = (
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes."
            )
            return openai_error(429, message, "insufficient_quota", "insufficient_quota", headers=headers)
        message = (
            f"Rate limit reached for {model} in organization org-fake on requests per min (RPM): Limit 500, "
            f"Used 500, Requested 1. Please try again in {_seconds_header(wait)}s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."
        )
        return openai_error(429, message, "requests", step.code, headers=headers)

    @staticmethod
    def _policy_error(kind: ContentPolicyKind) -> web.Response:
        if kind == "content_policy_violation":
            message = (
                "Your request was rejected as a result of our safety system. Your prompt may contain text "
                "that is not allowed by our safety system."
            )
            return openai_error(400, message, "invalid_request_error", "content_policy_violation")
        if kind == "azure_content_filter":
            message = (
                "The response was filtered due to the prompt triggering Azure OpenAI's content management "
                "policy. Please modify your prompt and retry."
            )
            return openai_error(400, message, "invalid_request_error", "content_filter", "prompt")
        message = (
            "Invalid prompt: your prompt was flagged as potentially violating our usage policy. Please try "
            "again with a different prompt."
        )
        return openai_error(400, message, "invalid_request_error", "invalid_prompt")

    async def _reply(
        self,
        request: web.Request,
        body: dict[str, Any],
        step: Reply | Disconnect | Hang | ContentPolicy | Overlong,
        prompt_tokens: int,
    ) -> web.StreamResponse:
        messages = body["messages"]
        reply = step if isinstance(step, Reply) else Reply()
        cut = step if isinstance(step, Disconnect | Hang) else None
        finish_reason = reply.finish_reason
        if isinstance(step, ContentPolicy):
            text, finish_reason = "", "content_filter"
        elif isinstance(step, Disconnect) and step.text is not None:
            text = step.text
        elif isinstance(step, Overlong):
            text = " ".join([step.text or echo_text(messages)] * step.times)
        else:
            text = reply.text if reply.text is not None else echo_text(messages)
        calls = reply.tool_calls if body.get("tools") and body.get("tool_choice") != "none" else ()
        if calls:
            text, finish_reason = reply.text or "", "tool_calls"
        tokens = split_tokens(text)
        thoughts = split_tokens(reply.reasoning)  # a limit covers them too: they are completion tokens
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        honours = self.honours_max_tokens and not isinstance(step, Overlong)
        if honours and isinstance(limit, int) and 0 < limit < len(thoughts) + len(tokens):
            thoughts = thoughts[:limit]
            tokens, finish_reason = tokens[: limit - len(thoughts)], "length"

        ttft = self.ttft_s if reply.ttft_s is None else reply.ttft_s
        delay = self.token_delay_s if reply.token_delay_s is None else reply.token_delay_s
        send_usage = self.send_usage if reply.usage is None else reply.usage
        call_ids = [f"call_fake{next(self._ids)}" for _ in calls]
        call_tokens = sum(len(split_tokens(f"{c.name} {c.arguments_text}")) for c in calls)
        completion_tokens = len(thoughts) + len(tokens) + call_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if thoughts:
            usage["completion_tokens_details"] = {"reasoning_tokens": len(thoughts)}

        if cut is not None and (cut.after_tokens is None or not body.get("stream")):
            # Nothing at all is sent back (a non-streamed answer cut mid-generation looks the same).
            if isinstance(cut, Hang):
                await _until_client_gone(request)
            else:
                _drop(request)
            return web.Response()

        if not body.get("stream"):
            pause = ttft + delay * max(0, len(tokens) - 1)
            if pause > 0:
                await asyncio.sleep(pause)
            result: dict[str, Any] = {
                "id": f"chatcmpl-fake{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "".join(tokens),
                            "refusal": None,
                            **({reply.reasoning_field: "".join(thoughts)} if thoughts else {}),
                            **(
                                {
                                    "tool_calls": [
                                        {
                                            "id": cid,
                                            "type": "function",
                                            "function": {"name": c.name, "arguments": c.arguments_text},
                                        }
                                        for cid, c in zip(call_ids, calls, strict=True)
                                    ]
                                }
                                if calls
                                else {}
                            ),
                        },
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
            }
            if send_usage:
                result["usage"] = usage
            return web.json_response(result)

        stream_options = body.get("stream_options") or {}
        include_usage = bool(send_usage and stream_options.get("include_usage"))
        # the thinking's deltas as DeepSeek streams them: no content until the answer starts
        thinking = [f'{{"content":null,{json.dumps(reply.reasoning_field)}:{json.dumps(t)}}}' for t in thoughts]
        return await self._stream(
            request,
            body["model"],
            tokens,
            finish_reason,
            ttft,
            delay,
            usage if include_usage else None,
            cut,
            thinking,
            _call_deltas(calls, call_ids),
        )

    async def _stream(
        self,
        request: web.Request,
        model: str,
        tokens: list[str],
        finish_reason: str,
        ttft: float,
        delay: float,
        usage: dict[str, Any] | None,
        cut: Disconnect | Hang | None,
        thinking: list[str],
        call_deltas: list[str],
    ) -> web.StreamResponse:
        # Chunks are formatted from a fixed prefix instead of json.dumps per chunk: this fake also serves a
        # benchmark, so per-token overhead stays low and stable.
        head = (
            f'data: {{"id":"chatcmpl-fake{next(self._ids)}","object":"chat.completion.chunk",'
            f'"created":{int(time.time())},"model":{json.dumps(model)},"system_fingerprint":"fp_fake",'
            '"choices":'
        )
        tail = ',"usage":null}\n\n' if usage is not None else "}\n\n"  # OpenAI sends usage:null until the end

        def chunk(delta: str, finish: str | None = None) -> bytes:
            reason = "null" if finish is None else f'"{finish}"'
            choices = f'[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{reason}}}]'
            return (head + choices + tail).encode()

        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "x-request-id": "req_fake",
            }
        )
        # a client that goes away (its output cap, a timeout, a killed worker) ends the stream, as on a real server
        with contextlib.suppress(ConnectionResetError):
            await self._send(
                resp, request, chunk, head, tokens, finish_reason, ttft, delay, usage, cut, thinking, call_deltas
            )
        return resp

    @staticmethod
    async def _send(
        resp: web.StreamResponse,
        request: web.Request,
        chunk: Any,
        head: str,
        tokens: list[str],
        finish_reason: str,
        ttft: float,
        delay: float,
        usage: dict[str, Any] | None,
        cut: Disconnect | Hang | None,
        thinking: list[str],
        call_deltas: list[str],
    ) -> None:
        await resp.prepare(request)
        await resp.write(chunk('{"role":"assistant","content":"","refusal":null}'))

        stop_at = len(tokens) if cut is None else min(cut.after_tokens or 0, len(tokens))
        if ttft > 0:
            await asyncio.sleep(ttft)
        for delta in thinking:  # a reasoning model's thinking comes first, paced like its answer
            await resp.write(chunk(delta))
            if delay > 0:
                await asyncio.sleep(delay)
        if delay > 0:
            for i, token in enumerate(tokens[:stop_at]):
                if i:
                    await asyncio.sleep(delay)
                await resp.write(chunk(f'{{"content":{json.dumps(token)}}}'))
        elif stop_at:  # zero latency: one write for all tokens
            await resp.write(b"".join(chunk(f'{{"content":{json.dumps(t)}}}') for t in tokens[:stop_at]))

        if isinstance(cut, Hang):
            await _until_client_gone(request)
            return
        if isinstance(cut, Disconnect):
            _drop(request)
            return
        for delta in call_deltas:
            await resp.write(chunk(delta))
            if delay > 0:
                await asyncio.sleep(delay)

        end = [chunk("{}", finish_reason)]
        if usage is not None:
            end.append((head + '[],"usage":' + json.dumps(usage, separators=(",", ":")) + "}\n\n").encode())
        end.append(b"data: [DONE]\n\n")
        await resp.write(b"".join(end))
        await resp.write_eof()


def _call_deltas(calls: tuple[ToolCall, ...], ids: list[str]) -> list[str]:
    """The deltas OpenAI streams a reply's tool calls in: per call, one chunk with its index, id, type, name and
    empty arguments, then its arguments in pieces of a few characters."""
    deltas = []
    for index, (call, call_id) in enumerate(zip(calls, ids, strict=True)):
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        first = {"content": None, "tool_calls": [head]} if index == 0 else {"tool_calls": [head]}
        deltas.append(json.dumps(first))
        text = call.arguments_text
        for start in range(0, len(text), 7):
            piece = {"tool_calls": [{"index": index, "function": {"arguments": text[start : start + 7]}}]}
            deltas.append(json.dumps(piece))
    return deltas


def _drop(request: web.Request) -> None:
    """Close the TCP connection now: a chunked body is left unterminated, the client sees a broken stream."""
    transport = request.transport
    if transport is not None:
        transport.close()


async def _until_client_gone(request: web.Request) -> None:
    # aiohttp does not cancel handlers when the peer leaves, so poll the transport instead.
    while (transport := request.transport) is not None and not transport.is_closing():
        await asyncio.sleep(0.02)
