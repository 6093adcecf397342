"""A price an admin sets wins over guesses: a model of a loopback server (which may proxy a paid API) priced by
hand is paid everywhere: the CLI, replies and their footers, stored costs, budgets and the admin. Names given to
`models set` resolve like `!model` does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from sqlmodel import select

from core.budgets import add_budget
from core.formatting import money
from core.models.registry import get_model, set_model_overrides
from core.models.sync import refresh
from core.providers.store import add_provider
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Message
from tests.adminkit import AdminApp
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def fakeai() -> Iterator[FakeOpenAI]:
    """`fakeai`: an OpenAI-compatible server on loopback, so its models count as local until priced."""
    with FakeOpenAI(models=["alpha-1", "beta-2", "qwen2.5"], api_key=None) as fake:
        add_provider("fakeai", "openai_compatible", base_url=fake.url + "/v1")
        asyncio.run(refresh())
        yield fake


def test_models_set_price_on_a_loopback_model_is_what_the_cli_then_shows(cli, fakeai) -> None:  # type: ignore[no-untyped-def]
    out = cli("models", "set", "fakeai/alpha-1", "--input-usd-per-mtok", "10", "--output-usd-per-mtok", "10")
    assert out.returncode == 0, out.stderr
    assert "Updated fakeai/alpha-1: price $10 in / $10 out per 1M tokens (set by an admin)" in out.stdout
    assert "price free (local)" not in out.stdout and "counts as paid" in out.stdout

    (row,) = json.loads(cli("models", "alpha-1", "--json").stdout)
    assert (row["input_usd_per_mtok"], row["output_usd_per_mtok"], row["price_source"]) == (10, 10, "override")
    assert row["local"] is False and row["on_local_server"] is True
    listed = cli("models", "fakeai").stdout
    alpha = next(line for line in listed.splitlines() if line.startswith("fakeai/alpha-1"))
    assert "$10 in / $10 out per 1M tokens (set by an admin)" in alpha and "local server, paid" in alpha
    beta = next(line for line in listed.splitlines() if line.startswith("fakeai/beta-2"))
    assert "free (local)" in beta

    cleared = cli("models", "set", "alpha-1", "--clear-prices")
    assert cleared.returncode == 0 and "Updated fakeai/alpha-1: price free (local)" in cleared.stdout


def test_models_set_takes_a_bare_name_and_lists_candidates_when_ambiguous(cli, fakeai) -> None:  # type: ignore[no-untyped-def]
    out = cli("models", "set", "alpha-1", "--alias", "a1")
    assert out.returncode == 0, out.stderr
    assert "Updated fakeai/alpha-1" in out.stdout and get_model("a1").name == "fakeai/alpha-1"  # type: ignore[union-attr]

    with FakeOpenAI(models=["alpha-1"], api_key=None) as other:
        add_provider("other", "openai_compatible", base_url=other.url + "/v1")
        asyncio.run(refresh(["other"]))
    ambiguous = cli("models", "set", "alpha-1", "--context-window", "4096")
    assert ambiguous.returncode == 2
    assert "'alpha-1' matches several models: fakeai/alpha-1, other/alpha-1. Use the full name." in ambiguous.stderr
    assert get_model("other/alpha-1").context_window != 4096  # type: ignore[union-attr]

    unknown = cli("models", "set", "gpt-9-ultra", "--context-window", "4096")
    assert unknown.returncode == 2 and "No model named 'gpt-9-ultra'. No model has a close name." in unknown.stderr


@pytest.fixture
async def world():  # type: ignore[no-untyped-def]
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


async def test_a_priced_local_model_costs_money_in_replies_storage_and_budgets(world: World) -> None:
    set_model_overrides("local/llama-big", input_usd_per_mtok=10, output_usd_per_mtok=10)  # $0.00001 a token
    invalidate()
    thread = Thread()
    switched = await thread.say("!model llama-big")
    assert "now uses **local/llama-big**" in switched.text and "It is a paid model" in switched.text

    said = await thread.say("hello there")
    with session() as s:
        reply = s.exec(select(Message).where(Message.role == "assistant")).one()
    tokens = (reply.prompt_tokens or 0) + (reply.completion_tokens or 0)
    assert tokens > 0 and reply.cost_usd == pytest.approx(tokens * 0.00001)
    assert said.footer == f"local/llama-big · {tokens} tokens · {money(tokens * 0.00001)}"

    listing = (await thread.say("!models llama")).text
    assert "`local/llama-big` ← current — ? ctx · $10 in / $10 out per 1M tokens" in listing
    assert "`local/llama-small` [local]" in listing

    add_budget("global", "day", 0.0001)  # too small for any paid reply; free local models pass
    invalidate()
    refused = await thread.say("and again")
    assert refused.replies and refused.replies[0].kind == "refusal" and "budget" in refused.text
    free = await Thread(thread="T-free").say("!model llama-small")
    assert "now uses **local/llama-small**" in free.text
    assert (await Thread(thread="T-free").say("hi")).footer.endswith("free (local)")


@pytest.fixture
def registry() -> Iterator[None]:
    with FakeOpenAI(models=["llama-big"], api_key=None) as local:
        add_provider("local", "openai_compatible", base_url=local.url + "/v1")
        asyncio.run(refresh())
        yield


def test_the_admin_prices_a_model_of_a_local_server_and_is_told_what_that_means(registry: None) -> None:
    admin = AdminApp.signed_in().open("models")
    admin.choose("Model to edit", "local/llama-big").run()
    assert "runs on a local server, so it counts as free (local)" in admin.text()
    price_inputs = [w for w in admin.at.number_input if w.label in ("Input $/Mtok", "Output $/Mtok")]
    assert price_inputs and not any(w.disabled for w in price_inputs)

    admin.number("Input $/Mtok", 10).number("Output $/Mtok", 30).submit("Save model")
    assert admin.successes == ["Saved local/llama-big."]
    model = get_model("local/llama-big")
    assert model is not None and (model.input_usd_per_mtok, model.output_usd_per_mtok) == (10, 30)
    assert not model.is_local and model.is_paid
    row = admin.table_with("model").set_index("model").loc["local/llama-big"]
    assert (row["input $/Mtok"], row["output $/Mtok"], row["local"]) == (10, 30, False)
    admin.choose("Model to edit", "local/llama-big").run()
    assert "has a price you set, so it counts as paid" in admin.text()
