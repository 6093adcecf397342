"""A reply killed with its process: the Discord thread (or DM) is told within seconds, once, whichever bot
process claims the notice first, without waiting for anyone to write there again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.discord.app import create_bot
from core.settings import reload_settings
from core.threads import conversations
from core.threads.recovery import recover_stale_replies
from core.types import IncomingMessage
from tests.discordkit import READY_S, Person, bot_messages, replied
from tests.fakes.discord import FakeDiscord, FakeMessage, running
from tests.fakes.openai import FakeOpenAI, Reply

NOTICE = "-# ℹ️ The reply from lab/gemma-3-12b to the last message here was interrupted after 15 characters"


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SWITCHBOARD_NOTICE_POLL_SECONDS", "0.05")
    reload_settings()
    yield


async def kill_a_reply(workspace: str, channel: str, thread: str, user: dict[str, Any]) -> None:
    """What a process killed mid-reply leaves behind (the user's message, its reply pending with the model
    writing it and what it had streamed), then the scheduler's recovery job finding it. The bot's own replies are
    released first (a reply stays pending until it has been shown and charged), so the job finds only this one."""
    while await asyncio.to_thread(conversations.stale_replies, timedelta(seconds=-1)):
        await asyncio.sleep(0.02)
    msg = IncomingMessage("discord", workspace, channel, thread, user["id"], "and then?", event_id="killed-1")
    reply_id = conversations.start_turn(msg).reply_id
    assert reply_id is not None
    conversations.save_attempt(reply_id, "lab/gemma-3-12b", "lab")
    conversations.save_partial(reply_id, "Then the dragon")
    assert recover_stale_replies(timedelta(seconds=-1)) == 1


def notices(fake: FakeDiscord, channel: dict[str, Any]) -> list[FakeMessage]:
    return [m for m in bot_messages(fake, channel) if "was interrupted" in m.content]


async def open_thread(fake: FakeDiscord, llm: FakeOpenAI, alice: Person) -> dict[str, Any]:
    llm.script(None, Reply(text="Once upon a time."))
    alice.says(fake.channel, "Tell me a story", mention=True)
    (thread,) = await fake.wait_until(lambda: fake.threads_of(fake.channel))
    await replied(fake, thread)
    return thread


async def test_the_thread_is_told_at_once_and_its_next_message_does_not_repeat_it(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    thread = await open_thread(discord_fake, llm, alice)
    await kill_a_reply(discord_fake.guild["id"], discord_fake.channel["id"], thread["id"], alice.user)

    (notice,) = await discord_fake.wait_until(lambda: notices(discord_fake, thread))
    assert notice.content.startswith(NOTICE)
    assert notice.content.endswith("Send `!retry` to get a full answer.")
    await asyncio.sleep(0.3)  # several more polls: nothing more
    assert len(notices(discord_fake, thread)) == 1

    llm.script(None, Reply(text="The end."))
    alice.says(thread, "thanks")
    await replied(discord_fake, thread, count=2)
    assert len(notices(discord_fake, thread)) == 1
    assert not discord_fake.violations


async def test_a_dm_is_told_in_the_dm(bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person) -> None:
    dm = discord_fake.dm_channel(discord_fake.user)
    alice.says(dm, "Tell me a story")
    await replied(discord_fake, dm)
    await kill_a_reply("dm", dm["id"], dm["id"], alice.user)
    (notice,) = await discord_fake.wait_until(lambda: notices(discord_fake, dm))
    assert notice.content.startswith(NOTICE)


async def test_two_bot_processes_post_the_notice_once(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    thread = await open_thread(discord_fake, llm, alice)
    async with running(create_bot(ready_timeout=READY_S, identify_delay_s=0), discord_fake):
        await kill_a_reply(discord_fake.guild["id"], discord_fake.channel["id"], thread["id"], alice.user)
        await discord_fake.wait_until(lambda: notices(discord_fake, thread))
        await asyncio.sleep(0.5)
    assert len(notices(discord_fake, thread)) == 1


async def test_a_notice_discord_refused_is_kept_and_posted_on_a_later_try(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    thread = await open_thread(discord_fake, llm, alice)
    discord_fake.forbid("send_message", times=1)
    await kill_a_reply(discord_fake.guild["id"], discord_fake.channel["id"], thread["id"], alice.user)
    await discord_fake.wait_until(lambda: notices(discord_fake, thread))
    await asyncio.sleep(0.3)
    sent = discord_fake.api_calls("send_message")
    tries = [c for c in sent if "was interrupted" in str((c.json or {}).get("content"))]
    assert [c.status for c in tries] == [403, 200]
    assert len(notices(discord_fake, thread)) == 1
