"""Budgets hold under concurrency: real processes, real databases (SQLite and PostgreSQL), the fake provider."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlmodel import col, select

from core.budgets import add_budget, ledger
from core.budgets.store import MICROS
from core.models.registry import set_model_overrides
from core.models.sync import refresh
from core.providers.store import add_provider
from core.storage.db import session
from core.storage.tables import Alert, BudgetReservation, BudgetUsage, Message
from tests.conftest import ROOT
from tests.fakes.openai import FakeOpenAI, Hang

PRICE = 1000.0  # USD per million tokens, in and out: one token costs $0.001


def _env(sb_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # a small max output keeps each reservation close to the real cost, so the race really fills the budget
    env.update(sb_env, SWITCHBOARD_MAX_OUTPUT_TOKENS="8", SWITCHBOARD_CONFIRM_OVER_USD="1000")
    env.update(extra)
    return env


def _worker(name: str, n: int, model: str, env: dict[str, str], spread: float = 0.0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.workers.budget_worker", name, str(n), model, str(spread)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _outcomes(workers: list[subprocess.Popen[str]]) -> list[dict[str, int]]:
    """Each worker's last line: how many of its turns were answered and refused."""
    results = []
    for w in workers:
        out, err = w.communicate(timeout=240)
        assert w.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


async def _paid_provider(fake: FakeOpenAI) -> None:
    add_provider("paid", "openai", base_url=fake.url + "/v1", api_key="sk-race-key-000001")
    await refresh()
    set_model_overrides("paid/gpt-4o", input_usd_per_mtok=PRICE, output_usd_per_mtok=PRICE)


async def test_four_processes_racing_for_one_budget_never_overspend(any_db: str, sb_env: dict[str, str]) -> None:
    with FakeOpenAI(models=["gpt-4o"], api_key=None, token_delay_s=0.01, ttft_s=0.02) as fake:
        await _paid_provider(fake)
        budget = add_budget("global", "month", 1.0, hard=True, thresholds=[10, 25, 50, 80, 100])
        env = _env(sb_env)
        workers = [_worker(f"p{i}", 50, "paid/gpt-4o", env, spread=1.5) for i in range(4)]
        results = _outcomes(workers)
    answered = sum(r.get("answered", 0) for r in results)
    refused = sum(r.get("refused", 0) for r in results)
    assert answered + refused == 200 and answered > 0 and refused > 0

    with session() as s:
        reservation = max(r.amount_micros for r in s.exec(select(BudgetReservation)).all())
        usage = s.exec(select(BudgetUsage).where(BudgetUsage.budget_id == budget.id)).one()
        costs = [m.cost_usd or 0 for m in s.exec(select(Message).where(col(Message.role) == "assistant")).all()]
        held = s.exec(select(BudgetReservation).where(BudgetReservation.status == "held")).all()
        alerts = s.exec(select(Alert).where(Alert.kind == "budget")).all()
    assert usage.reserved_micros == 0 and held == []  # every reservation was settled or released
    assert usage.spent_micros <= budget.limit_units + reservation  # never past the limit by more than one request
    assert round(sum(costs), 2) == round(usage.spent_micros / MICROS, 2)  # the spend is the stored costs
    assert sum(1 for c in costs if c > 0) == answered
    # each crossed threshold fired exactly once across four processes; when refusals began, one alert said so
    fired = sorted(a.dedupe_key.rsplit(":", 1)[1] for a in alerts)
    crossed = [str(t) for t in (10, 25, 50, 80, 100) if usage.spent_micros >= t / 100 * budget.limit_units]
    assert crossed and fired == sorted([*crossed, "refusing"])


async def test_a_killed_process_releases_its_reservation_after_the_expiry(sb_env: dict[str, str]) -> None:
    with FakeOpenAI(models=["gpt-4o"], api_key=None) as fake:
        await _paid_provider(fake)
        fake.set_default(Hang(), model="gpt-4o")
        budget = add_budget("global", "day", 5.0, hard=True)
        worker = _worker("doomed", 1, "paid/gpt-4o", _env(sb_env, SWITCHBOARD_RESERVATION_TTL="1"))
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with session() as s:
                    if s.exec(select(BudgetReservation).where(BudgetReservation.status == "held")).first():
                        break
                time.sleep(0.1)
            else:
                pytest.fail("the worker never reserved")
            os.kill(worker.pid, signal.SIGKILL)  # crash mid-request
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        with session() as s:
            usage = s.exec(select(BudgetUsage).where(BudgetUsage.budget_id == budget.id)).one()
        assert usage.reserved_micros > 0  # the dead process still holds it
        time.sleep(1.2)
        assert ledger.expire_stale() == 1
        assert ledger.expire_stale() == 0  # released once, not twice
        with session() as s:
            usage = s.exec(select(BudgetUsage).where(BudgetUsage.budget_id == budget.id)).one()
            (r,) = s.exec(select(BudgetReservation)).all()
            alerts = s.exec(select(Alert)).all()
        assert usage.reserved_micros == 0 and usage.spent_micros == 0 and r.status == "expired"
        assert alerts == []


