"""Budget confirmations and refusals as Slack and Discord users see them: buttons that work, clear refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from core import snapshot
from core.budgets import add_budget
from core.models.registry import set_model_overrides
from tests.chatkit import CLOUD_KEY, World, make_world
from tests.discordkit import Person, bot_messages, footers
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.slackkit import Bot, footer_of, serve, wait_for

COSTLY = {"SWITCHBOARD_CONFIRM_OVER_USD": "0.05", "SWITCHBOARD_MAX_OUTPUT_TOKENS": "100"}


@pytest.fixture
async def world() -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        made = await make_world(cloud, local)
        set_model_overrides("oa/gpt-4o", input_usd_per_mtok=1000, output_usd_per_mtok=1000)  # $0.001 a token
        snapshot.invalidate()
        yield made


@pytest.fixture
async def slack_bot(world: World) -> AsyncIterator[Bot]:
    with FakeSlack() as fake:
        async with serve(fake, SWITCHBOARD_SLACK_UPDATE_INTERVAL="0.3", **COSTLY) as running:
            yield running


def _button(message: object, label: str) -> tuple[dict, dict]:
    blocks = getattr(message, "blocks", None) or []
    for block in blocks:
        if block["type"] == "actions":
            for element in block["elements"]:
                if element.get("text", {}).get("text") == label:
                    return block, element
    raise AssertionError(f"no {label!r} button in {blocks}")


async def thread_on_gpt4o(bot: Bot) -> str:
    """A Slack thread switched to the costly model; its ts."""
    ts: str = (await bot.mention("hello"))["ts"]
    await bot.finished(ts)
    await bot.say("!model gpt-4o", thread_ts=ts)
    await wait_for(lambda: [m for m in bot.replies(ts) if "now uses" in m.text])
    return ts


async def test_slack_confirm_button_sends_the_expensive_reply(slack_bot: Bot, world: World) -> None:
    bot = slack_bot
    ts = await thread_on_gpt4o(bot)
    await bot.say("write me a long essay", thread_ts=ts)

    def asking() -> list[object]:
        shown = bot.replies(ts) + [e for e in bot.fake.ephemerals if getattr(e, "thread_ts", None) == ts]
        return [m for m in shown if "could cost up to" in m.text]

    (question,) = await wait_for(asking, what="the confirmation question")
    assert world.cloud.chat_calls("gpt-4o") == []
    block, confirm = _button(question, "Confirm")
    _button(question, "Cancel")
    click = bot.ada.block_actions(
        confirm["action_id"],
        confirm["value"],
        element_type="button",
        block_id=block["block_id"],
        message_ts=question.ts,
    )  # type: ignore[attr-defined]
    click["container"].update({"thread_ts": ts})
    await bot.interact(click)
    answered = await wait_for(lambda: [m for m in bot.replies(ts) if footer_of(m).startswith("oa/gpt-4o")])
    assert answered[0].text.startswith("echo: write me a long essay")
    assert len(world.cloud.chat_calls("gpt-4o")) == 1


async def test_slack_budget_refusal_says_why_and_what_to_do(slack_bot: Bot, world: World) -> None:
    add_budget("global", "month", 0.01)
    snapshot.invalidate()
    bot = slack_bot
    ts = await thread_on_gpt4o(bot)
    await bot.say("hello", thread_ts=ts)
    (refusal,) = await wait_for(lambda: [m for m in bot.replies(ts) if "would go over" in m.text])
    assert "monthly budget for everything" in refusal.text and "resets" in refusal.text
    assert "`!model local/llama-big`" in refusal.text or "!model local/llama-big" in refusal.text
    assert world.cloud.chat_calls("gpt-4o") == []


@pytest.fixture
def discord_costly(monkeypatch: pytest.MonkeyPatch, world: World) -> Iterator[None]:
    for key, value in COSTLY.items():
        monkeypatch.setenv(key, value)
    from core.settings import get_settings

    get_settings.cache_clear()
    yield


async def discord_thread_on_gpt4o(fake: FakeDiscord, alice: Person, name: str) -> dict[str, Any]:
    """A new Discord thread that Alice switched to the costly model."""
    thread = fake.add_thread(fake.channel, name)
    alice.says(thread, "!model gpt-4o", mention=True)
    await fake.wait_until(lambda: [m for m in bot_messages(fake, thread) if "now uses" in m.content])
    return thread


async def test_discord_confirm_button_sends_the_expensive_reply(
    discord_costly: None, bot, discord_fake: FakeDiscord, world: World, alice: Person
) -> None:
    thread = await discord_thread_on_gpt4o(discord_fake, alice, "essays")
    alice.says(thread, "write me a long essay")
    (question,) = await discord_fake.wait_until(
        lambda: [m for m in bot_messages(discord_fake, thread) if "could cost up to" in m.content]
    )
    labels = [b.get("label") for row in question.data["components"] for b in row["components"]]
    assert labels == ["Confirm", "Cancel"] and world.cloud.chat_calls("gpt-4o") == []
    alice.clicks("Confirm", question)
    await discord_fake.wait_until(lambda: [f for f in footers(discord_fake, thread) if "oa/gpt-4o" in f])
    assert len(world.cloud.chat_calls("gpt-4o")) == 1


async def test_discord_budget_refusal_says_why(
    discord_costly: None, bot, discord_fake: FakeDiscord, world: World, alice: Person
) -> None:
    add_budget("global", "month", 0.01)
    snapshot.invalidate()
    thread = await discord_thread_on_gpt4o(discord_fake, alice, "budget")
    alice.says(thread, "hello")
    (refusal,) = await discord_fake.wait_until(
        lambda: [m for m in bot_messages(discord_fake, thread) if "would go over" in m.content]
    )
    assert "monthly budget for everything" in refusal.content and "resets" in refusal.content
    assert world.cloud.chat_calls("gpt-4o") == []
