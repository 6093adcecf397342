"""Tools as Slack and Discord users see them: a question that needs a tool, the call shown in the thread while it
runs and after, a consent button for a tool that asks first, and a footer with model, rounds, tokens and cost. The
real apps against the fake Slack and Discord, the real litellm against the fake OpenAI (tool calls streamed as
OpenAI streams them), the real MCP SDK against the loopback MCP server over stdio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from core.storage.db import session
from core.storage.tables import Message
from tests.chatkit import World
from tests.discord.test_adapter_budgets import _button, discord_thread_on_gpt4o, thread_on_gpt4o
from tests.discordkit import Person, bot_messages, footers
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import Reply as Say
from tests.fakes.openai import ToolCall
from tests.fakes.slack import FakeSlack
from tests.slackkit import Bot, footer_of, serve, wait_for
from tests.toolskit import CLOSE, LOOKUP, add_tickets, closed, tool_world


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with tool_world() as made:
        yield made


@pytest.fixture
async def slack_bot(world: World) -> AsyncIterator[Bot]:
    with FakeSlack() as fake:
        async with serve(fake, SWITCHBOARD_SLACK_UPDATE_INTERVAL="0.3") as running:
            yield running


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "closed.jsonl"


def two_rounds(world: World) -> None:
    world.cloud.script(
        "gpt-4o",
        Say(text="Let me check that ticket.", tool_calls=(ToolCall(LOOKUP, {"ticket_id": "T-1"}),)),
        Say(text="Ticket T-1 is open; its owner is on it."),
    )


def tool_rows() -> list[Message]:
    with session() as s:
        return list(s.exec(select(Message).where(Message.role == "tool")).all())


async def test_slack_a_two_round_tool_loop_shows_the_call_and_answers_below_it(
    slack_bot: Bot, world: World, log: Path
) -> None:
    await add_tickets(log)
    bot = slack_bot
    ts = await thread_on_gpt4o(bot)
    two_rounds(world)
    await bot.say("who owns ticket T-1?", thread_ts=ts)
    answer = await wait_for(lambda: [m for m in bot.replies(ts) if footer_of(m).startswith("oa/gpt-4o")])
    footer = footer_of(answer[-1])
    assert "tokens" in footer and "$" in footer and "1 tool round" in footer and "s in tools" in footer
    assert "Ticket T-1 is open; its owner is on it." in answer[-1].text

    shown = [m for m in bot.replies(ts) if "lookup_ticket" in m.text]
    (line,) = shown
    assert "tickets.lookup_ticket" in line.text and 'ticket_id: "T-1"' in line.text
    assert "running" not in line.text  # updated to how it ended
    ordered = [m.ts for m in bot.replies(ts)]
    assert ordered.index(line.ts) < ordered.index(answer[-1].ts)  # the answer lands below the call
    assert bot.fake.edits(line.channel, line.ts)  # posted while it ran, then updated
    result = [m for m in world.cloud.chat_calls("gpt-4o")[-1]["messages"] if m["role"] == "tool"]
    assert result[0]["content"].startswith("Ticket T-1: ")
    (row,) = tool_rows()
    assert (row.tool_calls or [])[0]["status"] == "ok"


async def test_slack_a_tool_that_needs_consent_runs_when_the_button_is_clicked(
    slack_bot: Bot, world: World, log: Path
) -> None:
    await add_tickets(log, consent=("close_ticket",))
    bot = slack_bot
    ts = await thread_on_gpt4o(bot)
    world.cloud.script(
        "gpt-4o", Say(tool_calls=(ToolCall(CLOSE, {"ticket_id": "T-4"}),)), Say(text="Done: T-4 is closed.")
    )
    await bot.say("close T-4", thread_ts=ts)

    def asking() -> list[Any]:
        shown = bot.replies(ts) + [e for e in bot.fake.ephemerals if getattr(e, "thread_ts", None) == ts]
        return [m for m in shown if "Run it?" in m.text]

    (question,) = await wait_for(asking, what="the consent question")
    assert "tickets.close_ticket" in question.text and closed(log) == []
    _button(question, "Don't run")
    _button(question, "Always in this thread")
    block, run = _button(question, "Run it")
    click = bot.ada.block_actions(
        run["action_id"], run["value"], element_type="button", block_id=block["block_id"], message_ts=question.ts
    )
    click["container"].update({"thread_ts": ts})
    await bot.interact(click)
    answer = await wait_for(lambda: [m for m in bot.replies(ts) if "T-4 is closed" in m.text and footer_of(m)])
    assert "1 tool round" in footer_of(answer[0])
    assert closed(log) == [{"closed": "T-4", "note": ""}]


async def test_discord_a_two_round_tool_loop_shows_the_call_and_answers_below_it(
    bot: Any, discord_fake: FakeDiscord, world: World, alice: Person, log: Path
) -> None:
    await add_tickets(log)
    thread = await discord_thread_on_gpt4o(discord_fake, alice, "tickets")
    two_rounds(world)
    alice.says(thread, "who owns ticket T-1?")
    await discord_fake.wait_until(lambda: [f for f in footers(discord_fake, thread) if "tool round" in f])
    messages = bot_messages(discord_fake, thread)
    (line,) = [m for m in messages if "lookup\\_ticket" in m.content]  # Markdown-escaped, as Discord shows it
    (answer,) = [m for m in messages if "Ticket T-1 is open" in m.content]
    assert line.content.startswith('-# ✅ tickets.lookup\\_ticket (ticket\\_id: "T-1") · ')
    assert messages.index(line) < messages.index(answer)
    footer = next(f for f in footers(discord_fake, thread) if "tool round" in f)
    assert "oa/gpt-4o" in footer and "tokens" in footer and "$" in footer
    assert not discord_fake.violations


async def test_discord_a_refused_tool_is_not_run_and_the_model_answers_without_it(
    bot: Any, discord_fake: FakeDiscord, world: World, alice: Person, log: Path
) -> None:
    await add_tickets(log, consent=("close_ticket",))
    thread = await discord_thread_on_gpt4o(discord_fake, alice, "closing")
    world.cloud.script(
        "gpt-4o", Say(tool_calls=(ToolCall(CLOSE, {"ticket_id": "T-5"}),)), Say(text="Fine, T-5 stays open.")
    )
    alice.says(thread, "close T-5")
    (question,) = await discord_fake.wait_until(
        lambda: [m for m in bot_messages(discord_fake, thread) if "Run it?" in m.content]
    )
    labels = [b.get("label") for row in question.data["components"] for b in row["components"]]
    assert labels == ["Run it", "Always in this thread", "Don't run"]
    alice.clicks("Don't run", question)
    await discord_fake.wait_until(
        lambda: [m for m in bot_messages(discord_fake, thread) if "T-5 stays open" in m.content]
    )
    assert closed(log) == []
    told = [m for m in world.cloud.chat_calls("gpt-4o")[-1]["messages"] if m["role"] == "tool"]
    assert "declined" in told[0]["content"]
