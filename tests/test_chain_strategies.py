"""Chain strategies route by what we measured: fastest or cheapest first, and a failing model held back, with the
reason in the footer. Figures are measured the product's way: real replies through the fakes, rolled by
core.models.stats (as the scheduler does), read by routing from the snapshot."""

from __future__ import annotations

import asyncio

import pytest

from core.config.chains import list_chains, save_chain
from core.errors import UserError
from core.models.stats import update_stats
from core.models.sync import refresh
from core.providers.store import add_provider
from core.settings import get_settings
from core.snapshot import invalidate
from tests.adminkit import AdminApp
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply, ServerError

CLOUD = ["gpt-4o", "gpt-4o-mini", "o3-mini", "gpt-4.1", "gpt-4.1-mini"]


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in ("RATE_LIMIT", "TIMEOUT", "SERVER_ERROR"):
        monkeypatch.setenv(f"SWITCHBOARD_RETRIES_{name}", "0")
    get_settings.cache_clear()
    with (
        FakeOpenAI(models=CLOUD, api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


async def measure(world: World, model: str, replies: int, step: Reply | ServerError) -> None:
    """`replies` messages answered by `model` as `step` says, in a thread of its own; then the figures are rolled."""
    world.cloud.set_default(step, model=model)
    thread = Thread(thread=f"warm-{model}")
    await thread.say(f"!model oa/{model}")
    for i in range(replies):
        await thread.say(f"question {i}")
    world.cloud.set_default(Reply(), model=model)
    update_stats()
    invalidate()  # a running bot rereads the figures within half a minute (core.snapshot)


async def on(model: str) -> Thread:
    invalidate()
    thread = Thread()
    await thread.say(f"!model {model}")
    return thread


async def test_fastest_healthy_picks_by_measured_latency_and_skips_a_failing_model(world: World) -> None:
    await measure(world, "gpt-4o-mini", 5, Reply(ttft_s=0.3))
    await measure(world, "gpt-4.1", 5, Reply(ttft_s=0.0))
    await measure(world, "o3-mini", 5, ServerError(500))  # fast to answer, but every answer is an error
    save_chain(
        "main",
        # listed slowest first, and one model never measured (gpt-4.1-mini): the strategy decides, not the list
        ["oa/gpt-4.1-mini", "oa/gpt-4o-mini", "oa/o3-mini", "oa/gpt-4.1"],
        for_model="oa/gpt-4o",
        strategy="fastest",
        max_error_rate=0.2,
    )
    thread = await on("oa/gpt-4o")
    o3_calls = len(world.cloud.chat_calls("o3-mini"))

    world.cloud.script("gpt-4o", ServerError(503))
    said = await thread.say("hello")
    assert said.streamed == "echo: hello"
    assert said.footer.startswith("oa/gpt-4.1 · ")  # the fastest measured model, though listed last
    assert "fallback from oa/gpt-4o: server error" in said.footer
    assert "chain 'main' tries the fastest first: first token in" in said.footer
    assert "skipped oa/o3-mini: 100% of its last 5 replies failed (chain 'main' allows 20%)" in said.footer
    assert len(world.cloud.chat_calls("o3-mini")) == o3_calls  # held back: never called
    assert world.cloud.chat_calls("gpt-4.1-mini") == []  # not measured: after the measured ones

    # the fastest fails too: the next measured one answers, still before the unmeasured model
    world.cloud.script("gpt-4o", ServerError(503))
    world.cloud.script("gpt-4.1", ServerError(503))
    said = await thread.say("again")
    assert said.footer.startswith("oa/gpt-4o-mini · ")
    assert world.cloud.chat_calls("gpt-4.1-mini") == []
    assert len(world.cloud.chat_calls("o3-mini")) == o3_calls


async def test_a_held_back_model_is_still_tried_when_nothing_else_answers(world: World) -> None:
    await measure(world, "o3-mini", 5, ServerError(500))
    save_chain("main", ["oa/o3-mini", "oa/gpt-4.1"], for_model="oa/gpt-4o", max_error_rate=0.2)
    thread = await on("oa/gpt-4o")
    world.cloud.script("gpt-4o", ServerError(503))
    world.cloud.script("gpt-4.1", ServerError(503))
    said = await thread.say("hello")
    assert said.footer.startswith("oa/o3-mini · ")  # recovered: the last resort answered
    assert "tried last: 100% of its last 5 replies failed" in said.footer


async def test_cheapest_tries_the_lowest_price_first(world: World) -> None:
    save_chain("main", ["oa/gpt-4o", "oa/gpt-4.1", "oa/gpt-4o-mini"], for_model="oa/o3-mini", strategy="cheapest")
    thread = await on("oa/o3-mini")
    world.cloud.script("o3-mini", ServerError(503))
    said = await thread.say("hello")
    assert said.footer.startswith("oa/gpt-4o-mini · ")
    assert "chain 'main' tries the cheapest first: $0.15 in / $0.6 out per 1M tokens" in said.footer
    assert world.cloud.chat_calls("gpt-4o") == [] and world.cloud.chat_calls("gpt-4.1") == []


async def test_in_order_is_unchanged_and_one_error_bans_nothing(world: World) -> None:
    await measure(world, "gpt-4o", 1, ServerError(500))  # a single failed reply: 100%, but too few to judge
    save_chain("main", ["oa/gpt-4o", "oa/gpt-4o-mini"], for_model="oa/o3-mini", max_error_rate=0.2)
    thread = await on("oa/o3-mini")
    world.cloud.script("o3-mini", ServerError(503))
    said = await thread.say("hello")
    assert said.footer.startswith("oa/gpt-4o · ")  # as listed
    assert "fallback from oa/o3-mini: server error" in said.footer
    assert "chain '" not in said.footer and "skipped" not in said.footer


async def test_the_thread_s_own_model_answers_first_whatever_the_strategy(world: World) -> None:
    await measure(world, "gpt-4.1", 5, Reply(ttft_s=0.0))
    await measure(world, "gpt-4o", 5, Reply(ttft_s=0.3))
    save_chain("main", ["oa/gpt-4.1"], for_model="oa/gpt-4o", strategy="fastest")
    thread = await on("oa/gpt-4o")
    said = await thread.say("hello")
    assert said.footer.startswith("oa/gpt-4o · ") and "chain '" not in said.footer


def test_chain_settings_are_checked_and_kept() -> None:
    with pytest.raises(UserError, match="Unknown chain strategy 'quickest'"):
        save_chain("main", ["a/b"], strategy="quickest")
    with pytest.raises(UserError, match="error-rate threshold"):
        save_chain("main", ["a/b"], max_error_rate=20)
    with pytest.raises(UserError, match="p95 threshold"):
        save_chain("main", ["a/b"], max_p95_ms=-1)
    save_chain("main", ["a/b"], strategy="fastest", max_error_rate=0.2, max_p95_ms=8000)
    (chain,) = list_chains()
    assert (chain.strategy, chain.max_error_rate, chain.max_p95_ms) == ("fastest", 0.2, 8000)


async def test_the_cli_sets_a_strategy_and_its_thresholds(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    added = cli(
        "chains",
        "add",
        "main",
        "--models",
        "oa/gpt-4o-mini,oa/gpt-4.1",
        "--for-model",
        "oa/gpt-4o",
        "--scope",
        "global",
        "--strategy",
        "fastest",
        "--max-error-rate",
        "0.2",
        "--max-p95-ms",
        "8000",
    )
    assert added.returncode == 0, added.stdout + added.stderr
    listed = cli("chains", "list")
    assert "fastest" in listed.stdout and "errors > 20%" in listed.stdout and "p95 > 8,000 ms" in listed.stdout
    refused = cli("chains", "add", "other", "--models", "oa/gpt-4.1", "--strategy", "quickest")
    assert refused.returncode != 0 and "Unknown chain strategy 'quickest'" in refused.stdout + refused.stderr


def test_the_admin_sets_a_chain_s_strategy_and_thresholds() -> None:
    with FakeOpenAI(models=CLOUD, api_key=CLOUD_KEY) as cloud:
        add_provider("oa", "openai", base_url=cloud.url + "/v1", api_key=CLOUD_KEY)
        asyncio.run(refresh())
        admin = AdminApp.signed_in().open("models")
        admin.fill("Name", "main").choose_many("Try these models, in this order", ["oa/gpt-4.1", "oa/gpt-4o-mini"])
        admin.choose("After the thread's own model, try", "fastest")
        admin.number("Try last above this error rate (%)", 20).number("Try last above this p95 latency (ms)", 8000)
        admin.submit("Save chain")
        assert admin.successes == ["Saved fallback chain 'main'."]
        (chain,) = list_chains()
        assert (chain.strategy, chain.max_error_rate, chain.max_p95_ms) == ("fastest", 0.2, 8000)
        row = admin.table_with("chain").loc[0]
        assert row["strategy"] == "fastest first (by measured time to first token)"
        assert row["try last above"] == "20% errors, p95 8,000 ms"
