"""The soak (bench/soak.py), short, in CI: two `switchboard slack` HTTP workers and a scheduler on PostgreSQL, a
fake Slack and a fake OpenAI on loopback, 20% of provider calls faulty, people who do not wait for answers, events
redelivered to the other worker, and one worker killed with kill -9 and started again. What each person sees in
the fake Slack and what the database stored must agree: nothing lost, nothing twice, every failure explained,
turns in order, the budget equal to the stored costs, no reservation held. `make soak` runs the full 10,000."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import FAULTS, Plan, run
from tests.fakes.openai import Mixed, Overlong, Reply, split_tokens

SHORT = Plan(
    messages=320,
    threads=20,
    kill_at=0.3,
    down_s=3.0,
    think_s=0.5,
    patience_s=20.0,
    settle_s=60.0,
    stale_minutes=0.4,  # the killed worker's replies are settled within the run
)


@pytest.mark.timeout(150)
@pytest.mark.parametrize("any_db", ["postgres"], indirect=True)
async def test_a_short_soak_under_faults_loses_nothing(any_db: str, sb_env: dict[str, str], tmp_path: Path) -> None:
    results = await run(SHORT, sb_env, tmp_path)
    print("\n" + results.table())

    assert results.problems() == []  # lost, duplicated, unexplained, interleaved, budget, reservations, settled
    assert results.messages == results.acked == SHORT.messages and results.threads == SHORT.threads
    assert set(results.faults) == {"none", *FAULTS}  # every kind of fault was drawn
    assert results.faults["none"] < results.provider_calls * 0.9
    assert results.killed_after_messages is not None and results.failed_deliveries > 0  # Slack redelivered
    assert results.interrupted == results.interrupted_charged == results.interrupted_told
    assert results.budget_spent_usd > 0 and results.reservations_held == 0
    assert results.tracebacks_shown == 0 and sum(results.tracebacks_logged.values()) == 0


def test_the_fault_mix_is_random_but_seeded() -> None:
    def draws(seed: int) -> list[object]:
        mix = Plan(seed=seed).fault_mix()
        return [mix.draw() for _ in range(500)]

    first, again, other = draws(SHORT.seed), draws(SHORT.seed), draws(SHORT.seed + 1)
    assert first == again and first != other
    faults = sum(1 for step in first if step != Reply())
    assert 70 <= faults <= 130  # about a fifth
    assert {type(step) for step in first} == {Reply, *(type(f) for f in FAULTS.values())}
    assert isinstance(SHORT.fault_mix(), Mixed)


async def test_a_provider_that_ignores_max_tokens_streams_past_it() -> None:
    import litellm

    from tests.fakes.openai import FakeOpenAI

    with FakeOpenAI(models=["gpt-4o"], api_key=None) as fake:
        fake.set_default(Overlong(times=10, text="one two three"))
        stream = await litellm.acompletion(
            model="openai/gpt-4o",
            api_base=f"{fake.url}/v1",
            api_key="sk-any",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=5,
            stream=True,
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert len(split_tokens(text)) == 30 and fake.steps_taken[0][1] == Overlong(times=10, text="one two three")
