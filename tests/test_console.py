"""`switchboard ask` and `switchboard chat`: a terminal thread on the same core, as real processes."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from core.storage.db import session
from core.storage.tables import Message
from tests.chatkit import CLOUD_KEY, World, make_world
from tests.fakes.openai import FakeOpenAI, RateLimited, Reply


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        yield asyncio.run(make_world(cloud, local))


def test_ask_prints_the_reply_and_footer_and_continues_the_thread(cli, world: World) -> None:  # type: ignore[no-untyped-def]
    world.local.script("llama-big", Reply(text="Paris is the capital of France."))
    first = cli.subprocess("ask", "--thread", "geo", "What is the capital of France?")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["Paris is the capital of France.", first.stdout.splitlines()[1]]
    assert first.stdout.splitlines()[1].startswith("— local/llama-big · ") and "free (local)" in first.stdout
    second = cli.subprocess("ask", "--thread", "geo", "--model", "gpt-4o-mini", "And of Italy?")
    assert second.returncode == 0, second.stderr
    assert "— oa/gpt-4o-mini · " in second.stdout
    sent = world.cloud.chat_calls("gpt-4o-mini")[-1]["messages"]
    assert [m["content"] for m in sent] == [
        "What is the capital of France?",
        "Paris is the capital of France.",
        "And of Italy?",
    ]


def test_ask_fails_clearly(cli, world: World) -> None:  # type: ignore[no-untyped-def]
    unknown = cli.subprocess("ask", "--thread", "t", "--model", "gtp-5", "hi")
    assert unknown.returncode == 1 and "There is no model called 'gtp-5'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    world.cloud.script("gpt-4o", RateLimited(retry_after=0), RateLimited(retry_after=0), RateLimited(retry_after=0))
    failed = cli.subprocess(
        "ask", "--thread", "t2", "--model", "gpt-4o", "hi", env={"SWITCHBOARD_RETRIES_RATE_LIMIT": "0"}
    )
    assert failed.returncode == 1
    assert "no model could answer" in failed.stderr and "rate limited" in failed.stderr


def test_chat_is_interactive_with_commands_and_footer(cli, world: World) -> None:  # type: ignore[no-untyped-def]
    out = cli.subprocess("chat", "--thread", "tty", input="hello\n!model gpt-4o\nhow are you?\n!usage\n")
    assert out.returncode == 0, out.stderr
    assert "This thread uses **local/llama-big**" in out.stdout
    assert "echo: hello\n— local/llama-big · " in out.stdout
    assert "This thread now uses **oa/gpt-4o**" in out.stdout
    assert "echo: how are you?\n— oa/gpt-4o · " in out.stdout
    assert "This thread: 2 replies" in out.stdout
    with session() as s:
        models = [m.model for m in s.exec(select(Message).where(Message.role == "assistant")).all()]
    assert models == ["local/llama-big", "oa/gpt-4o"]


def test_ask_held_for_confirmation_says_so_and_exits_3(cli, world: World) -> None:  # type: ignore[no-untyped-def]
    env = {"SWITCHBOARD_CONFIRM_OVER_USD": "0.000001"}
    held = cli.subprocess("ask", "--thread", "pricey", "--model", "gpt-4o", "hi", env=env)
    assert held.returncode == 3, held.stderr
    assert "could cost up to" in held.stdout and "Nothing was answered yet" in held.stderr
    assert world.cloud.chat_calls("gpt-4o") == []
    sent = cli.subprocess("ask", "--thread", "pricey", "!confirm", env=env)
    assert sent.returncode == 0, sent.stderr
    assert "echo: hi" in sent.stdout and "— oa/gpt-4o · " in sent.stdout
