"""Tool calls in a Discord channel or thread (bot/discord/respond.py `ChannelSurface.tool`): each call a line of
small subtext of its own, sent as it starts and edited as it ends, between the text the model wrote before calling
and the answer it wrote after. A turn's events are scripted here and shown through the reply driver on the real
bot's channel (discord.py against the fake Discord); the whole tool loop's tests drive the core too."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import discord

from bot.discord.respond import ChannelSurface
from core.delivery.driver import present
from core.types import Delta, Done, Event, ToolActivity, TurnResult
from tests.discordkit import bot_messages, online
from tests.fakes.discord import FakeDiscord

LOOKUP = ToolActivity("call-1", "docs", "lookup_ticket", 'ticket_id: "T-1"', "running")
FOOTER = "gpt-4o · 1,234 tokens · $0.0100 · 1 tool round"
ANSWERED = TurnResult(model="gpt-4o", provider="openai", status="ok", text="", tool_rounds=1, tool_ms=420)
SUPPRESS_EMBEDS = 1 << 2


async def scripted(*steps: Event | float) -> AsyncIterator[Event]:
    """The events of a turn, a number standing for that many seconds in between."""
    for step in steps:
        if isinstance(step, float):
            await asyncio.sleep(step)
        else:
            yield step


async def test_a_tool_call_shows_running_then_how_it_ended_between_the_text_and_the_answer(
    discord_fake: FakeDiscord,
) -> None:
    async with online(discord_fake) as client:
        channel = client.get_channel(int(discord_fake.channel["id"]))
        assert isinstance(channel, discord.TextChannel)
        outcome = await present(
            scripted(
                Delta("Let me look that up."),
                LOOKUP,
                1.5,  # the call runs: its line is shown as running meanwhile
                dataclasses.replace(LOOKUP, state="ok", seconds=0.42, detail="1.2 KB"),
                Delta("T-1 is still open."),
                Done(ANSWERED, footer=FOOTER),
            ),
            ChannelSurface(channel),
        )
    assert outcome.ok
    before, call, answer = bot_messages(discord_fake, discord_fake.channel)
    assert before.content == "Let me look that up."  # a piece of the reply: no footer under it
    # subtext, Markdown escaped (Discord shows `lookup_ticket`)
    assert call.content == r'-# ✅ docs.lookup\_ticket (ticket\_id: "T-1") · 0.4 s · 1.2 KB'
    assert [e.content for e in call.edits] == [call.content]  # edited once, to how it ended ...
    first = next(c for c in discord_fake.api_calls(method="POST") if str(c.response.get("id")) == str(call.id))
    assert first.json["content"] == r'-# 🔧 docs.lookup\_ticket (ticket\_id: "T-1") · running…'  # ... from running
    assert answer.content == f"T-1 is still open.\n\n-# {FOOTER}"


async def test_what_a_model_put_in_the_arguments_mentions_no_one_and_formats_nothing(
    discord_fake: FakeDiscord,
) -> None:
    user = discord_fake.user["id"]
    sneaky = f'note: "@everyone @here <@{user}> **urgent** [click](https://evil.example)"'
    call = dataclasses.replace(LOOKUP, args=sneaky)
    async with online(discord_fake) as client:
        channel = client.get_channel(int(discord_fake.channel["id"]))
        assert isinstance(channel, discord.TextChannel)
        await present(
            scripted(call, dataclasses.replace(call, state="ok", seconds=0.1), Delta("Done."), Done(ANSWERED, "f")),
            ChannelSurface(channel),
        )
    shown = bot_messages(discord_fake, discord_fake.channel)[0]
    assert "@everyone" not in shown.content and "@here" not in shown.content and f"<@{user}>" not in shown.content
    assert r"\*\*urgent\*\* \[click](" in shown.content  # shown as typed: not bold, not a masked link
    assert "\n" not in shown.content and shown.content.startswith("-# ✅ ")  # one line of subtext
    assert shown.data["mentions"] == [] and not shown.data["mention_everyone"]
    sent = next(c for c in discord_fake.api_calls(method="POST") if str(c.response.get("id")) == str(shown.id))
    assert sent.json["allowed_mentions"]["parse"] == []  # and nothing it says may ping
    assert sent.json["flags"] & SUPPRESS_EMBEDS  # nor unfurl a link
