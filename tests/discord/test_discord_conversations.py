"""Conversations on Discord: a mention opens a thread, thread messages are turns, `/chat` starts one; replies
stream with throttled edits, split at Discord's limits and carry a footer; refusals from Discord are reported."""

from __future__ import annotations

import itertools
import re

from core.alerts import recent_alerts
from core.config.chains import save_chain
from core.threads.conversations import find_conversation
from tests.discordkit import Person, bot_messages, callbacks, footers, replied
from tests.fakes.discord import EPHEMERAL, FakeDiscord
from tests.fakes.openai import FakeOpenAI, Reply, ServerError

# the first reply of a thread on the free local default says so
FOOTER = re.compile(r"^-# lab/[\w.-]+ · \d+ tokens · free \(local\)( · chosen as the free local default .*)?$")
DEFAULT = "lab/gemma-3-12b"  # nothing configured: the first local model answers


async def test_a_mention_opens_a_thread_from_that_message_and_every_message_there_is_a_turn(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    llm.script(None, Reply(text="Paris is the capital of France."), Reply(text="About 2.1 million people."))
    asked = alice.says(discord_fake.channel, "What is the capital of France?", mention=True)
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(discord_fake.channel))
    await replied(discord_fake, thread)

    (created,) = discord_fake.api_calls("create_thread_from_message")
    assert created.path == f"/channels/{discord_fake.channel['id']}/messages/{asked['id']}/threads"
    assert created.json["name"] == "What is the capital of France?"
    (answer,) = bot_messages(discord_fake, thread)
    assert answer.content.startswith("Paris is the capital of France.\n\n-# ")
    assert FOOTER.match(footers(discord_fake, thread)[0])

    alice.says(thread, "And how many people live there?")  # no mention needed in the bot's thread
    await replied(discord_fake, thread, count=2)
    second = llm.chat_calls()[-1]["messages"]
    assert [m["content"] for m in second if m["role"] != "system"] == [
        "What is the capital of France?",
        "Paris is the capital of France.",
        "And how many people live there?",
    ]
    assert bot_messages(discord_fake, thread)[-1].content.startswith("About 2.1 million people.")
    assert llm.chat_count == 2  # the bot's own messages, echoed on the gateway, are not turns
    conv = find_conversation("discord", discord_fake.guild["id"], discord_fake.channel["id"], thread["id"])
    assert conv is not None and conv.current_model == DEFAULT
    assert not discord_fake.violations


async def test_messages_elsewhere_are_left_alone_and_dms_are_conversations(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    alice.says(discord_fake.channel, "just chatting with friends")
    someone_elses = discord_fake.add_thread(discord_fake.channel, "weekend plans")
    alice.says(someone_elses, "pizza on saturday?")
    dm = discord_fake.dm_channel(discord_fake.user)
    alice.says(dm, "Hi, privately: what is 2+2?")
    await replied(discord_fake, dm)
    assert llm.chat_count == 1
    assert not bot_messages(discord_fake, discord_fake.channel) and not bot_messages(discord_fake, someone_elses)
    assert bot_messages(discord_fake, dm)[0].content.startswith("echo: Hi, privately: what is 2+2?")
    assert find_conversation("discord", "dm", dm["id"], dm["id"]) is not None


async def test_streamed_replies_edit_one_message_at_most_once_a_second(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    text = " ".join(f"word{i}" for i in range(70)) + "."
    llm.script(None, Reply(text=text, token_delay_s=0.05))  # about 3.5 s of streaming
    alice.says(discord_fake.channel, "Count for me", mention=True)
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(discord_fake.channel))
    await replied(discord_fake, thread)
    (answer,) = bot_messages(discord_fake, thread)
    times = answer.edit_times()
    assert len(times) >= 3  # it visibly streamed...
    assert len(times) <= 6  # ...coalescing 70 deltas into a few edits
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times)), times
    assert times[0] - answer.created_at >= 1.0
    shown = [e.content for e in answer.edits]
    assert all(len(a) <= len(b) for a, b in itertools.pairwise(shown))  # text only grows
    assert answer.content.startswith(text) and FOOTER.match(answer.content.splitlines()[-1])
    assert not [v for v in discord_fake.violations if v.kind == "edits_too_fast"]


async def test_long_replies_continue_in_new_messages_without_breaking_code_blocks(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    intro = "\n\n".join(f"Paragraph {i}: " + "some explanation of the code. " * 12 for i in range(4))
    code = "\n".join(f"    total += compute({i})  # step {i}" for i in range(110))
    text = f"{intro}\n\n```python\ndef run():\n    total = 0\n{code}\n    return total\n```\n\nThat is all."
    assert len(text) > 5000
    llm.script(None, Reply(text=text, token_delay_s=0.0005))
    alice.says(discord_fake.channel, "Write a long program", mention=True)
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(discord_fake.channel))
    await replied(discord_fake, thread, timeout=30)

    parts = [m.content for m in bot_messages(discord_fake, thread)]
    assert len(parts) >= 3 and all(len(p) <= 2000 for p in parts)
    assert all(p.count("```") % 2 == 0 for p in parts)  # every message's code blocks are closed
    assert parts[0].startswith("Paragraph 0:") and parts[-1].splitlines()[-1].startswith("-# lab/")
    reopened = [p for p in parts if p.startswith("```python\n")]
    assert reopened  # the code block went on in the next message, with its language
    words = lambda s: re.sub(r"```(python)?|-# .*", "", s).split()  # noqa: E731
    assert words("\n".join(parts)) == words(text)  # nothing lost, nothing repeated
    assert not discord_fake.violations  # no message or edit over the limit, no edit too fast


