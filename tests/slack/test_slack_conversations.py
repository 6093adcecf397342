"""Slack threads as conversations, through the real app in HTTP mode: mentions, thread turns, DMs, streaming."""

from __future__ import annotations

import asyncio

from core.threads import conversations
from tests.chatkit import World
from tests.fakes.openai import Reply, ServerError
from tests.fakes.slack import FakeSlack, Workspace
from tests.slackkit import ADA, CHANNEL, Bot, block_of, footer_of, serve, stored, wait_for

DM = "D0DM0000001"


async def test_a_mention_gets_a_streamed_reply_in_its_thread(world: World, bot: Bot) -> None:
    answer = "Two plus two is **4**. " + " ".join(f"Reason {i}." for i in range(30))
    world.local.script("llama-big", Reply(text=answer, token_delay_s=0.05))
    event = await bot.mention("what is 2+2?")
    (reply,) = await bot.finished(event["ts"])

    # Slack's chat streaming API (the workspace has assistant:write), as a reply in the mention's thread
    assert reply.thread_ts == event["ts"] and reply.stream_state == "completed"
    assert reply.text == answer
    methods = [c.method for c in bot.fake.api_calls if c.method.startswith("chat.")]
    assert methods[0] == "chat.startStream" and methods[-1] == "chat.stopStream"
    assert methods.count("chat.appendStream") >= 1 and set(methods) <= {
        "chat.startStream",
        "chat.appendStream",
        "chat.stopStream",
    }
    start = bot.fake.calls_to("chat.startStream")[0]
    assert (start["channel"], start["thread_ts"]) == (CHANNEL, event["ts"])
    assert (start["recipient_user_id"], start["recipient_team_id"]) == (ADA, bot.fake.workspace().team_id)
    # deltas are coalesced: a few appends a second at most, not one call per token
    gaps = bot.fake.update_intervals(CHANNEL, reply.ts)
    assert len(gaps) < 10 and min(gaps) >= 0.95, gaps
    # the footer and the model menu come with chat.stopStream
    footer = footer_of(reply)
    assert footer.startswith("local/llama-big · ") and "tokens" in footer and "free (local)" in footer
    menu = block_of(reply, "actions")[-1]["elements"][0]
    assert menu["type"] == "external_select" and menu["initial_option"]["value"] == "local/llama-big"
    # the core stored the turn, with the mention stripped and the Slack identity (released once shown and charged)
    await bot.settled()
    user, assistant = stored()
    assert (user.role, user.content, user.user_id) == ("user", "what is 2+2?", ADA)
    assert (assistant.model, assistant.status, assistant.content) == ("local/llama-big", "ok", answer)
    conv = conversations.find_conversation("slack", bot.fake.workspace().team_id, CHANNEL, event["ts"])
    assert conv is not None and conv.current_model == "local/llama-big"
    # Slack sent app_mention and message events for the mention: it was answered once
    assert len(bot.replies(event["ts"])) == 1 and world.local.chat_count == 1


async def test_without_the_streaming_feature_one_message_is_edited_at_most_once_a_second(world: World) -> None:
    no_ai = Workspace(scopes="app_mentions:read,channels:history,chat:write,commands,im:history,users:read")
    answer = " ".join(f"word{i}" for i in range(40))
    world.local.script("llama-big", Reply(text=answer, token_delay_s=0.08))
    with FakeSlack([no_ai]) as fake:
        async with serve(fake) as bot:
            event = await bot.mention("count for me")
            (reply,) = await bot.finished(event["ts"])
    assert not fake.calls_to("chat.startStream")
    posted = fake.calls_to("chat.postMessage")[0]
    assert posted["thread_ts"] == event["ts"] and posted["text"].startswith("word0")
    edits = fake.edits(CHANNEL, reply.ts)
    assert 3 <= len(edits) < 10 and {e.method for e in edits} == {"chat.update"}
    assert min(fake.update_intervals(CHANNEL, reply.ts)) >= 1.0
    assert reply.text == answer and block_of(reply, "markdown")[0]["text"] == answer
    assert footer_of(reply).startswith("local/llama-big · ")


async def test_when_slack_refuses_chat_streaming_the_reply_falls_back_to_edits(world: World, bot: Bot) -> None:
    bot.fake.fail_next("chat.startStream", error="feature_not_enabled")
    answer = " ".join(f"token{i}" for i in range(24))
    world.local.script("llama-big", Reply(text=answer, token_delay_s=0.06))
    event = await bot.mention("stream please")
    (reply,) = await bot.finished(event["ts"])
    assert [c.ok for c in bot.fake.api_calls_to("chat.startStream")] == [False]
    assert bot.fake.calls_to("chat.postMessage") and bot.fake.calls_to("chat.update")
    assert reply.text == answer and footer_of(reply)


