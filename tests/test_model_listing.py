"""One listing for `!models`, `/models` and `switchboard models`: the same models (virtual ones too) and the same
filters, and a filter that cannot be read is refused with what a valid one looks like."""

from __future__ import annotations

import json

import pytest

from core.snapshot import invalidate
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
async def world():  # type: ignore[no-untyped-def]
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


async def test_a_virtual_model_is_listed_by_the_cli_and_in_chat_alike(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    added = cli("virtual", "add", "auto-fast", "--members", "oa/gpt-4o,oa/gpt-4o-mini", "--strategy", "latency")
    assert added.returncode == 0, added.stderr
    invalidate()
    in_chat = (await Thread().say("!models auto")).replies[0]
    assert [m.name for g in in_chat.data.groups for m in g.models] == ["auto-fast"]

    listed = cli("models", "auto")
    assert listed.returncode == 0 and listed.stdout.splitlines()[2].startswith("auto-fast ")
    (row,) = json.loads(cli("models", "auto", "--json").stdout)
    assert row["name"] == "auto-fast" and row["provider"] == "virtual"
    assert row["input_usd_per_mtok"] == pytest.approx(2.5)  # the dearest member's price


BAD_FILTERS = {
    "under:$-1": "`under:$-1` is not a price",
    "under:$1e309": "`under:$1e309` is not a price",
    "under:abc": "`under:abc` is not a price",
    "under:$nan": "`under:$nan` is not a price",
    "ctx:lots": "`ctx:lots` is not a context size",
    "page:two": "`page:two` is not a page number",
}


async def test_an_unreadable_filter_is_refused_with_what_a_valid_one_looks_like(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    for word, message in BAD_FILTERS.items():
        (reply,) = (await Thread().say(f"!models {word}")).replies
        assert reply.kind == "error" and reply.text.startswith(message), reply.text
        out = cli("models", word)
        assert out.returncode == 2 and f"Error: {message}" in out.stderr, (word, out.stdout, out.stderr)
    (price,) = (await Thread().say("!models under:$-1")).replies
    assert "like `under:$1` or `under:0.5`" in price.text

    for value in ("-1", "nan", "1e309"):
        out = cli("models", "--max-price", value)
        assert out.returncode == 2 and "A maximum price must be between 0 and 10000" in out.stderr, value

    cheap = (await Thread().say("!models under:$1")).replies[0]
    assert cheap.kind == "models" and cheap.data.filter == "under:$1"
    assert {m.name for g in cheap.data.groups for m in g.models} == {
        "oa/gpt-4o-mini",
        "local/llama-big",
        "local/llama-small",
    }
