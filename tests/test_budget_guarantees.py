"""The budget guarantee holds for any provider behaviour: a reply never streams past what it reserved, a live
reply keeps its reservation, and alerts say what really happened."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from core.alerts import recent_alerts
from core.budgets import add_budget, ledger
from core.models.registry import set_model_overrides
from core.settings import get_settings
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import BudgetReservation, Message
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply

LONG = " ".join(f"w{i}" for i in range(400))  # 400 words: far past the 32-token output limit below
CEILING = 64  # an honest reply may count over by our tokenizer: the hold grows, up to twice the limit


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SWITCHBOARD_MAX_OUTPUT_TOKENS", "32")
    monkeypatch.setenv("SWITCHBOARD_CONFIRM_OVER_USD", "1000")
    get_settings.cache_clear()
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY, honours_max_tokens=False) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None, honours_max_tokens=False) as local,
    ):
        world = await make_world(cloud, local)
        set_model_overrides("oa/gpt-4o", input_usd_per_mtok=1000, output_usd_per_mtok=1000)  # $0.001 a token
        yield world


def assistant_rows() -> list[Message]:
    with session() as s:
        return list(s.exec(select(Message).where(Message.role == "assistant")).all())


@pytest.mark.parametrize("usage", [True, False], ids=["usage-reported", "no-usage"])
async def test_a_provider_ignoring_max_tokens_is_stopped_within_what_it_holds(world: World, usage: bool) -> None:
    world.cloud.set_default(Reply(text=LONG, usage=usage), model="gpt-4o")
    budget = add_budget("global", "day", 5.0)
    invalidate()
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    said = await thread.say("talk for a long time")
    assert world.cloud.chat_calls("gpt-4o")[-1]["max_tokens"] == 32  # we asked; it did not listen
    assert said.done is not None and said.done.result.finish_reason == "length"
    assert "stopped at the output limit" in said.footer and 'say "continue" for more' in said.footer
    assert said.streamed.startswith("w0 w1 w2") and len(said.streamed.split()) < CEILING
    (reply,) = assistant_rows()
    assert reply.content == said.streamed and reply.completion_tokens is not None
    assert 32 < reply.completion_tokens <= CEILING
    with session() as s:
        (reservation,) = s.exec(select(BudgetReservation)).all()
    state = ledger.current([budget], tz="UTC")[budget.id]
    assert state.reserved == 0 and state.spent <= reservation.amount_micros  # never more than it held
    assert state.spent == round((reply.cost_usd or 0) * 1_000_000)


async def test_a_reply_the_budget_cannot_grow_for_stops_and_says_why(world: World) -> None:
    world.cloud.set_default(Reply(text=LONG), model="gpt-4o")
    budget = add_budget("global", "day", 0.05)  # covers the first reservation (~$0.04), not another 16 tokens
    invalidate()
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    said = await thread.say("talk for a long time")
    assert said.done is not None and said.done.result.finish_reason == "budget"
    assert "stopped: the budget cannot cover a longer reply" in said.footer
    (reply,) = assistant_rows()
    assert reply.completion_tokens is not None and reply.completion_tokens <= 32
    state = ledger.current([budget], tz="UTC")[budget.id]
    assert state.reserved == 0 and state.spent == round((reply.cost_usd or 0) * 1_000_000) <= budget.limit_units


async def test_local_replies_are_held_to_the_output_limit_too(world: World) -> None:
    world.local.set_default(Reply(text=LONG), model="llama-big")
    said = await Thread().say("talk")
    assert said.done is not None and said.done.result.finish_reason == "length"
    assert len(said.streamed.split()) < CEILING and "stopped at the output limit" in said.footer


async def test_a_provider_stopping_at_the_limit_itself_is_told_to_the_user(world: World) -> None:
    world.cloud.honours_max_tokens = True
    world.cloud.set_default(Reply(text=LONG), model="gpt-4o")
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    said = await thread.say("talk")
    assert said.done is not None and said.done.result.finish_reason == "length"
    assert "stopped at the output limit" in said.footer


async def test_a_short_reply_is_not_marked_as_cut(world: World) -> None:
    world.cloud.set_default(Reply(text="short and sweet"), model="gpt-4o")
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    said = await thread.say("hi")
    assert said.streamed == "short and sweet" and "output limit" not in said.footer


async def test_a_reply_still_streaming_keeps_its_reservation(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_RESERVATION_TTL", "3")  # renewed every second
    get_settings.cache_clear()
    # one reply reserves (prompt + 32) tokens at $0.001: about $0.04; the budget fits exactly one of them
    add_budget("global", "day", 0.06)
    invalidate()
    # ~10 s of streaming: more than three lifetimes of the reservation
    world.cloud.set_default(Reply(text="slow " * 40, token_delay_s=0.25), model="gpt-4o")
    first, second = Thread(thread="T-1"), Thread(thread="T-2")
    for t in (first, second):
        await t.say("!model oa/gpt-4o")
    slow = asyncio.create_task(first.say("take your time"))
    await asyncio.sleep(0.3)
    # the scheduler's upkeep runs while the first reply streams, well past the reservation's lifetime
    for _ in range(12):
        await asyncio.to_thread(ledger.expire_stale)
        await asyncio.sleep(0.5)
    refused = await second.say("me too")
    assert not slow.done()  # asked while the first reply was still streaming
    said = await slow
    assert said.done is not None and said.done.result.status == "ok"
    assert refused.replies and refused.replies[0].kind == "refusal"  # the live hold still counted
    with session() as s:
        statuses = sorted(r.status for r in s.exec(select(BudgetReservation)).all())
    assert statuses == ["settled"]


async def test_a_refusal_under_the_limit_does_not_say_used_up_and_crossing_100_alerts_once(world: World) -> None:
    world.cloud.set_default(Reply(text="one two three four five six seven eight"), model="gpt-4o")
    budget = add_budget("global", "day", 0.06, hard=False, thresholds=[100])
    hard = add_budget("user:U2", "day", 0.01)  # cannot cover one reply (up to ~$0.04)
    invalidate()
    poor = Thread(thread="T-poor", user="U2")
    await poor.say("!model oa/gpt-4o")
    refused = await poor.say("hello")
    assert refused.replies[0].kind == "refusal"
    (alert,) = recent_alerts(kind="budget")
    assert "used up" not in alert.text
    assert alert.text.startswith(f"The {hard.label} is refusing replies it cannot cover: $0 spent of $0.01")
    rich = Thread(thread="T-rich")
    await rich.say("!model oa/gpt-4o")
    for i in range(6):  # each reply costs ~$0.02: the warn-only budget goes past 100% on the way
        assert (await rich.say(f"q{i}")).done is not None
    used_up = [a for a in recent_alerts(kind="budget") if "used up" in a.text]
    assert len(used_up) == 1 and used_up[0].text.startswith(f"The {budget.label} is used up: $0.")
