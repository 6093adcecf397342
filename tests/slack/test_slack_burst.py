"""A burst of replies in one workspace, with the fake Slack enforcing Slack's documented rate limits: every answer
arrives whole and still streams, and Slack never has to answer 429 (bot/slack/pacing.py). Slack streams (Tier 2 to
start and stop) take the first twenty replies; the rest are posted and edited (chat.update, Tier 3)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.chatkit import World
from tests.fakes.openai import Reply
from tests.fakes.slack import FakeSlack
from tests.slackkit import Bot, footer_of, wait_for

ANSWER = " ".join(f"word{i}" for i in range(60))  # streamed over about three seconds
CHANNELS = [f"C0BURST{n:04d}" for n in range(6)]
PER_CHANNEL = 5


async def test_thirty_replies_at_once_stay_within_slacks_limits_and_all_arrive_whole(
    world: World, fake: FakeSlack, bot: Bot
) -> None:
    fake.enforce_documented_limits()
    world.local.set_default(Reply(text=ANSWER, token_delay_s=0.05), model="llama-big")
    people = {channel: bot.person("U0BURST0001", "bea", channel=channel) for channel in CHANNELS}
    for channel in CHANNELS:
        fake.add_channel(channel)

    async def ask(i: int, channel: str, n: int) -> dict[str, Any]:
        await asyncio.sleep(i * 0.03)  # all within one second, as a busy workspace sends them
        event = people[channel].app_mention(f"question {n}")
        # Acked in time is shown elsewhere (tests/slack/test_slack_conversations.py); here the test process also
        # runs the app and both fakes on a shared CPU, so the ack's time says little.
        assert (await people[channel].send_event(event)).status == 200
        return event

    asks = [(c, n) for c in CHANNELS for n in range(PER_CHANNEL)]
    mentions = await asyncio.gather(*(ask(i, c, n) for i, (c, n) in enumerate(asks)))

    def finished() -> list[str] | None:
        done = [
            m.text
            for event in mentions
            for m in fake.bot_messages(event["channel"], event["ts"])
            if m.ts != event["ts"] and footer_of(m)
        ]
        return done if len(done) >= len(mentions) else None

    answers = await wait_for(finished, timeout=60, what="every answer")
    await bot.settled()

    assert [call.method for call in fake.api_calls if call.status == 429] == []
    assert len(answers) == len(mentions) == 30  # one answer per question, none twice
    assert all(text.strip() == ANSWER for text in answers)
    calls = {m: [c for c in fake.api_calls if c.method == m and c.ok] for m in ("chat.startStream", "chat.stopStream")}
    assert len(calls["chat.startStream"]) == len(calls["chat.stopStream"]) == 20  # Tier 2: twenty a minute
    progress = [c for c in fake.api_calls if c.ok and c.method in ("chat.appendStream", "chat.update")]
    assert len(progress) > 10  # the ten posted replies' final edits, and progress shown while they streamed
