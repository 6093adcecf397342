"""Chat commands, answered in core: what a user types and what they see, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.config.prompts import save_preset
from core.config.scopes import ScopeKey, update_scope
from core.models.registry import set_model_overrides
from core.settings import get_settings
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Message, ScopeSetting
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply


@pytest.fixture
async def world(any_db: str):  # type: ignore[no-untyped-def]
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini", "o3-mini", "gpt-4.1"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small", "qwen-vision"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


async def test_model_shows_the_current_model_and_how_to_change_it(world: World) -> None:
    said = await Thread().say("!model")
    assert "This thread uses **local/llama-big** (the first local model" in said.text
    assert "`!model NAME` switches it" in said.text


async def test_fuzzy_names_and_aliases_resolve(world: World) -> None:
    set_model_overrides("oa/o3-mini", alias="thinker")
    invalidate()
    thread = Thread()
    assert "now uses **oa/gpt-4o-mini**" in (await thread.say("!model GPT4o mini")).text
    assert "now uses **oa/o3-mini**" in (await thread.say("!model thinker")).text
    assert "now uses **local/llama-small**" in (await thread.say("!model llama-small")).text


async def test_an_unknown_name_suggests_the_closest_ones(world: World) -> None:
    said = await Thread().say("!model gtp-4o-mnii")
    (reply,) = said.replies
    assert reply.kind == "error" and "There is no model called 'gtp-4o-mnii'" in reply.text
    assert "Did you mean `oa/gpt-4o-mini`" in reply.text
    assert reply.choices[0].command == "!model oa/gpt-4o-mini"


async def test_an_ambiguous_name_lists_the_candidates(world: World) -> None:
    said = await Thread().say("!model gpt-4")
    (reply,) = said.replies
    assert reply.kind == "choices"
    names = {c.label for c in reply.choices}
    assert {"oa/gpt-4o", "oa/gpt-4o-mini", "oa/gpt-4.1"} <= names


async def test_a_disabled_or_unavailable_model_is_refused_with_the_reason(world: World) -> None:
    set_model_overrides("oa/gpt-4.1", enabled=False)
    invalidate()
    said = await Thread().say("!model oa/gpt-4.1")
    assert said.replies[0].kind == "refusal" and "an admin disabled it" in said.text


async def test_model_in_a_channel_sets_the_default_and_a_paid_default_needs_an_admin(world: World) -> None:
    channel = Thread().channel_level()
    refused = await channel.say("/model oa/gpt-4o")
    assert refused.replies[0].kind == "refusal" and "only an admin can make it this channel's default" in refused.text
    with session() as s:
        assert s.exec(select(ScopeSetting)).all() == []
    ok = await channel.say("/model llama-small")
    assert "New threads in this channel will use **local/llama-small**" in ok.text
    new_thread = await Thread(thread="T-new").say("hello")
    assert new_thread.footer.startswith("local/llama-small")

    admin = Thread(admin=True).channel_level()
    assert "will use **oa/gpt-4o**" in (await admin.say("/model oa/gpt-4o")).text
    assert (await Thread(thread="T-paid").say("hello")).footer.startswith("oa/gpt-4o")
    # a thread that picked its model keeps it
    assert (await Thread(thread="T-new").say("again")).footer.startswith("local/llama-small")


async def test_nothing_configured_and_only_paid_models_is_not_silently_paid(any_db: str) -> None:
    with FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud:
        from core.models.sync import refresh
        from core.providers.store import add_provider

        add_provider("oa", "openai", base_url=cloud.url + "/v1", api_key=CLOUD_KEY)
        await refresh()
        said = await Thread().say("hello")
        assert said.replies[0].kind == "refusal" and "No model is set up here yet" in said.text
        assert cloud.chat_calls() == []
        with session() as s:
            assert [m.role for m in s.exec(select(Message)).all()] == ["user"]  # the message is kept


async def test_models_lists_by_provider_with_details_and_marks_the_current_one(world: World) -> None:
    set_model_overrides("local/qwen-vision", context_window=32_000)
    invalidate()
    said = await Thread().say("!models")
    (reply,) = said.replies
    assert reply.kind == "models"
    groups = {g.provider: g for g in reply.data.groups}
    assert set(groups) == {"local", "oa"}
    host = world.cloud.url.removeprefix("http://")
    assert groups["oa"].privacy == (
        f"Prompts and replies are sent to {host} on this machine (the base URL you configured), "
        "not to OpenAI's own API."
    )
    assert f"**oa** (OpenAI) — Prompts and replies are sent to {host} on this machine" in reply.text
    local = {m.name: m for m in groups["local"].models}
    assert local["local/llama-big"].current and local["local/llama-big"].local
    assert "`local/llama-big` [local] ← current — ? ctx · free (local)" in reply.text
    assert "`oa/gpt-4o` — 128k ctx · $2.5 in / $10 out per 1M tokens · tools, vision" in reply.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("local", {"local/llama-big", "local/llama-small", "local/qwen-vision"}),
        ("vision provider:oa", {"oa/gpt-4o", "oa/gpt-4o-mini", "oa/gpt-4.1"}),
        ("under:$1", {"oa/gpt-4o-mini", "local/llama-big", "local/llama-small", "local/qwen-vision"}),
        ("mini", {"oa/gpt-4o-mini", "oa/o3-mini"}),
        ("free", {"local/llama-big", "local/llama-small", "local/qwen-vision"}),
    ],
)
async def test_models_filters(world: World, query: str, expected: set[str]) -> None:
    said = await Thread().say(f"!models {query}")
    names = {m.name for g in said.replies[0].data.groups for m in g.models}
    assert names == expected


async def test_models_is_paged(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_MODELS_PAGE_SIZE", "3")
    get_settings.cache_clear()
    first = (await Thread().say("!models")).replies[0]
    assert first.data.pages == 3 and "Next: `!models page:2`" in first.text
    assert [c.command for c in first.choices] == ["!models page:2"]
    last = (await Thread().say("!models page:3")).replies[0]
    assert last.data.page == 3 and [c.label for c in last.choices] == ["Previous"]


async def test_a_local_only_channel_offers_only_local_models_and_says_why(world: World) -> None:
    update_scope(ScopeKey("console", "W1", "C1"), local_only=True)
    invalidate()
    thread = Thread()
    listing = (await thread.say("!models")).replies[0]
    assert "local-only" in listing.text
    assert {g.provider for g in listing.data.groups} == {"local"}
    refused = await thread.say("!model oa/gpt-4o")
    assert "runs in the cloud" in refused.text and "local-only" in refused.text


async def test_usage_shows_thread_channel_and_me(world: World) -> None:
    world.cloud.script("gpt-4o", Reply(text="a b c"))
    thread = Thread()
    await thread.say("!model gpt-4o")
    await thread.say("hello")
    await Thread(thread="T-other", user="U2").say("hi")
    said = await thread.say("!usage")
    (reply,) = said.replies
    assert reply.data.thread.replies == 1 and reply.data.thread.completion_tokens == 3
    assert reply.data.channel.replies == 2 and reply.data.user.replies == 1
    assert "This thread: 1 reply ·" in reply.text and "$" in reply.text


async def test_compare_runs_the_last_message_on_both_models(world: World) -> None:
    thread = Thread()
    await thread.say("what is 2+2?")
    said = await thread.say("!compare gpt-4o-mini llama-small")
    assert said.notices == ["Comparing oa/gpt-4o-mini and local/llama-small…"]
    (reply,) = said.replies
    assert reply.kind == "compare" and reply.data.prompt == "what is 2+2?"
    assert [r.model for r in reply.data.results] == ["oa/gpt-4o-mini", "local/llama-small"]
    assert "**oa/gpt-4o-mini** — " in reply.text and "echo: what is 2+2?" in reply.text
    assert "free (local)" in reply.text
    with session() as s:
        rows = s.exec(select(Message).where(Message.role == "compare")).all()
    assert {r.model for r in rows} == {"oa/gpt-4o-mini", "local/llama-small"}
    assert (await thread.say("!usage")).replies[0].data.thread.replies == 3  # 1 reply + 2 compared
    explicit = await Thread(thread="T-9").say("!compare gpt-4o gpt-4o-mini say hi")
    assert explicit.replies[0].data.prompt == "say hi"


async def test_preset_applies_model_and_system_prompt(world: World) -> None:
    save_preset("code", "oa/gpt-4o", "You are a careful senior engineer.", "for code reviews")
    invalidate()
    thread = Thread()
    listing = await thread.say("!preset")
    assert "`code` — oa/gpt-4o: for code reviews" in listing.text
    applied = await thread.say("!preset code")
    assert "preset **code**: oa/gpt-4o with its system prompt" in applied.text
    await thread.say("review this")
    sent = world.cloud.chat_calls("gpt-4o")[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "You are a careful senior engineer."}
    unknown = await thread.say("!preset nope")
    assert "No preset called 'nope'" in unknown.text


async def test_help_and_unknown_commands(world: World) -> None:
    assert "`!models [FILTER]`" in (await Thread().say("!help")).text
    assert "There is no `!frobnicate` command" in (await Thread().say("!frobnicate")).text
    # a message that merely starts with a slash path is a message, not a command
    assert (await Thread().say("/usr/bin is a folder")).streamed == "echo: /usr/bin is a folder"


async def test_a_redelivered_command_is_answered_once(world: World) -> None:
    thread = Thread()
    assert (await thread.say("!model gpt-4o", event_id="cmd-1")).replies
    assert (await thread.say("!model gpt-4o", event_id="cmd-1")).events == []
