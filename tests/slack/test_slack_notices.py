"""A reply killed with its process: the thread is told within seconds, once, by whichever Slack process claims
the notice first, without waiting for anyone to write there again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.threads import conversations
from core.threads.recovery import recover_stale_replies
from core.types import IncomingMessage
from tests.chatkit import World
from tests.fakes.openai import Reply
from tests.fakes.slack import FakeSlack, Message, Workspace
from tests.slackkit import ADA, CHANNEL, Bot, install, serve, wait_for

FAST = {"SWITCHBOARD_NOTICE_POLL_SECONDS": "0.05"}
CLIENT = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "client-secret-0001"}


async def kill_a_reply(workspace: str, thread: str) -> None:
    """What a process killed mid-reply leaves behind (the user's message, its reply pending with the model
    writing it and what it had streamed), then the scheduler's recovery job finding it. The bot's own replies are
    released first (a reply stays pending until it has been shown and charged), so the job finds only this one."""
    while await asyncio.to_thread(conversations.stale_replies, timedelta(seconds=-1)):
        await asyncio.sleep(0.02)
    msg = IncomingMessage("slack", workspace, CHANNEL, thread, ADA, "and then what happened?", event_id="Ev-killed")
    reply_id = conversations.start_turn(msg).reply_id
    assert reply_id is not None
    conversations.save_attempt(reply_id, "local/llama-big", "local")
    conversations.save_partial(reply_id, "Then the dragon")
    assert recover_stale_replies(timedelta(seconds=-1)) == 1


def notices(fake: FakeSlack, thread: str) -> list[Message]:
    return [m for m in fake.bot_messages(CHANNEL, thread) if "was interrupted" in m.text]


def still_pending(workspace: str, thread: str) -> str | None:
    conv = conversations.find_conversation("slack", workspace, CHANNEL, thread)
    assert conv is not None
    return conv.pending_notice


async def start_thread(bot: Bot, world: World) -> str:
    world.local.script("llama-big", Reply(text="Once upon a time."))
    event = await bot.mention("tell me a story")
    await bot.finished(event["ts"])
    return str(event["ts"])


async def test_the_thread_is_told_at_once_and_its_next_message_does_not_repeat_it(world: World) -> None:
    with FakeSlack() as fake:
        async with serve(fake, **FAST) as bot:
            ts = await start_thread(bot, world)
            await kill_a_reply(fake.workspace().team_id, ts)

            (notice,) = await wait_for(lambda: notices(fake, ts), timeout=5, what="the notice in the thread")
            assert notice.thread_ts == ts
            assert "The reply from local/llama-big to the last message here was interrupted after 15" in notice.text
            assert "Send `!retry` to get a full answer." in notice.text
            assert notice.blocks and notice.blocks[0]["type"] == "context"  # shown like every other notice
            await asyncio.sleep(0.3)  # several more polls: nothing more
            assert len(notices(fake, ts)) == 1 and still_pending(fake.workspace().team_id, ts) is None

            world.local.script("llama-big", Reply(text="The end."))
            await bot.say("thanks", thread_ts=ts)
            await bot.finished(ts, count=2)
    assert len(notices(fake, ts)) == 1


async def test_two_processes_post_the_notice_once(world: World) -> None:
    with FakeSlack() as fake:
        async with serve(fake, **FAST) as bot, serve(fake, **FAST):
            ts = await start_thread(bot, world)
            await kill_a_reply(fake.workspace().team_id, ts)
            await wait_for(lambda: notices(fake, ts), timeout=5, what="the notice in the thread")
            await asyncio.sleep(0.5)
    assert len(notices(fake, ts)) == 1


async def test_a_notice_slack_refused_is_kept_and_posted_on_a_later_try(world: World) -> None:
    with FakeSlack() as fake:
        async with serve(fake, **FAST) as bot:
            ts = await start_thread(bot, world)
            fake.fail_next("chat.postMessage", "internal_error")
            await kill_a_reply(fake.workspace().team_id, ts)
            await wait_for(lambda: notices(fake, ts), timeout=5, what="the notice, on the second try")
            await asyncio.sleep(0.3)
    tries = [c for c in fake.api_calls_to("chat.postMessage") if "was interrupted" in str(c.params.get("text"))]
    assert [c.ok for c in tries] == [False, True]
    assert len(notices(fake, ts)) == 1


async def test_a_notice_in_a_workspace_not_installed_here_waits_unclaimed_until_it_is(
    any_db: str, world: World
) -> None:
    beta = Workspace(token="xoxb-beta-0002", team_id="T0000000002", team="Beta", domain="beta", bot_user_id="UB2")
    with FakeSlack([Workspace(), beta]) as fake:
        async with serve(fake, **CLIENT, **FAST):
            thread = "1700000000.000100"
            await kill_a_reply(beta.team_id, thread)
            await asyncio.sleep(0.4)
            assert notices(fake, thread) == [] and still_pending(beta.team_id, thread)  # not claimed, not lost

            install(CLIENT["SLACK_CLIENT_ID"], beta)
            (notice,) = await wait_for(lambda: notices(fake, thread), timeout=5, what="the notice, once installed")
    (post,) = [c for c in fake.api_calls_to("chat.postMessage") if c.ok]
    assert post.token == beta.token and notice.thread_ts == thread
