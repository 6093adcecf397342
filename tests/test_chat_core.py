"""The conversation core through `core.chat.handle`: the real litellm against loopback fakes, real SQLite."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import col, select

from core.models.registry import get_model, set_model_overrides
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Conversation, Message
from core.threads import conversations
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply


@pytest.fixture
async def world():  # type: ignore[no-untyped-def]
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini", "o3-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


def messages(role: str | None = None) -> list[Message]:
    with session() as s:
        stmt = select(Message).order_by(col(Message.id))
        if role:
            stmt = stmt.where(Message.role == role)
        return list(s.exec(stmt).all())


async def test_a_new_thread_streams_a_reply_from_the_first_local_model_and_stores_who_wrote_it(
    world: World,
) -> None:
    world.local.script("llama-big", Reply(text="Hi! How can I help?", token_delay_s=0.005))
    said = await Thread().say("hello")
    assert said.streamed == "Hi! How can I help?"
    assert said.footer.startswith("local/llama-big · ") and "free (local)" in said.footer
    deltas = [e for e in said.events if type(e).__name__ == "Delta"]
    assert len(deltas) == 5  # token by token, not one blob
    user, reply = messages()
    assert (user.role, user.content, user.event_id) == ("user", "hello", user.event_id)
    assert reply.role == "assistant" and reply.status == "ok" and reply.content == "Hi! How can I help?"
    assert reply.model == "local/llama-big" and reply.provider == "local" and reply.cost_usd == 0
    assert reply.prompt_tokens and reply.completion_tokens == 5
    assert reply.latency_ms and reply.ttft_ms is not None and reply.ttft_ms <= reply.latency_ms


async def test_switching_mid_thread_changes_only_what_comes_after(world: World) -> None:
    thread = Thread()
    first = await thread.say("first question")
    assert "local/llama-big" in first.footer
    switched = await thread.say("!model gpt-4o")
    assert "This thread now uses **oa/gpt-4o**" in switched.text and "paid model" in switched.text
    second = await thread.say("second question")
    assert second.footer.startswith("oa/gpt-4o · ") and "$" in second.footer
    replies = messages("assistant")
    assert [r.model for r in replies] == ["local/llama-big", "oa/gpt-4o"]
    assert replies[0].cost_usd == 0 and (replies[1].cost_usd or 0) > 0
    # the new model got the whole conversation, including the other model's answer
    sent = world.cloud.chat_calls("gpt-4o")[-1]["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == [
        "first question",
        "echo: first question",
        "second question",
    ]
    other = await Thread(thread="T-2").say("unrelated")
    assert "local/llama-big" in other.footer  # the switch belonged to one thread only


async def test_a_redelivered_event_stores_nothing_new_and_gets_no_second_reply(world: World) -> None:
    thread = Thread()
    first = await thread.say("hello", event_id="Ev-1")
    again = await thread.say("hello", event_id="Ev-1")
    assert first.streamed and again.events == []
    # two workers receiving the same delivery at the same moment: exactly one answers
    racing = await asyncio.gather(*(thread.say("hi there", event_id="Ev-2") for _ in range(5)))
    assert sum(1 for s in racing if s.done) == 1
    assert len(messages("user")) == 2 and len(messages("assistant")) == 2
    assert world.local.chat_count == 2


async def test_a_message_too_long_is_refused_and_nothing_is_stored(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.settings import get_settings

    monkeypatch.setenv("SWITCHBOARD_MAX_MESSAGE_CHARS", "100")
    get_settings.cache_clear()
    said = await Thread().say("x" * 150)
    assert said.replies[0].kind == "error" and "150 characters; the limit is 100" in said.text
    assert messages() == [] and world.local.chat_count == 0


async def test_long_history_is_trimmed_to_a_small_window_and_the_user_is_told_once(world: World) -> None:
    thread = Thread()
    for i in range(6):
        await thread.say(f"turn {i}: " + "lorem ipsum dolor sit amet " * 30)
    assert world.local.chat_calls("llama-big")[-1]["messages"][0]["content"].startswith("turn 0")
    # switch to a model with a small window: older turns are left out, newest first
    set_model_overrides("local/llama-small", context_window=1200)
    invalidate()
    await thread.say("!model llama-small")
    said = await thread.say("and now?")
    assert len(said.notices) == 1 and "were left out" in said.notices[0]
    sent = world.local.chat_calls("llama-small")[-1]
    assert sent["messages"][-1]["content"] == "and now?"
    assert len(sent["messages"]) < 13 and sent["max_tokens"] <= 600
    again = await thread.say("still there?")
    assert again.notices == []  # told once
    assert again.done and again.done.result.status == "ok"


async def test_a_message_that_fits_no_model_gets_a_clear_answer(world: World) -> None:
    set_model_overrides("local/llama-big", context_window=200)
    invalidate()
    said = await Thread().say("word " * 400)
    assert said.replies and said.replies[0].kind == "error"
    assert "does not fit local/llama-big's 200-token context window" in said.text
    assert world.local.chat_count == 0


async def test_cancelling_mid_reply_keeps_what_was_streamed(world: World) -> None:
    world.local.script("llama-big", Reply(text="one two three four five six", token_delay_s=0.05))
    thread = Thread()
    stream = conversations_handle(thread, "tell me")
    seen = []
    async for event in stream:
        if type(event).__name__ == "Delta":
            seen.append(event.text)  # type: ignore[union-attr]
        if len(seen) == 2:
            break
    await stream.aclose()
    (reply,) = messages("assistant")
    assert reply.status == "interrupted" and reply.content == "".join(seen) and reply.model == "local/llama-big"


def conversations_handle(thread: Thread, text: str):  # type: ignore[no-untyped-def]
    from core.chat import handle

    return handle(thread.message(text))


async def test_a_reply_left_pending_by_a_dead_process_is_marked_interrupted(world: World) -> None:
    from datetime import timedelta

    start = conversations.start_turn(Thread().message("orphan"))
    assert start.reply_id is not None
    from core.threads.recovery import recover_stale_replies

    assert recover_stale_replies(timedelta(seconds=-1)) == 1
    assert recover_stale_replies(timedelta(seconds=-1)) == 0  # once
    (reply,) = messages("assistant")
    assert reply.status == "interrupted" and "stopped before it finished" in (reply.error or "")


async def test_a_removed_model_gets_a_clear_message_and_suggestions(world: World) -> None:
    thread = Thread()
    await thread.say("!model gpt-4o-mini")
    world.cloud.models = ["gpt-4o", "o3-mini"]
    await world.refresh()
    invalidate()
    said = await thread.say("are you there?")
    assert said.replies[0].kind == "refusal"
    assert "This thread's model, oa/gpt-4o-mini, can't be used" in said.text
    assert "not available from 'oa'" in said.text and "`!model NAME`" in said.text
    assert "`local/llama-big`" in said.text  # a suggestion the user can pick
    assert messages("assistant") == []  # nothing half-written


async def test_model_stats_roll_up_in_the_registry(world: World) -> None:
    from core.models.stats import update_stats

    thread = Thread()
    for i in range(3):
        await thread.say(f"q{i}")
    assert update_stats(["local/llama-big"]) == 1
    m = get_model("local/llama-big")
    assert m is not None and m.latency_p50_ms is not None and m.error_rate == 0


async def test_conversations_are_keyed_by_platform_workspace_channel_and_thread(world: World) -> None:
    await Thread(workspace="A").say("hi")
    await Thread(workspace="B").say("hi")
    await Thread(workspace="A", platform="slack").say("hi")
    with session() as s:
        assert len(s.exec(select(Conversation)).all()) == 3


async def test_tokens_are_counted_when_the_provider_reports_no_usage(world: World) -> None:
    world.local.send_usage = False  # like servers that never send usage, streamed or not
    world.local.script("llama-big", Reply(text="one two three four five six seven"))
    said = await Thread().say("count to seven please")
    assert said.done is not None and said.done.result.completion_tokens == 7
    (reply,) = messages("assistant")
    assert reply.prompt_tokens and reply.prompt_tokens > 0 and reply.completion_tokens == 7
    assert "free (local)" in said.footer and "tokens" in said.footer
