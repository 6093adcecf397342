"""Any text a user sends, or a provider streams back, is answered and stored the same way on SQLite and PostgreSQL.

PostgreSQL refuses NUL in text columns (SQLite keeps it), and neither can encode a lone surrogate: such characters
become U+FFFD before anything sees them, so what the user is shown is what is stored, on both engines.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from core.commands import COMMANDS
from core.config.prompts import save_preset
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.storable import storable_text
from core.storage.tables import Conversation, Message
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply

INTERNAL_ERROR = "Something went wrong on our side"
_threads = itertools.count(1)


def _servers() -> tuple[FakeOpenAI, FakeOpenAI]:
    return FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=CLOUD_KEY), FakeOpenAI(
        models=["llama-big", "llama-small"], api_key=None
    )


@pytest.fixture
async def world(any_db: str):  # type: ignore[no-untyped-def]
    cloud, local = _servers()
    with cloud, local:
        yield await make_world(cloud, local)


def stored(thread: str) -> list[Message]:
    with session() as s:
        return list(
            s.exec(
                select(Message)
                .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
                .where(Conversation.thread == thread)
                .order_by(col(Message.id))
            ).all()
        )


@pytest.mark.parametrize(
    "text",
    ["hello\x00world", "\x00", "!preset \x00", "!install \x00", "!model \x00", "!models \x00", "!compare \x00 a"],
)
async def test_a_nul_in_a_message_or_command_is_answered_and_stored(world: World, text: str) -> None:
    said = await Thread(admin=True).say(text)
    shown = storable_text(text)
    assert "\ufffd" in said.text and "\x00" not in said.text
    assert INTERNAL_ERROR not in said.text
    assert stored("T-1")[0].content == shown


async def test_a_message_with_a_nul_reaches_the_model_as_it_is_stored(world: World) -> None:
    said = await Thread().say("hello\x00world")
    assert said.streamed == "echo: hello\ufffdworld"
    sent = world.local.chat_calls("llama-big")[-1]["messages"]
    assert sent[-1]["content"] == "hello\ufffdworld"
    user, reply = stored("T-1")
    assert (user.content, reply.content, reply.status) == ("hello\ufffdworld", "echo: hello\ufffdworld", "ok")


async def test_a_provider_streaming_a_nul_is_shown_and_stored_as_the_replacement_character(world: World) -> None:
    world.local.script("llama-big", Reply(text="zero\x00byte \x00 here"))
    said = await Thread().say("hi")
    assert said.streamed == "zero\ufffdbyte \ufffd here"
    assert said.footer.startswith("local/llama-big")
    reply = stored("T-1")[-1]
    assert (reply.role, reply.status, reply.content) == ("assistant", "ok", said.streamed)


async def test_a_system_prompt_with_a_nul_is_stored_and_sent(world: World) -> None:
    save_preset("careful", "oa/gpt-4o", "Be\x00careful.")
    invalidate()
    thread = Thread()
    assert "preset **careful**" in (await thread.say("!preset careful")).text
    await thread.say("review this")
    sent = world.cloud.chat_calls("gpt-4o")[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "Be\ufffdcareful."}


_odd = st.sampled_from(["\x00", "\x01", "\x1b", "\x7f", "\u2028", "\ufeff", "\ud800", "\udfff", "\n", " ", "!", "é"])
_text = st.text(st.one_of(_odd, st.characters(exclude_categories=())), max_size=40)
_message = st.one_of(
    _text,
    st.tuples(st.sampled_from([*sorted(COMMANDS), "nope"]), _text).map(lambda c: f"!{c[0]} {c[1]}"),
    st.tuples(st.sampled_from(["model", "models", "preset"]), _text).map(lambda c: f"/{c[0]} {c[1]}"),
)


@pytest.mark.parametrize("admin", [False, True], ids=["user", "admin"])
def test_any_text_or_command_is_answered_and_stored_consistently(any_db: str, admin: bool) -> None:
    """Property: whatever text arrives, handle() never raises, the user sees an answer (or, for blank text,
    nothing happens), and what is stored is what was shown."""
    cloud, local = _servers()
    with cloud, local, asyncio.Runner() as runner:
        runner.run(make_world(cloud, local))

        @settings(suppress_health_check=[HealthCheck.too_slow])  # example count: the profile in conftest.py
        @given(text=_message)
        def answered(text: str) -> None:
            thread = Thread(thread=f"T-{next(_threads)}", admin=admin)
            said = runner.run(thread.say(text))
            shown = storable_text(text)
            rows = stored(thread.thread)
            if not shown.strip():
                assert said.events == [] and rows == []
                return
            assert said.text.strip(), f"nothing shown for {text!r}"
            assert INTERNAL_ERROR not in said.text and "Traceback" not in said.text
            assert "\x00" not in said.text
            assert rows and rows[0].content == shown and rows[0].role in ("user", "command")
            if said.done is not None:
                assert rows[-1].role == "assistant" and rows[-1].status == "ok"
                assert rows[-1].content == said.streamed

        answered()
