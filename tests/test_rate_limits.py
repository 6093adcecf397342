"""Rate limits per person, channel, workspace or provider hold across threads, processes and databases, and a
refused message says which limit and when to try again (core/budgets/rates.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from core.budgets import rates
from core.settings import get_settings
from core.storage.db import session
from core.storage.tables import Message, RateWindow
from tests.adminkit import AdminApp
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.conftest import ROOT, Cli
from tests.fakes.openai import FakeOpenAI, Reply

RETRY = re.compile(r"try again in (\d+) s\.")


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    monkeypatch.setenv("SWITCHBOARD_MAX_OUTPUT_TOKENS", "32")
    get_settings.cache_clear()
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        local.set_default(Reply(text="Fine, thanks."))
        yield await make_world(cloud, local)


async def clear_of_the_minute_end(margin_s: float = 8.0) -> None:
    """Windows are clock minutes: start a test that needs one window well inside one."""
    now = datetime.now(UTC)
    if now.second + now.microsecond / 1e6 > 60 - margin_s:
        await asyncio.sleep(60.5 - now.second - now.microsecond / 1e6)


def retry_seconds(text: str) -> int:
    found = RETRY.search(text)
    assert found, text
    return int(found.group(1))


def stored(role: str) -> list[Message]:
    with session() as s:
        return list(s.exec(select(Message).where(Message.role == role).order_by(col(Message.id))).all())


async def test_a_person_over_their_limit_is_told_when_to_try_again(world: World) -> None:
    rates.add_rate_limit("user:U1", requests_per_minute=2)
    await clear_of_the_minute_end()
    ada, bob = Thread("T-a", user="U1"), Thread("T-b", user="U2")
    first, second = await ada.say("hello"), await ada.say("and again")
    assert first.footer and second.footer
    refused = await Thread("T-a2", user="U1").say("one more")

    (reply,) = refused.replies
    assert reply.kind == "refusal" and reply.text.startswith("You are limited to 2 requests a minute; try again in ")
    assert 1 <= retry_seconds(reply.text) <= 60 and not refused.footer
    assert world.local.chat_count == 2  # nothing was sent to a model
    assert [m.content for m in stored("user")] == ["hello", "and again", "one more"]  # the message stays stored
    assert all(m.status != "pending" for m in stored("assistant")) and len(stored("assistant")) == 2
    assert (await bob.say("hi, I'm someone else")).footer  # a person's limit is theirs alone


async def test_a_channel_limit_counts_everyone_in_it(world: World) -> None:
    rates.add_rate_limit("channel:C1", requests_per_minute=3)
    await clear_of_the_minute_end()
    for n, user in enumerate(["U1", "U2", "U3"]):
        assert (await Thread(f"T-{n}", user=user).say(f"question {n}")).footer
    refused = await Thread("T-9", user="U4").say("me too?")
    (reply,) = refused.replies
    assert reply.text.startswith("This channel is limited to 3 requests a minute; try again in ")
    assert retry_seconds(reply.text) <= 60
    assert (await Thread("T-elsewhere", channel="C2", user="U4").say("and here?")).footer
    assert world.local.chat_count == 4


async def test_tokens_per_minute_count_what_replies_really_used(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_MAX_OUTPUT_TOKENS", "200")
    get_settings.cache_clear()
    world.local.set_default(Reply(text=" ".join(f"word{i}" for i in range(150))))
    limit = rates.add_rate_limit("provider:local", tokens_per_minute=300)
    await clear_of_the_minute_end()
    assert (await Thread("T-1").say("tell me a long story")).footer
    (answer,) = stored("assistant")
    used = (answer.prompt_tokens or 0) + (answer.completion_tokens or 0)
    assert 150 <= used < 300
    # held at most prompt + 200 while it streamed, then settled to what it used
    assert rates.current([limit]) == {limit.id: (1, used)}

    refused = await Thread("T-2").say("another long story")
    (reply,) = refused.replies
    assert reply.text.startswith(
        f"Requests to local are limited to 300 tokens a minute ({used:,} used or held this minute"
    )
    assert "try again in" in reply.text and world.local.chat_count == 1
    assert rates.current([limit]) == {limit.id: (1, used)}  # a refusal counts nothing


async def test_a_reply_bigger_than_the_whole_minute_is_refused_without_a_retry_time(world: World) -> None:
    rates.add_rate_limit("workspace:W1", tokens_per_minute=20)  # less than the 32 a reply may write
    refused = await Thread().say("hello")
    (reply,) = refused.replies
    assert reply.text.startswith("This workspace is limited to 20 tokens a minute, and this reply could take up to ")
    assert "try again" not in reply.text and "Start a new thread" in reply.text
    assert world.local.chat_count == 0 and all(m.status != "pending" for m in stored("assistant"))


def test_the_window_resets_when_the_minute_ends() -> None:
    limit = rates.add_rate_limit("channel:C9", requests_per_minute=2)
    start = datetime(2026, 11, 30, 12, 0, 10, tzinfo=UTC)
    for _ in range(2):
        rates.admit([(limit, 1, 0)], now=start)
    with pytest.raises(rates.RateLimited) as refused:
        rates.admit([(limit, 1, 0)], now=start + timedelta(seconds=12.5))
    assert refused.value.text() == (
        "This channel is limited to 2 requests a minute; try again in 38 s. Nothing was sent to a model."
    )
    rates.admit([(limit, 1, 0)], now=start + timedelta(seconds=50))  # 12:01:00, a new minute
    assert rates.current([limit], now=start) == {limit.id: (2, 0)}
    assert rates.current([limit], now=start + timedelta(seconds=50)) == {limit.id: (1, 0)}


def test_a_request_given_back_frees_its_room_and_one_refused_counts_nowhere() -> None:
    per_user = rates.add_rate_limit("user:U1", requests_per_minute=1)
    per_channel = rates.add_rate_limit("channel:C1", requests_per_minute=5, tokens_per_minute=100)
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    hold = rates.admit([(per_user, 1, 40), (per_channel, 1, 40)], now=now)
    assert rates.current([per_user, per_channel], now=now) == {per_user.id: (1, 0), per_channel.id: (1, 40)}
    with pytest.raises(rates.RateLimited):  # the person's limit refuses: the channel counts nothing either
        rates.admit([(per_user, 1, 10), (per_channel, 1, 10)], now=now)
    assert rates.current([per_channel], now=now) == {per_channel.id: (1, 40)}
    rates.release(hold)  # a budget refused it: never sent
    assert rates.current([per_user, per_channel], now=now) == {per_user.id: (0, 0), per_channel.id: (0, 0)}


@pytest.mark.parametrize("any_db", ["sqlite", "postgres"], indirect=True)
def test_concurrent_admissions_never_exceed_the_limit(any_db: str) -> None:
    limit = rates.add_rate_limit("global", requests_per_minute=25, tokens_per_minute=10_000)
    now = datetime.now(UTC).replace(second=5)
    admitted: list[int] = []
    refused: list[str] = []
    gate = threading.Barrier(8)

    def race() -> None:
        gate.wait()
        for _ in range(10):
            try:
                rates.admit([(limit, 1, 100)], now=now)
                admitted.append(1)
            except rates.RateLimited as err:
                refused.append(err.what)

    workers = [threading.Thread(target=race) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(admitted) == 25 and len(refused) == 55 and set(refused) == {"requests"}
    assert rates.current([limit], now=now) == {limit.id: (25, 2500)}


@pytest.mark.parametrize("any_db", ["postgres"], indirect=True)
async def test_a_channel_limit_holds_across_two_worker_processes(
    any_db: str, world: World, sb_env: dict[str, str]
) -> None:
    limit = rates.add_rate_limit("channel:C-shared", requests_per_minute=6)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(sb_env, SWITCHBOARD_MAX_OUTPUT_TOKENS="32")
    await clear_of_the_minute_end(margin_s=25)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.workers.rate_worker", name, "10", "C-shared", "1.0"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("w1", "w2")
    ]
    results = []
    for w in workers:
        out, err = await asyncio.to_thread(w.communicate, timeout=120)
        assert w.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    answered = sum(r["answered"] for r in results)
    refusals = [text for r in results for text in r["refusals"]]
    with session() as s:
        windows = s.exec(select(RateWindow).where(RateWindow.limit_id == limit.id)).all()
    assert answered + len(refusals) == 20
    assert all(w.requests <= 6 for w in windows) and answered == sum(w.requests for w in windows)
    if len(windows) == 1:  # all inside one minute, as intended: exactly the limit, shared by both processes
        assert answered == 6
    assert refusals and all(
        t.startswith("This channel is limited to 6 requests a minute; try again in ") for t in refusals
    )
    assert all(1 <= retry_seconds(t) <= 60 for t in refusals)
    assert world.local.chat_count == answered


def test_limits_are_added_listed_and_removed_from_the_cli(cli: Cli) -> None:
    added = cli("limits", "add", "--scope", "channel:C123", "--rpm", "20", "--tpm", "90000")
    assert added.returncode == 0, added.stderr
    assert "Added rate limit 1: channel C123, at most 20 requests and 90,000 tokens a minute." in added.stdout
    listed = cli("limits", "list")
    assert "channel:C123" in listed.stdout and "0 / 20" in listed.stdout and "0 / 90,000" in listed.stdout
    again = cli("limits", "add", "--scope", "channel:C123", "--rpm", "5")
    assert again.returncode != 0 and "already a rate limit for channel:C123" in again.stderr
    wrong = cli("limits", "add", "--scope", "room:1", "--rpm", "5")
    assert wrong.returncode != 0 and "Unknown scope 'room:1'" in wrong.stderr and "Traceback" not in wrong.stderr
    assert cli("limits", "remove", "1").stdout.strip() == "Removed rate limit 1."
    assert "No rate limits yet" in cli("limits", "list").stdout


def test_the_admin_adds_shows_and_removes_a_rate_limit() -> None:
    admin = AdminApp.signed_in().open("budgets")
    assert "No rate limits yet: nobody is limited in how fast they ask. Add one below." in admin.infos
    admin.choose("Rate limit for", "channel").fill("Its id or name", " C77 ").number("Requests a minute", 20)
    admin.submit("Add rate limit")
    assert admin.successes == ["Added a rate limit for channel C77: at most 20 requests a minute."]
    assert [(r.scope, r.requests_per_minute, r.tokens_per_minute) for r in rates.list_rate_limits()] == [
        ("channel:C77", 20, None)
    ]
    (table,) = [f.value for f in admin.at.dataframe if "requests this minute" in f.value.columns]
    (row,) = table.to_dict("records")
    assert (row["limits"], row["requests this minute"], row["tokens this minute"]) == ("channel C77", "0 of 20", "–")

    admin.choose("Rate limit for", "global").fill("Its id or name", "").number("Requests a minute", None)
    admin.submit("Add rate limit")
    assert any("Give requests a minute, tokens a minute, or both." in e for e in admin.errors)
    assert len(rates.list_rate_limits()) == 1  # a refused form saved nothing

    admin.tick("Yes, delete the rate limit for channel C77").run()
    admin.click("Delete")
    assert rates.list_rate_limits() == []
