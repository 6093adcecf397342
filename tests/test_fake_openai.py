"""The fake OpenAI server, driven through the real litellm: documents how litellm surfaces each failure.

Findings pinned here (litellm 1.106, openai SDK 2.x underneath for `openai/...` models):
- Status errors raise at `await acompletion(...)`, also with stream=True (headers come before any chunk).
- Response headers of a mapped error are on `e.litellm_response_headers`; `e.response.headers` is empty.
- A bare acompletion retries through the openai SDK (max_retries defaults to 2, honouring Retry-After /
  retry-after-ms); `timeout=` is per attempt. The Router turns SDK retries off and retries itself.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # before importing litellm: no price-map download

import httpx
import litellm
import openai
import pytest
from litellm import Router
from litellm.exceptions import MidStreamFallbackError
from litellm.router import RetryPolicy
from litellm.types.router import RouterRateLimitError

from tests.fakes.openai import (
    ContentPolicy,
    ContextLengthExceeded,
    Disconnect,
    FakeOpenAI,
    Hang,
    RateLimited,
    Reply,
    ServerError,
    Step,
    approx_tokens,
    split_tokens,
)

litellm.suppress_debug_info = True

KEY = "sk-test-openai-key-1234"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def call(fake: FakeOpenAI, model: str = "gpt-4o", **kwargs: Any) -> Any:
    """litellm.acompletion against the fake; SDK retries off unless the test asks for them."""
    kwargs.setdefault("messages", HI)
    kwargs.setdefault("max_retries", 0)
    return await litellm.acompletion(model=f"openai/{model}", api_base=f"{fake.url}/v1", api_key=KEY, **kwargs)


async def collect(stream: AsyncIterator[Any]) -> list[Any]:
    return [chunk async for chunk in stream]


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def deployment(fake: FakeOpenAI, name: str, model: str | None = None) -> dict[str, Any]:
    params = {"model": f"openai/{model or name}", "api_base": f"{fake.url}/v1", "api_key": KEY}
    return {"model_name": name, "litellm_params": params}


def models_called(fake: FakeOpenAI) -> list[str]:
    return [body["model"] for body in fake.chat_calls()]


async def wait_idle(fake: FakeOpenAI) -> None:
    """Hung handlers end once the client has gone; wait for that so counters are settled."""
    for _ in range(100):
        if fake.in_flight == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{fake.in_flight} requests still in flight")


# -- the fake itself -----------------------------------------------------------------------------------------


def test_tokens_and_prompt_estimate() -> None:
    assert split_tokens("Hello there, my friend ") == ["Hello", " there,", " my", " friend", " "]
    assert split_tokens("") == []
    assert approx_tokens([{"role": "user", "content": "x" * 9}]) == 3  # ceil(chars / 4)
    assert approx_tokens([{"role": "user", "content": [{"type": "text", "text": "abcd"}]}]) == 1


async def test_raw_sse_wire_format(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", Reply(text="Hi you"))
    body = {"model": "gpt-4o", "messages": HI, "stream": True, "stream_options": {"include_usage": True}}
    async with httpx.AsyncClient() as client:
        # the path without /v1 is served too
        resp = await client.post(f"{fake.url}/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in resp.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [httpx.Response(200, content=e).json() for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["Hi", " you"]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert all(c["usage"] is None for c in chunks[:-1])  # like OpenAI: usage:null until the last chunk


async def test_script_order_and_defaults(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", Reply(text="model queue"))
    fake.script(None, Reply(text="shared queue"))
    fake.set_default(Reply(text="model default"), model="gpt-4o")
    answers = [(await call(fake)).choices[0].message.content for _ in range(3)]
    assert answers == ["model queue", "shared queue", "model default"]
    assert (await call(fake, model="gpt-4o-mini")).choices[0].message.content == "echo: hi"
    assert fake.pending("gpt-4o") == 0


async def test_chat_calls_record_what_was_sent(fake: FakeOpenAI) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "one two three"}]
    fake.script("gpt-4o", Reply(text="a b c d e"))
    resp = await call(fake, messages=messages, max_tokens=2)
    # max_tokens is honoured: the reply is cut to 2 word-tokens with finish_reason "length"
    assert resp.choices[0].message.content == "a b"
    assert resp.choices[0].finish_reason == "length"
    (sent,) = fake.chat_calls("gpt-4o")
    assert sent["messages"] == messages
    assert sent["max_tokens"] == 2
    assert fake.chat_calls("other") == []


async def test_in_flight_counter(fake: FakeOpenAI) -> None:
    fake.ttft_s = 0.2
    results = await asyncio.gather(*(call(fake) for _ in range(5)))
    assert [r.choices[0].message.content for r in results] == ["echo: hi"] * 5
    assert fake.max_in_flight == 5
    assert fake.in_flight == 0


# -- streaming and usage through litellm ---------------------------------------------------------------------


async def test_stream_token_by_token_with_usage(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", Reply(text="Hello there my friend"))
    stream = await call(fake, stream=True, stream_options={"include_usage": True})
    chunks = await collect(stream)
    # litellm passes every chunk on: role chunk (content ""), one per token, the finish chunk, the usage
    # chunk; it gives the usage chunk (choices [] on the wire) an empty choice
    contents = [c.choices[0].delta.content for c in chunks]
    assert contents == ["", "Hello", " there", " my", " friend", None, None]
    assert [c.choices[0].finish_reason for c in chunks[-2:]] == ["stop", None]
    assert [getattr(c, "usage", None) is not None for c in chunks] == [False] * 6 + [True]
    usage = chunks[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1, 4, 5)


async def test_stream_without_server_usage_litellm_counts_tokens(fake: FakeOpenAI) -> None:
    fake.send_usage = False
    chunks = await collect(await call(fake, stream=True, stream_options={"include_usage": True}))
    assert fake.chat_calls()[0]["stream_options"] == {"include_usage": True}  # asked, never answered
    assert text_of(chunks) == "echo: hi"
    # litellm fills the usage chunk in itself, with its own token_counter
    usage = chunks[-1].usage
    assert usage.prompt_tokens == litellm.token_counter(model="gpt-4o", messages=HI)
    assert usage.completion_tokens == litellm.token_counter(model="gpt-4o", text="echo: hi", count_response_tokens=True)


async def test_non_stream_without_usage_reports_zero(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", Reply(usage=False))
    resp = await call(fake)
    assert resp.choices[0].message.content == "echo: hi"
    # No estimate here: the caller must count itself
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (0, 0, 0)
    assert litellm.token_counter(model="gpt-4o", messages=HI) > 0


async def test_ttft_and_token_delay_are_measurable(fake: FakeOpenAI) -> None:
    await call(fake)  # warm litellm's client cache so only the fake's latency is measured
    fake.script("gpt-4o", Reply(text="a b c", ttft_s=0.5, token_delay_s=0.1))
    start = time.perf_counter()
    stream = await call(fake, stream=True)
    returned = time.perf_counter() - start
    arrivals = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter() - start)
    # headers come before the first token is due; no token comes before its time (a busy client can only
    # receive them later, so these bounds are the fake's schedule, not the machine's speed)
    assert returned < 0.5
    assert len(arrivals) == 3
    assert arrivals[0] >= 0.5
    assert arrivals[2] >= 0.5 + 2 * 0.1


# -- failures through bare litellm.acompletion ---------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
async def test_rate_limited_raises_at_call(fake: FakeOpenAI, stream: bool) -> None:
    fake.script("gpt-4o", RateLimited(retry_after=7))
    with pytest.raises(litellm.RateLimitError) as caught:
        await call(fake, stream=stream)
    err = caught.value
    assert isinstance(err, openai.RateLimitError)
    assert err.status_code == 429
    assert err.litellm_response_headers["retry-after"] == "7"  # type: ignore[attr-defined]
    assert err.litellm_response_headers["x-ratelimit-remaining-requests"] == "0"  # type: ignore[attr-defined]
    assert "retry-after" not in err.response.headers  # surprising: the mapped response carries no headers
    assert err.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
    assert fake.chat_count == 1


async def test_sdk_retries_honour_retry_after(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", RateLimited(retry_after=1))
    start = time.perf_counter()
    resp = await call(fake, max_retries=1)
    elapsed = time.perf_counter() - start
    assert resp.choices[0].message.content == "echo: hi"
    assert fake.chat_count == 2
    assert elapsed >= 1.0  # SDK backoff without the header would be <= 0.5 s


async def test_default_acompletion_retries_twice(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", *[RateLimited(retry_after=None, retry_after_ms=20)] * 2)
    resp = await litellm.acompletion(model="openai/gpt-4o", api_base=f"{fake.url}/v1", api_key=KEY, messages=HI)
    assert resp.choices[0].message.content == "echo: hi"
    assert fake.chat_count == 3  # openai SDK max_retries=2 by default, retry-after-ms honoured


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (500, litellm.InternalServerError),
        (502, litellm.BadGatewayError),
        (503, litellm.ServiceUnavailableError),
    ],
)
async def test_server_errors(fake: FakeOpenAI, status: int, exc: type[Exception]) -> None:
    fake.script("gpt-4o", ServerError(status))
    with pytest.raises(exc) as caught:
        await call(fake, stream=True)
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert "API Base" in (caught.value.litellm_debug_info or "")  # type: ignore[attr-defined]


async def test_hang_times_out(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", Hang())
    start = time.perf_counter()
    with pytest.raises(litellm.Timeout) as caught:
        await call(fake, stream=True, timeout=0.3)
    assert 0.3 <= time.perf_counter() - start < 3.0  # it gave up: the fake would hang forever
    assert isinstance(caught.value, openai.APITimeoutError)
    assert caught.value.status_code == 408
    await wait_idle(fake)  # the hung handler noticed the client leave


async def test_timeout_is_per_attempt(fake: FakeOpenAI) -> None:
    fake.set_default(Hang(), model="gpt-4o")
    start = time.perf_counter()
    with pytest.raises(litellm.Timeout):
        await call(fake, timeout=0.2, max_retries=1)
    assert fake.chat_count == 2
    assert time.perf_counter() - start >= 0.4
    await wait_idle(fake)


async def test_hang_mid_stream(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", Hang(after_tokens=2))
    stream = await call(fake, stream=True, timeout=0.3)
    seen: list[Any] = []
    with pytest.raises(MidStreamFallbackError) as caught:
        async for chunk in stream:
            seen.append(chunk)
    assert text_of(seen) == "echo: hi" and len(seen) == 3  # role + 2 tokens
    assert isinstance(caught.value.original_exception, litellm.APIConnectionError)
    assert "Timeout on reading data" in str(caught.value.original_exception)
    await wait_idle(fake)


async def test_disconnect_mid_stream(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", Disconnect(after_tokens=3, text="one two three four five"))
    stream = await call(fake, stream=True, stream_options={"include_usage": True})
    seen: list[Any] = []
    with pytest.raises(MidStreamFallbackError) as caught:
        async for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 4  # role chunk + 3 tokens, then the iterator raises
    err = caught.value
    assert isinstance(err, litellm.ServiceUnavailableError)  # its base class, though status_code is 500
    assert err.status_code == 500
    assert err.generated_content == "one two three"
    assert err.is_pre_first_chunk is False
    assert isinstance(err.original_exception, litellm.APIConnectionError)
    assert "Response payload is not completed" in str(err.original_exception)


async def test_disconnect_before_response(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", Disconnect())
    with pytest.raises(litellm.InternalServerError) as caught:  # not APIConnectionError
        await call(fake, stream=True)
    assert caught.value.status_code == 500
    assert "Connection error" in str(caught.value)


async def test_context_length_exceeded(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", ContextLengthExceeded(limit=8192, prompt_tokens=9000))
    with pytest.raises(litellm.ContextWindowExceededError) as caught:
        await call(fake, stream=True)
    assert isinstance(caught.value, litellm.BadRequestError)
    assert caught.value.status_code == 400
    assert "maximum context length is 8192 tokens" in str(caught.value)


async def test_context_window_setting_checks_before_the_script(fake: FakeOpenAI) -> None:
    fake.context_windows["gpt-4o"] = 10
    fake.script("gpt-4o", Reply(text="short enough"))
    long = [{"role": "user", "content": "x" * 100}]
    with pytest.raises(litellm.ContextWindowExceededError, match="resulted in 25 tokens"):
        await call(fake, messages=long)
    # the rejected request did not consume the scripted reply
    assert (await call(fake, messages=HI)).choices[0].message.content == "short enough"


@pytest.mark.parametrize(
    ("kind", "exc"),
    [
        ("invalid_prompt", litellm.ContentPolicyViolationError),
        ("content_policy_violation", litellm.ContentPolicyViolationError),
        ("azure_content_filter", litellm.BadRequestError),  # Azure's shape is only recognised for azure/...
    ],
)
async def test_content_policy_errors(fake: FakeOpenAI, kind: Any, exc: type[Exception]) -> None:
    fake.script("gpt-4o", ContentPolicy(kind))
    with pytest.raises(exc) as caught:
        await call(fake, stream=True)
    assert caught.value.status_code == 400  # type: ignore[attr-defined]
    if kind == "azure_content_filter":
        assert not isinstance(caught.value, litellm.ContentPolicyViolationError)


async def test_content_filter_finish_reason_is_no_error(fake: FakeOpenAI) -> None:
    fake.script("gpt-4o", ContentPolicy("finish_reason"))
    chunks = await collect(await call(fake, stream=True))
    assert text_of(chunks) == ""
    assert chunks[-1].choices[0].finish_reason == "content_filter"


async def test_bad_key(fake: FakeOpenAI) -> None:
    with pytest.raises(litellm.AuthenticationError) as caught:
        await litellm.acompletion(
            model="openai/gpt-4o", api_base=f"{fake.url}/v1", api_key="sk-wrong", messages=HI, stream=True
        )
    assert caught.value.status_code == 401
    assert fake.chat_count == 1  # 401 is not retried by the SDK


# -- Router --------------------------------------------------------------------------------------------------


async def test_router_retry_waits_for_retry_after(fake: FakeOpenAI) -> None:
    router = Router(model_list=[deployment(fake, "a")], num_retries=1)
    fake.script("a", RateLimited(retry_after=2))
    start = time.perf_counter()
    chunks = await collect(await router.acompletion(model="a", messages=HI, stream=True))
    elapsed = time.perf_counter() - start
    assert text_of(chunks) == "echo: hi"
    assert fake.chat_count == 2  # the Router retried; the SDK underneath did not
    # Retry-After (integer seconds only) plus up to 0.75 s jitter; plain backoff would be 0.5-1.25 s
    assert elapsed >= 2.0


async def test_router_retry_policy_per_error_type(fake: FakeOpenAI) -> None:
    policy = RetryPolicy(RateLimitErrorRetries=0, InternalServerErrorRetries=1)
    router = Router(model_list=[deployment(fake, "a")], num_retries=3, retry_policy=policy)
    fake.script("a", RateLimited(retry_after=1))
    with pytest.raises(litellm.RateLimitError):
        await router.acompletion(model="a", messages=HI, stream=True)
    assert fake.chat_count == 1
    fake.reset()
    fake.script("a", ServerError(500))
    chunks = await collect(await router.acompletion(model="a", messages=HI, stream=True))
    assert text_of(chunks) == "echo: hi"
    assert fake.chat_count == 2


@pytest.mark.parametrize(
    "step",
    [RateLimited(retry_after=10), ServerError(500), Hang(), Disconnect(), Disconnect(after_tokens=0)],
    ids=["429", "500", "hang", "disconnect", "disconnect-after-role-chunk"],
)
async def test_router_stream_falls_back_before_first_token(fake: FakeOpenAI, step: Step) -> None:
    router = Router(model_list=[deployment(fake, "a"), deployment(fake, "b")], fallbacks=[{"a": ["b"]}], num_retries=0)
    fake.script("a", step)
    start = time.perf_counter()
    chunks = await collect(await router.acompletion(model="a", messages=HI, stream=True, timeout=0.3))
    assert text_of(chunks) == "echo: hi"
    assert models_called(fake) == ["a", "b"]
    assert time.perf_counter() - start < 5.0  # no 10 s Retry-After wait before a fallback
    await wait_idle(fake)


async def test_router_stream_no_fallback_after_content(fake: FakeOpenAI) -> None:
    router = Router(model_list=[deployment(fake, "a"), deployment(fake, "b")], fallbacks=[{"a": ["b"]}], num_retries=0)
    fake.script("a", Disconnect(after_tokens=2, text="one two three"))
    stream = await router.acompletion(model="a", messages=HI, stream=True)
    seen: list[Any] = []
    # the Router unwraps MidStreamFallbackError into the provider error once text went out
    with pytest.raises(litellm.APIConnectionError):
        async for chunk in stream:
            seen.append(chunk)
    assert text_of(seen) == "one two"
    assert models_called(fake) == ["a"]


async def test_router_specialised_fallbacks(fake: FakeOpenAI) -> None:
    router = Router(
        model_list=[deployment(fake, "a"), deployment(fake, "b")],
        context_window_fallbacks=[{"a": ["b"]}],
        content_policy_fallbacks=[{"a": ["b"]}],
        num_retries=0,
    )
    fake.script("a", ContextLengthExceeded(), ContentPolicy())
    for _ in range(2):
        chunks = await collect(await router.acompletion(model="a", messages=HI, stream=True))
        assert text_of(chunks) == "echo: hi"
    assert models_called(fake) == ["a", "b", "a", "b"]
    # finish_reason "content_filter" triggers content_policy_fallbacks only without streaming
    fake.reset()
    fake.script("a", ContentPolicy("finish_reason"), ContentPolicy("finish_reason"))
    resp = await router.acompletion(model="a", messages=HI)
    assert resp.choices[0].message.content == "echo: hi"
    chunks = await collect(await router.acompletion(model="a", messages=HI, stream=True))
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    assert models_called(fake) == ["a", "b", "a"]


async def test_router_cools_down_single_deployment_after_401(fake: FakeOpenAI) -> None:
    router = Router(model_list=[deployment(fake, "a")], num_retries=0)
    fake.api_key = "sk-rotated"
    with pytest.raises(litellm.AuthenticationError):
        await router.acompletion(model="a", messages=HI)
    fake.api_key = KEY
    # the key works again, but the only deployment sits in a 5 s cooldown; not a litellm.RateLimitError
    with pytest.raises(RouterRateLimitError, match="No deployments available"):
        await router.acompletion(model="a", messages=HI)
    assert fake.chat_count == 1


async def test_router_disable_cooldowns(fake: FakeOpenAI) -> None:
    router = Router(model_list=[deployment(fake, "a")], num_retries=0, disable_cooldowns=True)
    fake.api_key = "sk-rotated"
    with pytest.raises(litellm.AuthenticationError):
        await router.acompletion(model="a", messages=HI)
    fake.api_key = KEY
    assert (await router.acompletion(model="a", messages=HI)).choices[0].message.content == "echo: hi"


@pytest.mark.parametrize("step", [RateLimited(retry_after=1), ServerError(500)], ids=["429", "500"])
async def test_router_single_deployment_no_cooldown_on_429_or_500(fake: FakeOpenAI, step: Step) -> None:
    router = Router(model_list=[deployment(fake, "a")], num_retries=0)
    fake.script("a", step)
    with pytest.raises((litellm.RateLimitError, litellm.InternalServerError)):
        await router.acompletion(model="a", messages=HI)
    assert (await router.acompletion(model="a", messages=HI)).choices[0].message.content == "echo: hi"


async def test_router_cools_down_a_rate_limited_deployment_in_a_group(fake: FakeOpenAI) -> None:
    router = Router(model_list=[deployment(fake, "g", "a"), deployment(fake, "g", "b")], num_retries=0)
    fake.script("a", RateLimited(retry_after=1))
    fake.script("b", RateLimited(retry_after=1))
    with pytest.raises(litellm.RateLimitError):
        await router.acompletion(model="g", messages=HI)
    (limited,) = models_called(fake)
    fake.reset()
    for _ in range(4):
        await router.acompletion(model="g", messages=HI)
    other = "b" if limited == "a" else "a"
    assert models_called(fake) == [other] * 4