async def test_footer_names_the_fallback_that_answered(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    save_chain("backup", ["lab/phi-4-mini"], for_model=DEFAULT)
    llm.script("gemma-3-12b", ServerError(503), ServerError(503))
    llm.script("phi-4-mini", Reply(text="Answered by the backup."))
    alice.says(discord_fake.channel, "Anyone there?", mention=True)
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(discord_fake.channel))
    await replied(discord_fake, thread)
    (footer,) = footers(discord_fake, thread)
    assert footer.startswith("-# lab/phi-4-mini · ") and f"fallback from {DEFAULT}: " in footer


async def test_chat_command_defers_opens_a_thread_and_uses_the_chosen_model(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    llm.script("phi-4-mini", Reply(text="Hello from phi.", ttft_s=0.5))
    command = alice.uses("chat", {"prompt": "Say hello", "model": "lab/phi-4-mini"})
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(discord_fake.channel))
    await replied(discord_fake, thread)

    (deferred,) = callbacks(discord_fake, command)
    assert deferred.json["type"] == 5 and not deferred.json.get("data", {}).get("flags", 0) & EPHEMERAL
    inter = discord_fake.interaction(command)
    assert inter.responded_at is not None and inter.responded_at - inter.sent_at < 3.0
    starter = discord_fake.original_message(command)
    assert starter is not None and starter.content == "💬 **Alice**: Say hello"
    assert int(thread["id"]) == starter.id  # the thread grew from the bot's starter message
    (answer,) = bot_messages(discord_fake, thread)
    assert answer.content.startswith("Hello from phi.") and "-# lab/phi-4-mini · " in answer.content
    assert llm.chat_calls()[-1]["model"] == "phi-4-mini"
    conv = find_conversation("discord", discord_fake.guild["id"], discord_fake.channel["id"], thread["id"])
    assert conv is not None and conv.current_model == "lab/phi-4-mini"

    alice.says(thread, "!model qwen2.5-coder")  # the core's commands work in the thread too
    await discord_fake.wait_until(lambda: "now uses" in bot_messages(discord_fake, thread)[-1].content)
    alice.says(thread, "Write a haiku")
    await replied(discord_fake, thread, count=2)
    assert "-# lab/qwen2.5-coder-7b · " in bot_messages(discord_fake, thread)[-1].content


async def test_missing_thread_permission_is_told_to_the_user_and_to_the_admin(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    discord_fake.forbid("create_thread_from_message")
    asked = alice.says(discord_fake.channel, "Can you help?", mention=True)
    await discord_fake.wait_until(lambda: bot_messages(discord_fake, discord_fake.channel))
    (told,) = bot_messages(discord_fake, discord_fake.channel)
    assert told.data["message_reference"]["message_id"] == asked["id"]
    assert "missing the **Create Public Threads** permission" in told.content
    (alert,) = recent_alerts(kind="platform")
    assert alert.text.startswith(f"discord {discord_fake.guild['id']}: missing permission Create Public Threads")
    assert llm.chat_count == 0  # nothing was sent to a model for a conversation nobody could see

    alice.says(discord_fake.channel, "Hello again?", mention=True)  # the same problem again the same day
    await discord_fake.wait_until(lambda: len(bot_messages(discord_fake, discord_fake.channel)) == 2)
    assert len(recent_alerts(kind="platform")) == 1


async def test_missing_permission_to_post_in_the_thread_reaches_the_user_privately(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    discord_fake.forbid(r"POST /channels/\d+/messages")  # the bot may not post anywhere
    command = alice.uses("chat", {"prompt": "Explain sharding"})
    followup = await discord_fake.wait_for_call("followup", timeout=10)
    assert followup.json["flags"] & EPHEMERAL
    assert "missing the **Send Messages in Threads** permission" in followup.json["content"]
    assert len(discord_fake.threads_of(discord_fake.channel)) == 1 and discord_fake.original_message(command)
    (alert,) = recent_alerts(kind="platform")
    assert "Send Messages in Threads" in alert.text


async def test_a_redelivered_message_gets_no_typing_indicator_and_no_second_answer(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    import asyncio

    llm.script(None, Reply(text="Paris."), Reply(text="About 2.1 million."))
    alice.says(discord_fake.channel, "What is the capital of France?", mention=True)
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(discord_fake.channel))
    await replied(discord_fake, thread)
    turn = alice.says(thread, "And how many people live there?")
    await replied(discord_fake, thread, count=2)
    typed = len(discord_fake.api_calls("typing"))
    assert typed == 2  # one "typing…" per answered message
    discord_fake.dispatch("MESSAGE_CREATE", turn)  # the gateway delivers the same message again (a resume)
    await asyncio.sleep(1.0)
    assert len(discord_fake.api_calls("typing")) == typed  # checked first: no indicator for a duplicate
    assert len(bot_messages(discord_fake, thread)) == 2 and llm.chat_count == 2
