"""The budget gate is one context manager per attempt: whatever ends the attempt (its end, a failure, an
exception, cancellation, the caller's aclose()), the reservation is settled or released, never left held."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

import pytest
from sqlmodel import select

from core.budgets import add_budget, ledger
from core.budgets.gate import Budgeter
from core.chat import handle
from core.models.registry import ModelInfo, set_model_overrides
from core.settings import get_settings
from core.snapshot import current, invalidate
from core.storage.db import session
from core.storage.tables import BudgetReservation
from core.types import Delta, IncomingMessage, TurnResult
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply

PAID = "oa/gpt-4o"


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SWITCHBOARD_MAX_OUTPUT_TOKENS", "32")
    monkeypatch.setenv("SWITCHBOARD_CONFIRM_OVER_USD", "1000")
    get_settings.cache_clear()
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        world = await make_world(cloud, local)
        set_model_overrides(PAID, input_usd_per_mtok=1000, output_usd_per_mtok=1000)  # $0.001 a token
        yield world


def reservations() -> list[str]:
    with session() as s:
        return sorted(r.status for r in s.exec(select(BudgetReservation)).all())


def _budgeter(limit: float = 5.0) -> tuple[Budgeter, ModelInfo, int]:
    budget = add_budget("global", "day", limit)
    invalidate()
    snap = current()
    model = snap.model(PAID)
    assert model is not None
    msg = IncomingMessage(
        platform="console", workspace="W1", channel="C1", thread="T-1", user="U1", text="hi", event_id="ev-gate"
    )
    return Budgeter(snap.budgets, msg, confirm_over_usd=None), model, budget.id


def _used(cost: float) -> TurnResult:
    return TurnResult(model=PAID, provider="oa", status="ok", prompt_tokens=10, completion_tokens=5, cost_usd=cost)


def _state(budget_id: int) -> ledger.UsageState:
    (budget,) = [b for b in current().budgets if b.id == budget_id]
    return ledger.current([budget], tz="UTC")[budget_id]


async def test_a_finished_attempt_is_settled_with_what_it_recorded(world: World) -> None:
    budgeter, model, budget_id = _budgeter()
    async with budgeter.attempt(model, 10, 32, primary=True) as hold:
        assert hold.refusal is None and reservations() == ["held"]
        hold.record(_used(0.015))
    assert reservations() == ["settled"]
    state = _state(budget_id)
    assert state.reserved == 0 and state.spent == 15_000


async def test_an_attempt_that_recorded_nothing_is_released(world: World) -> None:
    budgeter, model, budget_id = _budgeter()
    async with budgeter.attempt(model, 10, 32, primary=True):
        pass  # e.g. the provider failed before sending anything
    assert reservations() == ["released"]
    assert _state(budget_id).spent == 0


@pytest.mark.parametrize("ending", [RuntimeError("a bug"), asyncio.CancelledError(), GeneratorExit()])
async def test_an_attempt_cut_short_is_charged_what_it_used_so_far(world: World, ending: BaseException) -> None:
    budgeter, model, budget_id = _budgeter()
    with pytest.raises(type(ending)):
        async with budgeter.attempt(model, 10, 32, primary=True, if_cut=lambda: _used(0.012)):
            raise ending
    assert reservations() == ["settled"]
    state = _state(budget_id)
    assert state.reserved == 0 and state.spent == 12_000


async def test_an_attempt_that_cannot_be_priced_when_cut_short_is_released(world: World) -> None:
    def broken() -> TurnResult:
        raise ValueError("no tokenizer")

    budgeter, model, _ = _budgeter()
    with pytest.raises(asyncio.CancelledError):
        async with budgeter.attempt(model, 10, 32, primary=True, if_cut=broken):
            raise asyncio.CancelledError
    assert reservations() == ["released"]


async def test_a_refused_attempt_holds_nothing_and_says_why(world: World) -> None:
    budgeter, model, _ = _budgeter(limit=0.01)  # less than one reply could cost
    async with budgeter.attempt(model, 10, 32, primary=True) as hold:
        assert hold.refusal is not None and hold.refusal.kind == "refusal"
        assert "would go over" in hold.refusal.text
    assert reservations() == []


async def _read_two_deltas(thread: Thread, text: str) -> None:
    seen = 0
    async with aclosing(handle(thread.message(text))) as events:
        async for event in events:
            seen += isinstance(event, Delta)
            if seen == 2:
                return  # the adapter stops reading: handle() is closed (aclose) right here


async def test_a_reply_the_adapter_stops_reading_is_charged_what_was_streamed(world: World) -> None:
    world.cloud.set_default(Reply(text="w0 w1 w2 w3 w4 w5", token_delay_s=0.02), model="gpt-4o")
    budget = add_budget("global", "day", 5.0)
    invalidate()
    thread = Thread()
    await thread.say(f"!model {PAID}")
    await _read_two_deltas(thread, "talk")
    assert reservations() == ["settled"]
    state = ledger.current([budget], tz="UTC")[budget.id]
    assert state.reserved == 0 and state.spent > 0  # the prompt and the two words really streamed


async def test_a_cancelled_reply_is_charged_what_was_streamed(world: World) -> None:
    world.cloud.set_default(Reply(text="slow " * 40, token_delay_s=0.1), model="gpt-4o")
    budget = add_budget("global", "day", 5.0)
    invalidate()
    thread = Thread()
    await thread.say(f"!model {PAID}")
    task = asyncio.create_task(thread.say("take your time"))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if reservations() == ["held"]:
            break
    await asyncio.sleep(0.3)  # some words stream
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reservations() == ["settled"]
    state = ledger.current([budget], tz="UTC")[budget.id]
    assert state.reserved == 0 and state.spent > 0