@pytest.mark.parametrize("reservation", ["held", "expired"])
async def test_a_reply_killed_mid_stream_is_charged_kept_and_told(
    sb_env: dict[str, str], reservation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from core.settings import get_settings
    from core.snapshot import invalidate
    from core.threads.recovery import recover_stale_replies
    from tests.chatkit import Thread
    from tests.fakes.openai import Reply

    words = " ".join(f"word{i}" for i in range(300))
    with FakeOpenAI(models=["gpt-4o"], api_key=None) as fake:
        await _paid_provider(fake)
        fake.set_default(Reply(text=words, token_delay_s=0.05), model="gpt-4o")
        budget = add_budget("global", "day", 5.0, hard=True)
        env = _env(sb_env, SWITCHBOARD_MAX_OUTPUT_TOKENS="400", SWITCHBOARD_RESERVATION_TTL="1")
        worker = _worker("doomed", 1, "paid/gpt-4o", env)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # wait until the reply's text has been saved once
                with session() as s:
                    saved = s.exec(select(Message).where(Message.role == "assistant", Message.content != "")).first()
                if saved is not None:
                    break
                time.sleep(0.1)
            else:
                pytest.fail("the worker never saved a partial reply")
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        if reservation == "expired":  # the scheduler's budget upkeep got there first: nothing was charged then
            time.sleep(1.2)
            assert ledger.expire_stale() == 1
        invalidate()
        assert recover_stale_replies(timedelta(seconds=-1)) == 1
        assert recover_stale_replies(timedelta(seconds=-1)) == 0  # charged once
        with session() as s:
            (reply,) = s.exec(select(Message).where(Message.role == "assistant")).all()
            usage = s.exec(select(BudgetUsage).where(BudgetUsage.budget_id == budget.id)).one()
            reservations = s.exec(select(BudgetReservation)).all()
        assert reply.status == "interrupted" and reply.model == "paid/gpt-4o" and reply.content.startswith("word0")
        assert reply.completion_tokens and reply.completion_tokens >= len(reply.content.split())
        assert reply.cost_usd and reply.cost_usd > 0
        assert usage.spent_micros == round(reply.cost_usd * MICROS) and usage.reserved_micros == 0
        assert [r.status for r in reservations] == ["settled"]

        # the thread is told on its next message, once, and `!retry` gets a full answer
        fake.set_default(Reply(text="the full answer"), model="gpt-4o")
        monkeypatch.setenv("SWITCHBOARD_CONFIRM_OVER_USD", "1000")
        get_settings.cache_clear()
        thread = Thread(thread="doomed-0", channel="C", workspace="W", platform="race", user="U0")
        said = await thread.say("hello?")
        (notice,) = said.notices
        assert "paid/gpt-4o" in notice and "was interrupted after" in notice and "`!retry`" in notice
        assert said.streamed == "the full answer"
        assert (await thread.say("and again")).notices == []
        retried = await thread.say("!retry")
        assert retried.streamed == "the full answer" and retried.done is not None
        sent = fake.chat_calls("gpt-4o")[-1]["messages"]
        assert sent[-1] == {"role": "user", "content": "and again"}  # answered again, not continued


async def test_probe_a_provider_ignoring_max_tokens_cannot_break_a_hard_budget(
    any_db: str, sb_env: dict[str, str]
) -> None:
    """The issue's probe, as docs/reliability.md records it: a $0.20 daily hard budget, a $10/Mtok model,
    4 processes x 50 concurrent turns, a provider that streams ~4,000 tokens whatever max_tokens (1,024) says."""
    from tests.fakes.openai import Reply

    with FakeOpenAI(models=["gpt-4o"], api_key=None, honours_max_tokens=False, ttft_s=0.02) as fake:
        add_provider("paid", "openai", base_url=fake.url + "/v1", api_key="sk-race-key-000001")
        await refresh()
        set_model_overrides("paid/gpt-4o", input_usd_per_mtok=10, output_usd_per_mtok=10)
        fake.set_default(Reply(text=" ".join(f"w{i}" for i in range(1600))), model="gpt-4o")  # ~4,000 tokens
        budget = add_budget("global", "day", 0.20, hard=True)
        env = _env(sb_env, SWITCHBOARD_MAX_OUTPUT_TOKENS="1024")
        started = time.monotonic()
        workers = [_worker(f"p{i}", 50, "paid/gpt-4o", env, spread=1.0) for i in range(4)]
        results = _outcomes(workers)
        seconds = time.monotonic() - started
    with session() as s:
        reservations = s.exec(select(BudgetReservation)).all()
        usage = s.exec(select(BudgetUsage).where(BudgetUsage.budget_id == budget.id)).one()
        replies = s.exec(select(Message).where(col(Message.role) == "assistant")).all()
    largest = max(r.amount_micros for r in reservations)
    costs = sum(m.cost_usd or 0 for m in replies)
    figures = {
        "engine": any_db,
        "answered": sum(r.get("answered", 0) for r in results),
        "refused": sum(r.get("refused", 0) for r in results),
        "largest_completion_tokens": max((m.completion_tokens or 0) for m in replies),
        "spent_usd": usage.spent_micros / MICROS,
        "limit_usd": budget.limit_units / MICROS,
        "largest_reservation_usd": largest / MICROS,
        "sum_of_stored_costs_usd": round(costs, 6),
        "reservations_left_held": sum(1 for r in reservations if r.status == "held"),
        "seconds": round(seconds, 1),
    }
    print("budget probe:", json.dumps(figures))
    assert figures["answered"] + figures["refused"] == 200 and figures["answered"] > 0
    assert usage.spent_micros <= budget.limit_units + largest  # overspend at most one reservation
    assert round(costs * MICROS) == usage.spent_micros  # spend is exactly the stored costs
    assert figures["reservations_left_held"] == 0 and usage.reserved_micros == 0
    assert figures["largest_completion_tokens"] <= 2 * 1024  # no reply streamed past what it could hold
