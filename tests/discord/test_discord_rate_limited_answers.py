"""Discord's own rate limits never cost a reply: discord.py paces calls by Discord's buckets and retries a 429 five
times; a write still refused after that is waited out again (bot/discord/respond.py), whether it is a whole
answer or part of a streamed reply."""

from __future__ import annotations

import asyncio

from core.budgets import rates
from tests.discordkit import Person, bot_messages, replied
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI, Reply
from tests.test_rate_limits import clear_of_the_minute_end


async def test_a_streamed_reply_discord_rate_limits_six_times_in_a_row_still_arrives(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    llm.script(None, Reply(text="Here is the whole answer."))
    dm = discord_fake.dm_channel(discord_fake.user)
    discord_fake.rate_limit("send_message", retry_after=0.2, times=6)  # one more than discord.py retries alone
    alice.says(dm, "hello")
    await replied(discord_fake, dm, timeout=30)
    (answer,) = bot_messages(discord_fake, dm)
    assert answer.content.startswith("Here is the whole answer.")
    assert [c.status for c in discord_fake.api_calls("send_message")][:7] == [429] * 6 + [200]


async def test_a_refusal_discord_rate_limits_six_times_in_a_row_still_arrives(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    await asyncio.to_thread(rates.add_rate_limit, f"user:{discord_fake.user['id']}", requests_per_minute=1)
    await clear_of_the_minute_end(margin_s=15)
    dm = discord_fake.dm_channel(discord_fake.user)
    alice.says(dm, "hello")
    await replied(discord_fake, dm)
    before = len(discord_fake.api_calls("send_message"))
    discord_fake.rate_limit("send_message", retry_after=0.2, times=6)
    alice.says(dm, "and again")

    def refused() -> list[str]:
        return [m.content for m in bot_messages(discord_fake, dm) if "limited to" in m.content]

    (text,) = await discord_fake.wait_until(refused, 30)
    assert "You are limited to 1 request a minute; try again in " in text
    assert [c.status for c in discord_fake.api_calls("send_message")[before:]] == [429] * 6 + [200]
    assert llm.chat_count == 1
