"""Slack's own rate limits never cost a reply: an answer Slack keeps answering 429 is waited out (Retry-After)
until it is posted (bot/slack/reply.py); a streamed reply's writes are covered by
test_slack_reliability.py::test_slack_rate_limits_are_retried_after_retry_after."""

from __future__ import annotations

import asyncio

from core.budgets import rates
from tests.chatkit import World
from tests.fakes.slack import FakeSlack
from tests.slackkit import ADA, Bot, wait_for
from tests.test_rate_limits import clear_of_the_minute_end


async def test_a_refusal_slack_rate_limits_five_times_in_a_row_still_arrives(
    world: World, fake: FakeSlack, bot: Bot
) -> None:
    await asyncio.to_thread(rates.add_rate_limit, f"user:{ADA}", requests_per_minute=1)
    await clear_of_the_minute_end(margin_s=15)
    first = await bot.mention("hello")
    await bot.finished(first["ts"])
    fake.rate_limit_next("chat.postMessage", retry_after=1, times=5)  # more than the Slack client retries alone
    before = len(fake.api_calls_to("chat.postMessage"))
    await bot.mention("and again", thread_ts=first["ts"])

    def refusal() -> list[str]:
        return [m.text for m in bot.replies(first["ts"]) if "limited to" in m.text]

    (text,) = await wait_for(refusal, timeout=40, what="the rate limit refusal")
    assert text.startswith(":no_entry: You are limited to 1 request a minute; try again in ")
    statuses = [c.status for c in fake.api_calls_to("chat.postMessage")[before:]]
    assert statuses == [429, 429, 429, 429, 429, 200]
    assert world.local.chat_count == 1