async def test_later_messages_in_the_thread_need_no_mention_and_bang_model_switches_it(world: World, bot: Bot) -> None:
    event = await bot.mention("hello")
    ts = event["ts"]
    await bot.finished(ts)
    await bot.say("!model llama-small", thread_ts=ts)
    switched = await wait_for(lambda: [m for m in bot.replies(ts) if "now uses" in m.text])
    assert "*local/llama-small*" in switched[0].text and switched[0].thread_ts == ts
    world.local.script("llama-small", Reply(text="Still here."))
    await bot.say("and now?", thread_ts=ts)
    replies = await bot.finished(ts, count=2)
    assert replies[-1].text == "Still here." and footer_of(replies[-1]).startswith("local/llama-small · ")
    sent = [m["content"] for m in world.local.chat_calls("llama-small")[-1]["messages"]]
    assert "hello" in sent and sent[-1] == "and now?"  # the thread is the conversation
    # A channel message that does not mention the bot, outside its threads, is none of its business.
    await bot.say("lunch anyone?")
    await bot.say("reply in someone else's thread", thread_ts=bot.fake.add_message(CHANNEL, "unrelated").ts)
    await asyncio.sleep(0.5)
    assert len([m for m in stored("user")]) == 2 and world.local.chat_count == 2


async def test_each_top_level_dm_starts_its_own_conversation(world: World, bot: Bot) -> None:
    first = await bot.say("hi there", channel=DM)
    second = await bot.say("another topic", channel=DM)
    await bot.finished(first["ts"], channel=DM)
    await bot.finished(second["ts"], channel=DM)
    team = bot.fake.workspace().team_id
    for event in (first, second):
        conv = conversations.find_conversation("slack", team, DM, event["ts"])
        assert conv is not None and conv.channel == DM
    await bot.say("more on that", channel=DM, thread_ts=first["ts"])
    replies = await bot.finished(first["ts"], count=2, channel=DM)
    assert replies[-1].text == "echo: more on that"
    # In the assistant panel the app shows that it is working
    assert bot.fake.assistant_status[(DM, first["ts"])][0] == "is thinking…"


async def test_when_no_model_can_answer_the_thread_is_told_clearly(world: World, bot: Bot) -> None:
    world.local.set_default(ServerError(503), model="llama-big")
    event = await bot.mention("anyone there?")
    (told,) = await wait_for(lambda: bot.replies(event["ts"]))
    assert told.text.startswith(":warning: Sorry, no model could answer.") and "`!model NAME`" in told.text
    assert not footer_of(told) and stored("assistant")[-1].status == "error"


async def test_other_bots_are_answered_only_when_configured(world: World, fake: FakeSlack) -> None:
    async with serve(fake, SWITCHBOARD_SLACK_ALLOW_BOTS="true") as bot:
        event = bot.ada.app_mention("status report please", user="U0OTHERBOT1")
        event["bot_id"] = "B0OTHERBOT1"
        assert (await bot.ada.send_event(event)).status == 200
        (reply,) = await bot.finished(event["ts"])
    assert reply.text == "echo: status report please"


async def test_the_bot_ignores_its_own_messages_and_other_bots(world: World, bot: Bot) -> None:
    event = await bot.mention("hi")
    ts = event["ts"]
    await bot.finished(ts)
    me = bot.fake.workspace()
    await bot.say("a message the app itself posted", thread_ts=ts, bot_id=me.bot_id, user=me.bot_user_id)
    await bot.say("beep from another bot", thread_ts=ts, bot_id="B0OTHERBOT1", user="U0OTHERBOT1")
    await asyncio.sleep(0.5)
    assert [m.content for m in stored("user")] == ["hi"] and world.local.chat_count == 1


async def test_a_redelivered_event_is_answered_once(world: World, bot: Bot) -> None:
    bot.fake.set_delay("users.info", 1.0)  # Slack is slow today: the work takes a while, the ack does not
    envelope = bot.ada.envelope(bot.ada.app_mention("once please"))
    first = await bot.ada.send_envelope(envelope)
    retry = await bot.ada.send_envelope(envelope, retry_num=1, retry_reason="http_timeout")
    # acked before users.info could have answered: it did not wait for the work (a fixed 0.5 s failed under load)
    assert (first.status, retry.status) == (200, 200) and first.elapsed < 1.0
    ts = envelope["event"]["ts"]
    await bot.finished(ts)
    later = await bot.ada.send_envelope(envelope, retry_num=2, retry_reason="http_timeout")
    assert later.status == 200
    await asyncio.sleep(0.5)
    posts = [c for c in bot.fake.api_calls if c.method in ("chat.postMessage", "chat.startStream")]
    assert len(bot.replies(ts)) == 1 and len(posts) == 1
    assert [m.role for m in stored()] == ["user", "assistant"] and world.local.chat_count == 1


async def test_opening_the_assistant_panel_suggests_prompts(bot: Bot) -> None:
    event = bot.ada.assistant_thread_started(channel=DM)
    assert (await bot.ada.send_event(event)).status == 200
    key = (DM, event["assistant_thread"]["thread_ts"])
    prompts = await wait_for(lambda: bot.fake.assistant_prompts.get(key))
    assert [p["message"] for p in prompts] == ["!help", "!models", "!model"]
