"""A person's own default model for their new threads (`!model NAME --mine`), "start where I left off"
(`!prefs last on`), and where they sit in the resolution order: below a thread's own model, above the channel's,
and always under admin policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import pytest
from sqlmodel import col, select

from core.config.people import Person, remember_last_model, set_default, set_follow_last
from core.config.scopes import ScopeKey, update_scope
from core.snapshot import invalidate
from core.storage.db import connection, session
from core.storage.tables import Conversation, Message, UserPreference
from tests.adminkit import AdminApp
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.conftest import Cli
from tests.fakes.openai import FakeOpenAI


@contextmanager
def servers() -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small"], api_key=None) as local,
    ):
        yield cloud, local


@pytest.fixture
async def world() -> AsyncIterator[World]:
    with servers() as (cloud, local):
        yield await make_world(cloud, local)


def alice(thread: str = "T-a", **kw: str) -> Thread:
    return Thread(thread=thread, user="alice", **kw)


def bob(thread: str = "T-b", **kw: str) -> Thread:
    return Thread(thread=thread, user="bob", **kw)


def stored_models(thread: str) -> list[str | None]:
    """The models that wrote the replies stored in `thread`, oldest first."""
    with session() as s:
        return list(
            s.exec(
                select(Message.model)
                .join(Conversation, col(Conversation.id) == Message.conversation_id)
                .where(Conversation.thread == thread, Message.role == "assistant")
                .order_by(col(Message.id))
            ).all()
        )


async def test_two_people_in_one_channel_start_threads_on_their_own_defaults(world: World) -> None:
    set_a = await alice().channel_level().say("!model llama-small --mine")
    assert "Your new threads will start on **local/llama-small**" in set_a.text
    set_b = await bob().channel_level().say("!model gpt-4o-mini --mine")
    assert "Your new threads will start on **oa/gpt-4o-mini**" in set_b.text
    assert "It is a paid model" in set_b.text  # fine for your own threads: said, not refused

    a, b = await alice("T-a").say("hello"), await bob("T-b").say("hello")
    c = await Thread(thread="T-c", user="carol").say("hello")  # set nothing: the channel's way

    assert a.footer.startswith("local/llama-small") and "your default" in a.footer
    assert b.footer.startswith("oa/gpt-4o-mini") and "your default" in b.footer
    assert c.footer.startswith("local/llama-big") and "your default" not in c.footer
    assert world.cloud.chat_calls("gpt-4o-mini") and world.local.chat_calls("llama-small")
    # the thread keeps its starter's model when someone else speaks in it
    later = await bob("T-a").say("and me?")
    assert later.footer.startswith("local/llama-small") and "your default" not in later.footer
    assert stored_models("T-a") == ["local/llama-small", "local/llama-small"]


async def test_a_thread_keeps_its_model_when_its_starter_changes_their_default(world: World) -> None:
    await alice().say("!model llama-small --mine")  # said inside a thread: sets only her default
    first = await alice().say("hello")
    assert first.footer.startswith("local/llama-small")

    changed = await alice().channel_level().say("!model gpt-4o-mini --mine")
    assert "Threads you already have keep their model" in changed.text
    assert (await alice().say("again")).footer.startswith("local/llama-small")
    shown = await alice().say("!model")
    assert "This thread uses **local/llama-small** (this thread's model" in shown.text
    assert "Your new threads here start on **oa/gpt-4o-mini** (your default)" in shown.text

    fresh = await alice("T-a2").say("hello")
    assert fresh.footer.startswith("oa/gpt-4o-mini")
    mine = await alice().say("!model --mine")
    assert "Your default model is **oa/gpt-4o-mini**" in mine.text


async def test_an_allowlist_beats_a_personal_default_with_a_clear_note(world: World) -> None:
    await alice().channel_level().say("!model gpt-4o --mine")
    update_scope(ScopeKey("console", "W1", "C1"), allowed_models=["local/llama-big", "local/llama-small"])
    invalidate()

    said = await alice().say("hello")
    assert said.notices == [
        "Your default, oa/gpt-4o, can't be used here: oa/gpt-4o is not on the allowed list of this channel; "
        "this thread starts on local/llama-big (the first local model, as nothing else is set)."
    ]
    assert said.footer.startswith("local/llama-big") and "your default" not in said.footer
    assert world.cloud.chat_calls() == []
    # `!model` in the channel says the same, before anyone starts a thread
    assert "can't be used here" in (await alice().channel_level().say("!model")).text
    # elsewhere in the workspace her default still holds
    elsewhere = await alice("T-other", channel="C2").say("hello")
    assert elsewhere.footer.startswith("oa/gpt-4o") and "your default" in elsewhere.footer

    update_scope(ScopeKey("console", "W1", ""), local_only=True)  # the whole workspace keeps data local
    invalidate()
    local = await alice("T-3", channel="C2").say("hello")
    assert local.notices and "runs in the cloud" in local.notices[0] and "local-only" in local.notices[0]
    assert local.footer.startswith("local/")


async def test_start_where_i_left_off_follows_the_last_model_used(world: World) -> None:
    on = await alice().channel_level().say("!prefs last on")
    assert "start on the model you used last; you have not used one yet" in on.text

    await alice("T-1").say("hello")  # the first local model: nothing else is set
    await alice("T-1").say("!model llama-small")
    await alice("T-1").say("and now?")
    nxt = await alice("T-2").say("hello")
    assert nxt.footer.startswith("local/llama-small") and "the model you used last" in nxt.footer

    prefs = (await alice().channel_level().say("!prefs")).text
    assert "Start where I left off: on" in prefs and "Last model you used: local/llama-small" in prefs
    with session() as s:
        row = s.exec(select(UserPreference).where(UserPreference.user_id == "alice")).one()
    assert (row.follow_last, row.last_model, row.default_model) == (True, "local/llama-small", None)

    await alice().channel_level().say("!prefs last off")
    assert (await alice("T-3").say("hello")).footer.startswith("local/llama-big")
    cleared = await alice().channel_level().say("!prefs clear")
    assert "Your settings are cleared" in cleared.text
    after = (await alice().channel_level().say("!prefs")).text
    assert "Default model: none" in after and "Start where I left off: off" in after


async def test_a_personal_default_is_checked_like_model(world: World) -> None:
    typo = (await alice().say("!model gtp-4o-mnii --mine")).replies[0]
    assert typo.kind == "error" and "Did you mean `oa/gpt-4o-mini`" in typo.text
    assert typo.choices[0].command == "!model oa/gpt-4o-mini --mine"
    none = await alice().say("!model --mine")
    assert "You have no default model" in none.text
    wrong = await alice().say("!prefs sometimes")
    assert wrong.replies[0].kind == "error" and "`!prefs last on`" in wrong.text
    with session() as s:
        assert s.exec(select(UserPreference)).all() == []  # nothing stored by a refusal or a question


def test_admins_see_peoples_defaults_in_the_admin_and_the_cli(cli: Cli) -> None:
    with servers() as (cloud, local):
        asyncio.run(make_world(cloud, local))
    set_default(Person("console", "W1", "alice"), "local/llama-small")
    set_default(Person("slack", "T9", "dave"), "oa/gpt-3")  # a model the registry no longer has
    set_follow_last(Person("console", "W1", "bob"), True)
    with connection(write=True) as conn:  # carol chose nothing: only the model she used last is known
        remember_last_model(conn, Person("console", "W1", "carol"), "local/llama-big")

    listed = cli("prefs", "list")
    assert listed.returncode == 0
    assert "alice" in listed.stdout and "local/llama-small" in listed.stdout and "carol" not in listed.stdout
    assert "carol" in cli("prefs", "list", "--all").stdout

    admin = AdminApp.signed_in().open("models")
    table = admin.table_with("start where I left off")
    rows = {r["user"]: (r["default model"], bool(r["start where I left off"])) for _, r in table.iterrows()}
    assert rows == {
        "alice": ("local/llama-small", False),
        "bob": ("", True),
        "dave": ("oa/gpt-3 (no longer in the registry)", False),
    }


@pytest.mark.parametrize("any_db", ["postgres"], indirect=True)
async def test_two_people_on_two_processes_share_their_defaults_on_postgresql(any_db: str, cli: Cli) -> None:
    """Alice works in the terminal (`switchboard ask`, each a process of its own); Bob in this process; both in
    the console's one channel. What each sets is seen by the other process."""
    with servers() as (cloud, local):
        await make_world(cloud, local)
        as_alice = {"USER": "alice", "LOGNAME": "alice"}
        bob_here = Thread(thread="T-bob", user="bob", workspace="local", channel="terminal")

        set_a = cli.subprocess("ask", "--thread", "A-1", "!model llama-small --mine", env=as_alice)
        assert set_a.returncode == 0, set_a.stderr
        assert "Your new threads will start on **local/llama-small**" in set_a.stdout
        await bob_here.say("!model gpt-4o-mini --mine")

        answered = cli.subprocess("ask", "--thread", "A-2", "hello", env=as_alice)
        assert answered.returncode == 0, answered.stderr
        assert "— local/llama-small" in answered.stdout and "your default" in answered.stdout
        mine = await bob_here.say("hello")
        assert mine.footer.startswith("oa/gpt-4o-mini") and "your default" in mine.footer

        # Bob's default, set in this process, is what a new process sees; Alice's last model, noted by hers, here
        prefs = await Thread(thread="", user="alice", workspace="local", channel="terminal").say("!prefs")
        assert "Default model: **local/llama-small**" in prefs.text
        assert "Last model you used: local/llama-small" in prefs.text
        shown = cli.subprocess("prefs", "list")
        assert "bob" in shown.stdout and "oa/gpt-4o-mini" in shown.stdout
        assert local.chat_calls("llama-small") and cloud.chat_calls("gpt-4o-mini")
