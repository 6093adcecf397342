"""Fallback chains with per-error rules, through the real litellm Router against the scriptable fake."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlmodel import col, select

from core.config.chains import save_chain
from core.models.registry import set_model_overrides
from core.models.sync import refresh
from core.providers.store import add_provider, get_provider
from core.settings import get_settings
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Message
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import (
    ContentPolicy,
    Disconnect,
    FakeOpenAI,
    Hang,
    RateLimited,
    Reply,
    ServerError,
)


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in ("RATE_LIMIT", "TIMEOUT", "SERVER_ERROR"):
        monkeypatch.setenv(f"SWITCHBOARD_RETRIES_{name}", "0")
    monkeypatch.setenv("SWITCHBOARD_REQUEST_TIMEOUT", "1")
    get_settings.cache_clear()
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini", "o3-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


def replies() -> list[Message]:
    with session() as s:
        return list(s.exec(select(Message).where(Message.role == "assistant").order_by(col(Message.id))).all())


async def on(model: str, chain: list[str], **kw: object) -> Thread:
    save_chain("main", chain, for_model=model, **kw)  # type: ignore[arg-type]
    invalidate()
    thread = Thread()
    await thread.say(f"!model {model}")
    return thread


async def test_rate_limit_retries_as_configured_then_falls_back(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SWITCHBOARD_RETRIES_RATE_LIMIT", "1")
    get_settings.cache_clear()
    thread = await on("oa/gpt-4o", ["oa/gpt-4o-mini"])
    world.cloud.script("gpt-4o", RateLimited(retry_after=0), RateLimited(retry_after=0))
    said = await thread.say("hello")
    assert len(world.cloud.chat_calls("gpt-4o")) == 2  # one try + one retry, then the next model
    assert said.streamed == "echo: hello"
    assert said.footer.startswith("oa/gpt-4o-mini · ") and "fallback from oa/gpt-4o: rate limited" in said.footer
    (failed,) = [r for r in replies() if r.status == "error"]
    (answered,) = [r for r in replies() if r.status == "ok"]
    assert (failed.model, failed.status) == ("oa/gpt-4o", "error") and "rate limited" in (failed.error or "")
    assert answered.model == "oa/gpt-4o-mini" and answered.fallback_from == "oa/gpt-4o"
    assert answered.fallback_reason == "rate limited" and answered.status == "ok"


async def test_a_timeout_falls_back(world: World) -> None:
    thread = await on("oa/gpt-4o", ["oa/o3-mini"])
    world.cloud.script("gpt-4o", Hang())
    started = time.perf_counter()
    said = await thread.say("hello")
    assert time.perf_counter() - started < 5
    assert "oa/o3-mini" in said.footer and "fallback from oa/gpt-4o: timed out" in said.footer


async def test_a_server_error_falls_back(world: World) -> None:
    thread = await on("oa/gpt-4o", ["oa/o3-mini"])
    world.cloud.script("gpt-4o", ServerError(503))
    said = await thread.say("hello")
    assert "fallback from oa/gpt-4o: server error" in said.footer


async def test_context_window_exceeded_goes_to_the_next_model_with_a_larger_window(world: World) -> None:
    # our metadata says 128k, but the server enforces less: the error comes from the provider
    world.cloud.context_windows["gpt-4o"] = 20
    set_model_overrides("oa/o3-mini", context_window=16_000)
    set_model_overrides("oa/gpt-4o-mini", context_window=200_000)
    thread = await on("oa/gpt-4o", ["oa/o3-mini", "oa/gpt-4o-mini"])
    said = await thread.say("please summarise this rather long request for me " * 4)
    assert world.cloud.chat_calls("o3-mini") == []  # its window is not larger: skipped
    assert "oa/gpt-4o-mini" in said.footer and "context window exceeded" in said.footer


async def test_an_auth_error_marks_the_provider_unhealthy_and_skips_its_models(world: World) -> None:
    with FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key="sk-the-real-key-0000") as other:
        add_provider("stale", "openai", base_url=other.url + "/v1", api_key="sk-revoked-key-0000")
        other.api_key = None
        await refresh()
        other.api_key = "sk-the-real-key-0000"  # the stored key is rejected from now on
        invalidate()
        thread = await on("stale/gpt-4o", ["stale/gpt-4o-mini", "oa/gpt-4o-mini"])
        said = await thread.say("hello")
        assert len(other.chat_calls()) == 1  # the second model of the same provider was not even tried
    assert "oa/gpt-4o-mini" in said.footer and "authentication failed" in said.footer
    health = get_provider("stale")
    assert (
        health is not None
        and health.last_check_ok is False
        and "authentication failed" in (health.last_check_error or "")
    )


async def test_content_policy_stops_by_default(world: World) -> None:
    thread = await on("oa/gpt-4o", ["oa/gpt-4o-mini"])
    world.cloud.script("gpt-4o", ContentPolicy())
    said = await thread.say("something the provider refuses")
    assert world.cloud.chat_calls("gpt-4o-mini") == []
    assert said.replies and said.replies[0].kind == "error" and "content policy" in said.text
    final, failed = replies()  # the claimed reply row comes first, the failed attempt is recorded after it
    assert final.status == "error" and final.model is None and "content policy" in (final.error or "")
    assert failed.status == "error" and failed.model == "oa/gpt-4o"


async def test_content_policy_falls_back_where_the_chain_says_so(world: World) -> None:
    thread = await on("oa/gpt-4o", ["oa/gpt-4o-mini"], content_policy_rule="fallback")
    world.cloud.script("gpt-4o", ContentPolicy())
    said = await thread.say("something the provider refuses")
    assert "fallback from oa/gpt-4o: content policy" in said.footer


async def test_a_disconnect_mid_stream_keeps_the_partial_reply_and_does_not_restart(world: World) -> None:
    thread = await on("oa/gpt-4o", ["oa/gpt-4o-mini"])
    world.cloud.script("gpt-4o", Disconnect(after_tokens=3, text="one two three four five"))
    said = await thread.say("count")
    assert said.streamed == "one two three"
    assert world.cloud.chat_calls("gpt-4o-mini") == []  # the user saw text: no second answer on top
    assert "cut off (unreachable" in said.footer and said.footer.endswith("`!retry` for a full answer")
    (reply,) = replies()
    assert reply.status == "partial" and reply.content == "one two three" and reply.model == "oa/gpt-4o"


async def test_every_model_failing_gets_a_clear_answer(world: World) -> None:
    thread = await on("oa/gpt-4o", ["oa/gpt-4o-mini"])
    world.cloud.script("gpt-4o", ServerError(500))
    world.cloud.script("gpt-4o-mini", ServerError(502))
    said = await thread.say("hello")
    (error,) = [r for r in said.replies if r.kind == "error"]
    assert "no model could answer" in error.text and "oa/gpt-4o: server error (HTTP 500)" in error.text
    assert "`!model NAME`" in error.text and "Traceback" not in error.text


async def test_a_free_thread_moves_to_a_paid_model_only_where_the_chain_allows(world: World) -> None:
    thread = await on("local/llama-big", ["oa/gpt-4o-mini"])
    world.local.script("llama-big", ServerError(500))
    said = await thread.say("hello")
    assert world.cloud.chat_calls() == [] and said.replies[0].kind == "error"

    await on("local/llama-big", ["oa/gpt-4o-mini"], allow_paid=True)
    world.local.script("llama-big", ServerError(500))
    said = await thread.say("hello again")
    assert "oa/gpt-4o-mini" in said.footer and "fallback from local/llama-big" in said.footer


async def test_a_global_chain_applies_when_no_model_chain_exists(world: World) -> None:
    save_chain("everywhere", ["local/llama-small"])
    invalidate()
    world.local.script("llama-big", ServerError(500))
    said = await Thread().say("hello")
    assert "local/llama-small" in said.footer and "fallback from local/llama-big: server error" in said.footer


async def test_virtual_model_names_the_real_model_that_answered(world: World) -> None:
    from core.config.chains import save_virtual_model

    save_virtual_model("auto-fast", ["local/llama-big", "local/llama-small"], "latency")
    invalidate()
    thread = Thread()
    picked = await thread.say("!model auto-fast")
    assert "now uses **auto-fast**" in picked.text
    said = await thread.say("hello")
    assert said.footer.startswith(("local/llama-big (via auto-fast)", "local/llama-small (via auto-fast)"))
    (reply,) = replies()
    assert reply.model in ("local/llama-big", "local/llama-small")


async def test_concurrent_threads_stream_independently(world: World) -> None:
    world.local.token_delay_s = 0.01
    results = await asyncio.gather(*(Thread(thread=f"T{i}").say(f"q{i}") for i in range(20)))
    assert [r.streamed for r in results] == [f"echo: q{i}" for i in range(20)]
    assert world.local.max_in_flight > 1
    assert len(replies()) == 20


async def test_a_prompt_template_renders_its_variables(world: World) -> None:
    from core.config.prompts import save_template

    save_template("house", "local/*", "You help {user} on {platform} (model {model}), today is {date}.")
    invalidate()
    await Thread(user="U7").say("hi")
    system = world.local.chat_calls("llama-big")[-1]["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You help user-U7 on console (model local/llama-big), today is 20")
    world.local.script("llama-big", Reply(text="ok"))


async def test_a_provider_that_is_down_is_called_unreachable_not_a_server_error(world: World) -> None:
    thread = await on("oa/gpt-4o", ["local/llama-big"])
    world.cloud.stop()  # nothing listens on its port any more: connections are refused
    said = await thread.say("hello?")
    assert "fallback from oa/gpt-4o: unreachable" in said.footer
    (failed,) = [m for m in replies() if m.status == "error"]
    assert failed.error == "unreachable" and "HTTP 500" not in (failed.error or "")
    world.local.stop()
    said = await thread.say("anyone?")
    (error,) = [r for r in said.replies if r.kind == "error"]
    assert "oa/gpt-4o: unreachable" in error.text and "server error" not in error.text


async def test_every_model_failing_for_reasons_that_are_sentences_reads_without_double_stops(world: World) -> None:
    from core.budgets import add_budget

    thread = await on("oa/gpt-4o", ["oa/gpt-4o-mini"])
    add_budget("model:oa/gpt-4o-mini", "day", 0.000001)  # the fallback is refused with a sentence of its own
    invalidate()
    world.cloud.script("gpt-4o", ServerError(500))
    said = await thread.say("hello")
    (error,) = [r for r in said.replies if r.kind == "error"]
    assert "oa/gpt-4o-mini: The daily budget for model oa/gpt-4o-mini would go over" in error.text
    assert ".." not in error.text and error.text.endswith("(see `!models`).")
