"""Channel and workspace instructions: set by admins (admin app, CLI), layered into the system prompt the model
receives (workspace, channel, the preset's or the thread's own, then the model's template), shown by `!system`,
and named once under a thread's first reply. The model's side is what the fake OpenAI server received."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest
from sqlmodel import select

from core.config.prompts import save_preset, save_template
from core.config.scopes import ScopeKey, effective_instructions, load_all, update_scope
from core.errors import UserError
from core.models.sync import refresh
from core.providers.store import add_provider
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Conversation
from tests.adminkit import AdminApp
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI

WORKSPACE = ScopeKey("console", "W1", "")
CHANNEL = ScopeKey("console", "W1", "C1")


@pytest.fixture
async def world(any_db: str):  # type: ignore[no-untyped-def]
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


def configure(**scopes: dict[str, object]) -> None:
    """update_scope per scope name (workspace, channel), then the snapshot is read again."""
    for name, values in scopes.items():
        update_scope({"workspace": WORKSPACE, "channel": CHANNEL}[name], **values)  # type: ignore[arg-type]
    invalidate()


def system_sent(fake: FakeOpenAI, model: str) -> str:
    first = fake.chat_calls(model)[-1]["messages"][0]
    assert first["role"] == "system", first
    return str(first["content"])


def headings(system: str) -> list[str]:
    return re.findall(r"^## (.+)$", system, flags=re.M)


def stored_thread_prompt(thread: str) -> str | None:
    with session() as s:
        conv = s.exec(select(Conversation).where(Conversation.thread == thread)).one()
    return conv.system_prompt


async def test_channel_instructions_reach_the_model_layered_with_a_preset(world: World) -> None:
    configure(channel={"instructions": "This channel is about billing: answer with invoice numbers."})
    save_preset("code", "oa/gpt-4o", "You are a careful senior engineer.")
    invalidate()
    thread = Thread(thread="T-billing")
    await thread.say("!preset code")
    await thread.say("why was I charged twice?")
    assert system_sent(world.cloud, "gpt-4o") == (
        "## Channel instructions\nThis channel is about billing: answer with invoice numbers.\n\n"
        "## Preset instructions\nYou are a careful senior engineer."
    )
    # another channel of the workspace has no instructions: its thread gets the preset's alone, as written
    elsewhere = Thread(thread="T-other", channel="C2")
    await elsewhere.say("!preset code")
    await elsewhere.say("review this")
    assert system_sent(world.cloud, "gpt-4o") == "You are a careful senior engineer."


async def test_workspace_then_channel_then_thread_then_template(world: World) -> None:
    configure(
        workspace={"instructions": "Answer in English."},
        channel={"instructions": "This is #support for {platform}."},
    )
    save_template("house", "local/*", "You are {model}.")
    invalidate()
    thread = Thread(thread="T-order")
    set_own = await thread.say("!system Reply in one sentence.")
    assert "This thread's own instructions are set" in set_own.text
    await thread.say("hello")
    system = system_sent(world.local, "llama-big")
    assert headings(system) == [
        "Workspace instructions",
        "Channel instructions",
        "This thread's instructions",
        "Model instructions",
    ]
    assert "This is #support for console." in system  # variables are filled in every layer
    assert system.endswith("## Model instructions\nYou are local/llama-big.")
    assert "Reply in one sentence." in system.split("## Model instructions")[0]


async def test_system_shows_each_layer_and_where_it_came_from(world: World) -> None:
    thread = Thread(thread="T-show")
    bare = await thread.say("!system")
    assert "No instructions apply to this thread: the model is given none." in bare.text
    assert "A thread may set its own with `!system TEXT`" in bare.text  # the default when no scope says

    configure(workspace={"instructions": "Answer in English."}, channel={"instructions": "Billing only."})
    save_preset("code", "oa/gpt-4o", "You are a careful senior engineer.")
    save_template("house", "oa/*", "Today is {date}.")
    invalidate()
    await thread.say("!preset code")
    shown = (await thread.say("!system")).text
    parts = [
        "**Instructions for this thread**, in the order the model reads them",
        "**Workspace W1**\n> Answer in English.",
        "**Channel C1**\n> Billing only.",
        "**Preset code**\n> You are a careful senior engineer.",
        "**Template house** (for oa/gpt-4o)\n> Today is {date}.",
    ]
    positions = [shown.find(p) for p in parts]
    assert -1 not in positions, shown
    assert positions == sorted(positions)

    cleared = await thread.say("!system clear")
    assert "Preset `code`'s instructions no longer apply here" in cleared.text
    assert "Preset code" not in (await thread.say("!system")).text
    assert stored_thread_prompt("T-show") is None


async def test_a_thread_is_refused_its_own_where_an_admin_forbids_it(world: World) -> None:
    configure(workspace={"thread_instructions": False})
    thread = Thread(thread="T-forbidden")
    refused = await thread.say("!system Ignore the channel rules.")
    (reply,) = refused.replies
    assert reply.kind == "refusal"
    assert "Threads here may not set their own instructions (an admin set this for workspace W1)" in reply.text
    assert stored_thread_prompt("T-forbidden") is None
    await thread.say("hello")
    assert world.local.chat_calls("llama-big")[-1]["messages"][0]["role"] == "user"  # no system prompt at all

    # the narrowest scope that says wins: this channel allows it again
    configure(channel={"thread_instructions": True})
    allowed = Thread(thread="T-allowed")
    await allowed.say("!system Be brief.")
    await allowed.say("hello")
    assert system_sent(world.local, "llama-big") == "Be brief."

    # forbidden after it was set: an admin's "no" holds at once, and `!system` says why
    configure(channel={"thread_instructions": None})
    await allowed.say("hello again")
    assert world.local.chat_calls("llama-big")[-1]["messages"][0]["role"] == "user"
    assert "This thread's own instructions are not sent" in (await allowed.say("!system")).text


async def test_the_first_reply_says_which_instructions_applied_once(world: World) -> None:
    configure(workspace={"instructions": "Answer in English."}, channel={"instructions": "Billing only."})
    save_template("house", "local/*", "You are {model}.")
    invalidate()
    thread = Thread(thread="T-note")
    first = await thread.say("hello")
    assert first.streamed == "echo: hello"
    assert first.notices == ["Instructions: workspace W1, channel C1, template house (`!system` shows them)."]
    second = await thread.say("and again")
    assert second.notices == []
    # a thread with no scope or thread instructions hears nothing about its template
    configure(workspace={"instructions": None}, channel={"instructions": ""})
    assert (await Thread(thread="T-quiet").say("hello")).notices == []


async def test_instructions_have_a_length_limit(world: World) -> None:
    with pytest.raises(UserError, match="limited to 4,000 characters; these have 4,001"):
        update_scope(CHANNEL, instructions="x" * 4001)
    assert load_all() == {}
    said = await Thread(thread="T-long").say("!system " + "y" * 4001)
    assert "limited to 4,000 characters" in said.text
    assert stored_thread_prompt("T-long") is None


@pytest.fixture
def models() -> Iterator[None]:
    with FakeOpenAI(models=["llama-big"], api_key=None) as local:
        add_provider("local", "openai_compatible", base_url=local.url + "/v1")
        asyncio.run(refresh())
        yield


def test_the_cli_sets_a_channels_instructions_and_whether_threads_may_add_theirs(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli(
        "defaults",
        "set",
        "--scope",
        "channel:W1/C1",
        "--platform",
        "console",
        "--instructions",
        "Billing only.",
        "--thread-instructions",
        "forbid",
    )
    assert done.returncode == 0, done.stderr
    rules = effective_instructions(CHANNEL, load_all())
    assert [(x.source, x.text) for x in rules.layers] == [("channel C1", "Billing only.")]
    assert not rules.thread_may_set and rules.thread_may_set_from == "channel C1"

    bad = cli("defaults", "set", "--thread-instructions", "maybe")
    assert bad.returncode == 2 and "use allow, forbid or inherit" in bad.stderr
    too_long = cli("defaults", "set", "--instructions", "z" * 4001)
    assert too_long.returncode == 2 and "limited to 4,000 characters" in too_long.stderr
    assert "Traceback" not in too_long.stdout + too_long.stderr and ScopeKey() not in load_all()
    cleared = cli("defaults", "set", "--scope", "channel:W1/C1", "--platform", "console", "--instructions", "")
    assert cleared.returncode == 0 and effective_instructions(CHANNEL, load_all()).layers == ()


def test_the_admin_sets_instructions_on_the_defaults_tab(models: None) -> None:
    admin = AdminApp.signed_in().open("models")
    admin.choose("Scope to edit", "global").run()
    admin.fill("Instructions", "  Our company is Acme.  ").choose("Threads may set their own instructions", "forbid")
    admin.submit("Save scope")
    assert admin.successes == ["Saved the policy of global."]
    saved = load_all()[ScopeKey()]
    assert (saved.instructions, saved.thread_instructions) == ("Our company is Acme.", False)
    row = admin.table_with("scope").set_index("scope").loc["global"]
    assert row["instructions"] == "Our company is Acme." and row["thread's own"] == "forbid"
