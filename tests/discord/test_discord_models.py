"""`/model` with autocomplete, `/models` with paging buttons, and the other slash commands: deferred within 3 s,
answered by the core, errors private."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest

from core import snapshot
from core.config.scopes import ScopeKey, load_all, update_scope
from core.models.sync import refresh
from core.providers.store import add_provider
from core.threads.conversations import find_conversation
from tests.discordkit import Person, bot_messages, callbacks, footers, replied
from tests.fakes.discord import EPHEMERAL, FakeDiscord
from tests.fakes.openai import FakeOpenAI, Reply

CLOUD_MODELS = [f"gpt-{v}-{size}" for v in ("4o", "4.1", "5", "5.1") for size in ("nano", "mini", "pro")] + [
    f"o{n}-{kind}" for n in range(1, 8) for kind in ("mini", "preview", "deep")
]


@pytest.fixture
def cloud() -> Iterator[FakeOpenAI]:
    """A cloud provider with 33 models (more than fit an autocomplete) and one that went down."""
    key = "sk-cloud-test-key-0001"
    with FakeOpenAI(models=CLOUD_MODELS, api_key=key) as up:
        add_provider("cloud", "openai", base_url=up.url + "/v1", api_key=key)
        with FakeOpenAI(models=["gpt-4o-mini", "gpt-4o-audio"], api_key=key) as down:
            add_provider("backup", "openai", base_url=down.url + "/v1", api_key=key)
            asyncio.run(refresh())
        asyncio.run(refresh())  # backup is gone now: its models stay listed, unavailable
        snapshot.invalidate()
        yield up


def choices_of(fake: FakeDiscord, interaction: dict) -> list[dict]:
    (call,) = callbacks(fake, interaction)
    assert call.status == 200 and call.json["type"] == 8
    return call.json["data"]["choices"]


async def test_model_autocomplete_offers_at_most_25_ranked_choices_available_first(
    bot, discord_fake: FakeDiscord, cloud: FakeOpenAI, alice: Person
) -> None:
    everything = alice.types("model", "name", "")
    gpt = alice.types("model", "name", "gpt-4o-mini")
    fuzzy = alice.types("model", "name", "qwen coder")
    await discord_fake.wait_for_call("interaction_callback", count=3)

    listed = choices_of(discord_fake, everything)
    assert len(listed) == 25
    assert [c["value"] for c in listed[:5]] == sorted(c["value"] for c in listed[:5])  # local, free first
    assert all(c["value"].startswith("lab/") for c in listed[:5])
    assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in listed)

    ranked = [c["value"] for c in choices_of(discord_fake, gpt)]
    assert 1 <= len(ranked) <= 25 and ranked[0] == "cloud/gpt-4o-mini"
    assert ranked[-1] == "backup/gpt-4o-mini"  # the exact name, but its provider is down: last
    assert next(c for c in choices_of(discord_fake, gpt) if c["value"] == ranked[-1])["name"].endswith("unavailable")

    assert choices_of(discord_fake, fuzzy)[0]["value"] == "lab/qwen2.5-coder-7b"
    assert not discord_fake.violations  # Discord accepted every list


async def test_autocomplete_respects_a_local_only_channel(
    bot, discord_fake: FakeDiscord, cloud: FakeOpenAI, alice: Person
) -> None:
    update_scope(ScopeKey("discord", discord_fake.guild["id"], discord_fake.channel["id"]), local_only=True)
    snapshot.invalidate()
    thread = discord_fake.add_thread(discord_fake.channel, "private stuff")
    typed = alice.types("model", "name", "", channel=thread)  # a thread follows its channel's policy
    await discord_fake.wait_for_call("interaction_callback")
    assert {c["value"] for c in choices_of(discord_fake, typed)} == {
        f"lab/{m}" for m in ("llama-3.2-3b", "qwen2.5-coder-7b", "mistral-small-24b", "phi-4-mini", "gemma-3-12b")
    }


async def test_model_in_a_thread_sets_that_thread_and_in_a_channel_the_default_for_new_threads(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    guild, channel = discord_fake.guild["id"], discord_fake.channel["id"]
    alice.says(discord_fake.channel, "First question", mention=True)
    (first,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(discord_fake.channel))
    await replied(discord_fake, first)

    in_thread = alice.uses("model", {"name": "lab/phi-4-mini"}, channel=first)
    await discord_fake.wait_for_call("edit_original")
    (deferred,) = callbacks(discord_fake, in_thread)
    assert deferred.json["type"] == 5 and not deferred.json.get("data", {}).get("flags", 0) & EPHEMERAL
    said = discord_fake.original_message(in_thread)
    assert said is not None and said.content.startswith("This thread now uses **lab/phi-4-mini**")
    assert said.channel_id == int(first["id"]) and not said.ephemeral  # everyone in the thread sees it
    assert find_conversation("discord", guild, channel, first["id"]).current_model == "lab/phi-4-mini"  # type: ignore[union-attr]
    assert ScopeKey("discord", guild, channel) not in load_all()  # the channel default is untouched

    in_channel = alice.uses("model", {"name": "mistral-small"})
    await discord_fake.wait_for_call("edit_original", count=2)
    said = discord_fake.original_message(in_channel)
    assert said is not None and said.content.startswith(
        "New threads in this channel will use **lab/mistral-small-24b**"
    )
    assert load_all()[ScopeKey("discord", guild, channel)].default_model == "lab/mistral-small-24b"

    alice.says(first, "Still phi here?")
    alice.says(discord_fake.channel, "A new topic", mention=True)
    await discord_fake.wait_until(lambda: len(discord_fake.threads_of(discord_fake.channel)) == 2)
    second = next(t for t in discord_fake.threads_of(discord_fake.channel) if t["id"] != first["id"])
    await replied(discord_fake, first, count=2)
    await replied(discord_fake, second)
    assert footers(discord_fake, first)[-1].startswith("-# lab/phi-4-mini · ")
    assert footers(discord_fake, second)[-1].startswith("-# lab/mistral-small-24b · ")


async def test_models_lists_a_page_in_an_embed_and_buttons_turn_the_page_in_place(
    bot, discord_fake: FakeDiscord, cloud: FakeOpenAI, alice: Person
) -> None:
    listing = alice.uses("models")
    await discord_fake.wait_for_call("edit_original")
    (deferred,) = callbacks(discord_fake, listing)
    assert deferred.json == {"type": 5, "data": {"flags": EPHEMERAL}}  # a channel listing is private
    page = discord_fake.original_message(listing)
    assert page is not None and page.ephemeral
    (embed,) = page.data["embeds"]
    assert embed["title"] == "Models" and embed["footer"]["text"].startswith("Page 1/3 · ")
    # by provider, with privacy notes: this "OpenAI" provider's base URL is the loopback fake, and it says so
    assert embed["description"].startswith("**backup** (OpenAI) — Prompts and replies are sent to 127.0.0.1:")
    assert "(the base URL you configured)" in embed["description"].splitlines()[0]
    backup_line = next(line for line in embed["description"].splitlines() if "`backup/gpt-4o-mini`" in line)
    assert "128k ctx · $0.15 in / $0.6 out per 1M" in backup_line and "unavailable: it is not available" in backup_line

    shown = len(page.edits)  # the listing itself replaced the deferred "thinking…"
    turn = alice.clicks("Next", page)
    await discord_fake.wait_until(lambda: len(page.edits) == shown + 1)
    assert callbacks(discord_fake, turn)[0].json == {"type": 6}  # acknowledged; the same message changes
    assert page.data["embeds"][0]["footer"]["text"].startswith("Page 2/3")
    alice.clicks("Next", page)
    await discord_fake.wait_until(lambda: len(page.edits) == shown + 2, timeout=8)
    assert page.data["embeds"][0]["footer"]["text"].startswith("Page 3/3")
    assert "**lab** (OpenAI-compatible server)" in page.data["embeds"][0]["description"]
    alice.clicks("Previous", page)  # a quick click: the edit still waits for a second since the last one
    await discord_fake.wait_until(lambda: len(page.edits) == shown + 3, timeout=8)
    assert page.data["embeds"][0]["footer"]["text"].startswith("Page 2/3")
    times = page.edit_times()
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    filtered = alice.uses("models", {"filter": "mini", "provider": "cloud"})
    await discord_fake.wait_until(lambda: (m := discord_fake.original_message(filtered)) and m.data["embeds"])
    description = discord_fake.original_message(filtered).data["embeds"][0]["description"]  # type: ignore[union-attr]
    assert "`cloud/gpt-4o-mini`" in description and "lab/" not in description
    assert not discord_fake.violations


async def test_an_ambiguous_name_offers_buttons_that_set_the_model_where_clicked(
    bot, discord_fake: FakeDiscord, cloud: FakeOpenAI, alice: Person
) -> None:
    thread = discord_fake.add_thread(discord_fake.channel, "which model")
    asked = alice.uses("model", {"name": "gpt-4o-mini"}, channel=thread)
    followup = await discord_fake.wait_for_call("followup")
    assert discord_fake.api_calls("delete_original")  # the public "thinking…" gave way to a private question
    assert followup.json["flags"] & EPHEMERAL and "matches several models" in followup.json["content"]
    question = discord_fake.messages[int(followup.response["id"])]
    alice.clicks("cloud/gpt-4o-mini", question)
    answer = await discord_fake.wait_for_call("followup", count=2)
    assert answer.json["content"].startswith("This thread now uses **cloud/gpt-4o-mini**")
    conv = find_conversation("discord", discord_fake.guild["id"], discord_fake.channel["id"], thread["id"])
    assert conv is not None and conv.current_model == "cloud/gpt-4o-mini"
    assert callbacks(discord_fake, asked)[0].json["type"] == 5


async def test_errors_reach_the_user_privately(bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person) -> None:
    alice.uses("model", {"name": "definitely-not-a-model"})
    followup = await discord_fake.wait_for_call("followup")
    assert followup.json["flags"] & EPHEMERAL
    assert followup.json["content"].startswith("There is no model called 'definitely-not-a-model'.")
    assert not bot_messages(discord_fake, discord_fake.channel) or all(
        m.ephemeral for m in bot_messages(discord_fake, discord_fake.channel) if not m.deleted
    )


async def test_usage_is_private_and_compare_is_deferred_past_three_seconds(
    bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    usage = alice.uses("usage")
    await discord_fake.wait_for_call("edit_original")
    assert callbacks(discord_fake, usage)[0].json["data"]["flags"] == EPHEMERAL
    (embed,) = discord_fake.original_message(usage).data["embeds"]  # type: ignore[union-attr]
    assert embed["title"] == "Usage" and "This channel: 0 replies" in embed["description"]

    llm.script("phi-4-mini", Reply(text="Blue, mostly.", ttft_s=3.3))
    llm.script("gemma-3-12b", Reply(text="It is blue.", ttft_s=3.3))
    compare = alice.uses("compare", {"model_a": "lab/phi-4-mini", "model_b": "lab/gemma-3-12b", "prompt": "Sky?"})
    await discord_fake.wait_until(lambda: (m := discord_fake.original_message(compare)) and m.data["embeds"], 10)
    inter = discord_fake.interaction(compare)
    assert inter.responded_at is not None and inter.responded_at - inter.sent_at < 3.0
    result = discord_fake.original_message(compare)
    assert (
        result is not None
        and not result.ephemeral
        and result.edits[0].content == "*Comparing lab/phi-4-mini and lab/gemma-3-12b…*"
    )
    titles = [e.get("title") for e in result.data["embeds"]]
    assert titles == ["Compare", "lab/phi-4-mini", "lab/gemma-3-12b"]
    assert result.data["embeds"][1]["description"] == "Blue, mostly."
    times = result.edit_times()
    assert len(times) == 2 and times[1] - times[0] >= 1.0
    assert times[-1] - result.created_at >= 3.0  # the answer came well after Discord's 3 s: deferral mattered
    assert not discord_fake.violations
