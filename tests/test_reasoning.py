"""Reasoning models: their thinking is shown apart from the answer on every surface, never sent back as history,
stored, and counted in tokens and cost; a workspace may hide it (it is still stored and counted).

The fake OpenAI-compatible server streams the thinking as DeepSeek and vLLM do (`delta.reasoning_content` chunks
before the answer's, usage with `completion_tokens_details.reasoning_tokens`), read through the real litellm.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from core.config.scopes import ScopeKey, effective_policy, load_all, update_scope
from core.delivery.surface import Thought
from core.models.registry import set_model_overrides
from core.providers import llm
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Message
from core.threads.conversations import history, save_attempt, save_partial, start_turn
from core.threads.recovery import recover_stale_replies
from core.types import Thinking
from tests.chatkit import CLOUD_KEY, Said, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply, message_text, split_tokens
from tests.people import Place

THOUGHT = "The user asks for the capital of France.\nLet me recall: it is Paris, on the Seine.\n\nAnswer briefly."
ANSWER = "Paris is the capital of France."
WORDS = len(THOUGHT.split())


@pytest.fixture
async def world() -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        world = await make_world(cloud, local)
        set_model_overrides("oa/gpt-4o", input_usd_per_mtok=100, output_usd_per_mtok=100)  # $0.0001 a token
        yield world


def last_reply() -> Message:
    with session() as s:
        return s.exec(select(Message).where(Message.role == "assistant").order_by(col(Message.id).desc())).first()


def thinking_of(said: Said) -> str:
    return "".join(e.text for e in said.events if isinstance(e, Thinking))


# ---------------------------------------------------------------- what people see


async def test_thinking_is_shown_apart_from_the_answer_and_above_it(place: Place) -> None:
    place.world.local.script("llama-big", Reply(text=ANSWER, reasoning=THOUGHT, token_delay_s=0.01))
    seen = await place.person("ada").says("What is the capital of France?")
    assert seen.answer == ANSWER  # not a word of the thinking in the answer
    assert "Let me recall: it is Paris, on the Seine." in seen.thinking
    assert f"thought for {WORDS} words" in seen.thinking.lower()  # finished once the answer came
    kinds = [s.kind for s in seen.shown]
    assert kinds.count("thinking") == 1 and kinds.index("thinking") < kinds.index("answer")
    assert seen.footer.startswith("local/llama-big · ") and " of them reasoning · free (local)" in seen.footer


async def test_long_thinking_shows_its_latest_part_within_the_platforms_limits(place: Place) -> None:
    steps = [f"Step {i}: weigh the evidence once more before answering." for i in range(60)]
    place.world.local.script("llama-big", Reply(text=ANSWER, reasoning="\n".join(steps)))
    seen = await place.person("ada").says("Think hard: what is the capital of France?")
    assert seen.answer == ANSWER
    assert "Step 59: weigh the evidence once more before answering." in seen.thinking
    if place.surface == "console":  # a terminal has no message limit: it prints all of it
        assert "Step 0: weigh" in seen.thinking
    else:  # the latest part, and it says so (the fake Discord refuses a message over 2,000 characters)
        assert "Step 0: weigh" not in seen.thinking and len(seen.thinking) < 2000
        assert "the latest of it below" in seen.thinking and "…" in seen.thinking


async def test_a_workspace_that_hides_thinking_sees_only_the_answer(place: Place) -> None:
    place.setting("SWITCHBOARD_SHOW_REASONING", "false")
    place.world.local.script("llama-big", Reply(text=ANSWER, reasoning=THOUGHT))
    seen = await place.person("ada").says("What is the capital of France?")
    assert seen.answer == ANSWER and seen.thinking == "" and "Paris, on the Seine" not in seen.text
    stored = last_reply()  # stored and counted all the same
    assert stored.reasoning == THOUGHT and stored.reasoning_tokens == len(split_tokens(THOUGHT))


# ---------------------------------------------------------------- history, storage, tokens and cost


async def test_thinking_is_never_sent_back_as_history(world: World) -> None:
    thread = Thread()
    world.local.script("llama-big", Reply(text=ANSWER, reasoning=THOUGHT), Reply(text="About two million."))
    first = await thread.say("What is the capital of France?")
    assert thinking_of(first) == THOUGHT and first.streamed == ANSWER
    await thread.say("How many people live there?")

    sent = [(m["role"], message_text(m)) for m in world.local.chat_calls("llama-big")[-1]["messages"]]
    assert ("assistant", ANSWER) in sent
    assert not any("recall" in text for _, text in sent)
    conversation = last_reply().conversation_id
    assert [turn[1] for turn in history(conversation)] == [  # (role, content, ...): what goes back to a model
        "What is the capital of France?",
        ANSWER,
        "How many people live there?",
        "About two million.",
    ]


async def test_thinking_is_stored_and_counted_once_in_tokens_and_cost(world: World) -> None:
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    world.cloud.script("gpt-4o", Reply(text=ANSWER, reasoning=THOUGHT))
    said = await thread.say("What is the capital of France?")

    row = last_reply()
    thought_tokens, answer_tokens = len(split_tokens(THOUGHT)), len(split_tokens(ANSWER))
    assert (row.content, row.reasoning, row.reasoning_tokens) == (ANSWER, THOUGHT, thought_tokens)
    # the provider's completion_tokens already hold the reasoning tokens: taken as they are, not added again
    assert row.completion_tokens == thought_tokens + answer_tokens
    assert row.prompt_tokens and row.cost_usd == pytest.approx((row.prompt_tokens + row.completion_tokens) / 10_000)
    assert f" tokens · {thought_tokens} of them reasoning · $" in said.footer


async def test_without_usage_the_thinking_is_counted_by_our_tokenizer(world: World) -> None:
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    world.cloud.script("gpt-4o", Reply(text=ANSWER, reasoning=THOUGHT, usage=False))
    await thread.say("What is the capital of France?")

    row = last_reply()
    thought_tokens = llm.count_text_tokens("openai/gpt-4o", THOUGHT)
    assert row.reasoning == THOUGHT and row.reasoning_tokens == thought_tokens
    assert row.completion_tokens == llm.count_text_tokens("openai/gpt-4o", ANSWER) + thought_tokens
    assert row.prompt_tokens and row.cost_usd == pytest.approx((row.prompt_tokens + row.completion_tokens) / 10_000)


async def test_reasoning_as_newer_servers_name_it_is_read_too(world: World) -> None:
    world.local.script("llama-big", Reply(text=ANSWER, reasoning=THOUGHT, reasoning_field="reasoning"))
    said = await Thread().say("What is the capital of France?")
    assert thinking_of(said) == THOUGHT and said.streamed == ANSWER


async def test_each_workspace_or_channel_chooses_whether_thinking_is_shown(world: World) -> None:
    world.local.set_default(Reply(text=ANSWER, reasoning=THOUGHT))
    update_scope(ScopeKey("console", "W1", ""), show_reasoning=False)
    update_scope(ScopeKey("console", "W1", "C-on"), show_reasoning=True)
    invalidate()

    hidden = await Thread(thread="T-hidden", workspace="W1").say("What is the capital of France?")
    assert thinking_of(hidden) == "" and hidden.streamed == ANSWER
    assert last_reply().reasoning == THOUGHT
    other = await Thread(thread="T-other", workspace="W2").say("What is the capital of France?")
    assert thinking_of(other) == THOUGHT
    channel = await Thread(thread="T-channel", workspace="W1", channel="C-on").say("What is the capital of France?")
    assert thinking_of(channel) == THOUGHT

    policy = effective_policy(ScopeKey("console", "W1", "C1"), load_all())
    assert (policy.show_reasoning, policy.show_reasoning_from) == (False, "workspace W1")
    update_scope(ScopeKey("console", "W1", ""), show_reasoning=None)  # back to inheriting: the setting's default
    assert effective_policy(ScopeKey("console", "W1", "C1"), load_all()).show_reasoning is True


async def test_thinking_saved_before_a_crash_is_priced_by_the_crash_rules(world: World) -> None:
    start = start_turn(Thread().message("What is the capital of France?"))
    assert start.reply_id is not None
    save_attempt(start.reply_id, "oa/gpt-4o", "oa")
    save_partial(start.reply_id, "Paris", THOUGHT)  # what chat saves every 2 s; then the process dies

    assert recover_stale_replies(timedelta(seconds=-1)) == 1
    row = last_reply()
    thought_tokens = llm.count_text_tokens("openai/gpt-4o", THOUGHT)
    assert (row.status, row.content, row.reasoning, row.reasoning_tokens) == (
        "interrupted",
        "Paris",
        THOUGHT,
        thought_tokens,
    )
    assert row.completion_tokens == llm.count_text_tokens("openai/gpt-4o", "Paris") + thought_tokens
    assert row.prompt_tokens and row.cost_usd == pytest.approx((row.prompt_tokens + row.completion_tokens) / 10_000)


# ---------------------------------------------------------------- the bounded tail


def test_a_thoughts_tail_keeps_the_latest_whole_words_within_the_limit() -> None:
    thought = Thought("first line of thinking\n\nsecond line here\nthird and last line")
    assert thought.tail(100) == (["first line of thinking", "second line here", "third and last line"], False)
    lines, cut = thought.tail(40)
    assert cut and lines == ["…second line here", "third and last line"]
    assert thought.tail(30, prefix="-# ") == (["-# …third and last line"], True)
    one_line = Thought("alpha beta gamma delta epsilon")
    assert one_line.tail(20) == (["…gamma delta epsilon"], True)
    assert one_line.tail(30, prefix="-# ") == (["-# …beta gamma delta epsilon"], True)
    assert one_line.words == 5
