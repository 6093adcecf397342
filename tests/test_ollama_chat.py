"""From chat: admins `!install` a model with progress posted in the thread, then talk to it through litellm's
`ollama_chat/` provider; a thread whose model was removed is told so, with a suggestion."""

from __future__ import annotations

import time

from sqlmodel import select

from core import ollama as manager
from core.models.sync import refresh
from core.ollama import list_jobs
from core.storage.db import session
from core.storage.tables import Message
from tests.chatkit import Thread
from tests.fakes.ollama import FakeOllama, default_library
from tests.ollamakit import local_ollama, slow_pulls

__all__ = ["local_ollama"]


async def test_admin_installs_a_model_from_a_thread_and_then_chats_with_it_through_litellm(
    local_ollama: FakeOllama,
) -> None:
    slow_pulls(local_ollama, seconds_per_gb=0.7)
    admin = Thread(thread="T-install", admin=True)
    started = time.monotonic()
    said = await admin.say("!install llama3.2:3b")
    took = time.monotonic() - started

    progress = [r for r in said.replies if r.kind == "progress"]
    assert len(progress) >= 2 and len({r.data.job.id for r in progress}) == 1  # one message to keep editing
    assert progress[0].text.startswith("Installing **llama3.2:3b** on 'local'")
    moving = [r for r in progress if r.data.job.percent]
    assert moving and " of 2.0 GB (" in moving[-1].text and "█" in moving[-1].text
    assert [r.data.job.percent for r in moving] == sorted(r.data.job.percent for r in moving)
    # throttled to one a second, however long the ~1.5 s download really took on a busy machine (a count fixed
    # in advance failed when it took longer), plus the first and the last
    assert len(progress) <= 2 + int(took)
    final = said.replies[-1]
    assert final.kind == "info" and final.text.startswith("✅ Installed llama3.2:3b (2.0 GB) in ")
    assert final.text.endswith("Use it in a thread with `!model local/llama3.2:3b`.")
    assert final.choices[0].command == "!model local/llama3.2:3b"

    picked = await admin.say(final.choices[0].command)
    assert "This thread now uses **local/llama3.2:3b**" in picked.text
    answer = await admin.say("hello new model")
    assert answer.streamed == "[llama3.2:3b] You said: hello new model"
    assert answer.done is not None and answer.done.result.model == "local/llama3.2:3b"
    sent = local_ollama.calls("/api/chat", "POST")[-1].json()
    assert sent["model"] == "llama3.2:3b"  # litellm's ollama_chat/ provider, at the provider's URL
    with session() as s:
        stored = s.exec(select(Message).where(Message.role == "assistant")).all()
    assert [(m.model, m.status, m.cost_usd) for m in stored] == [("local/llama3.2:3b", "ok", 0.0)]
    # Ollama's own counts (prompt_eval_count / eval_count), as litellm reports them.
    assert (stored[0].prompt_tokens, stored[0].completion_tokens) == (7, 6)


async def test_only_admins_may_install_and_help_hides_it_from_others(local_ollama: FakeOllama) -> None:
    user = Thread(thread="T-user", admin=False)
    said = await user.say("!install qwen2.5:0.5b")
    (reply,) = said.replies
    assert reply.kind == "refusal" and reply.text == "`!install` is for admins only. Ask an admin of this workspace."
    assert list_jobs() == [] and not local_ollama.calls("/api/pull")
    assert "!install" not in (await user.say("!help")).text
    assert "`!install MODEL [provider:NAME] [--force]`" in (await Thread(admin=True).say("!help")).text


async def test_install_of_an_unknown_model_from_chat_says_so_and_suggests(local_ollama: FakeOllama) -> None:
    said = await Thread(thread="T-typo", admin=True).say("!install llamma3.2:1b")
    final = said.replies[-1]
    assert final.kind == "error"
    assert final.text == (
        "Installing llamma3.2:1b failed: There is no model called 'llamma3.2:1b' in the Ollama library. "
        "Did you mean `llama3.2`, `llama3.2-vision`, `llama3`? "
        "`switchboard ollama library TEXT` searches the catalog."
    )
    usage = await Thread(thread="T-typo", admin=True).say("!install")
    assert usage.replies[0].text.startswith("Usage: `!install MODEL")


async def test_removing_a_model_a_thread_uses_gives_its_next_turn_a_clear_message_and_a_suggestion(
    local_ollama: FakeOllama,
) -> None:
    local_ollama.install("qwen2.5:0.5b")
    await refresh()
    thread = Thread(thread="T-rm")
    await thread.say("!model local/llama3.2:1b")
    first = await thread.say("hello")
    assert first.streamed == "[llama3.2:1b] You said: hello"

    removal = await manager.remove_model("llama3.2:1b", "local")
    assert removal.message.startswith("Removed llama3.2:1b from 'local', freeing up to 1.3 GB")
    chats_before = len(local_ollama.calls("/api/chat"))
    said = await thread.say("are you still there?")
    (reply,) = said.replies
    assert reply.kind == "refusal"
    assert reply.text == (
        "This thread's model, local/llama3.2:1b, can't be used: it was removed from the Ollama server 'local' "
        "(an admin can reinstall it with `!install llama3.2:1b`). Pick another with `!model NAME`. "
        "For example: `local/qwen2.5:0.5b`."
    )
    assert said.done is None and len(local_ollama.calls("/api/chat")) == chats_before
    listed = await thread.say("!models")
    assert "local/qwen2.5:0.5b" in listed.text and "llama3.2:1b" not in listed.text
    switched = await thread.say("!model local/qwen2.5:0.5b")
    assert "now uses **local/qwen2.5:0.5b**" in switched.text
    again = await thread.say("and now?")
    assert again.streamed == "[qwen2.5:0.5b] You said: and now?"


async def test_with_no_default_a_new_thread_takes_ollama_over_other_local_servers_and_says_why(
    local_ollama: FakeOllama,
) -> None:
    from core.providers.store import add_provider
    from tests.fakes.openai import FakeOpenAI

    # "aaa" sorts before "local": a loopback OpenAI-compatible server must not win the free default by its name
    with FakeOpenAI(models=["a-model"], api_key=None) as other:
        add_provider("aaa", "openai_compatible", base_url=other.url + "/v1")
        await refresh()
        said = await Thread(thread="T-default").say("hello")
    assert said.done is not None and said.done.result.model == "local/llama3.2:1b"
    assert said.footer.endswith("chosen as the free local default (no default is set here; `!model NAME` switches)")
    again = await Thread(thread="T-default").say("and again")
    assert again.done is not None and "free local default" not in again.footer  # said once, on the first reply


async def test_an_image_reaches_an_ollama_vision_model_and_not_one_without_vision(local_ollama: FakeOllama) -> None:
    import base64

    from core.types import IncomingFile
    from tests.fileskit import png

    local_ollama.library["llava:7b"] = default_library()["llava:7b"]
    local_ollama.install("llava:7b")
    await refresh()  # the registry learns llava's "vision" capability from /api/show
    image = png(640, 480)
    thread = Thread(thread="T-vision")

    await thread.say("!model local/llama3.2:1b")
    cat = (IncomingFile("cat.png", "image/png", data=image),)
    refused = await thread.say("what animal is this?", files=cat)
    assert refused.replies[0].text.startswith("local/llama3.2:1b cannot see images")
    assert "`local/llava:7b`" in refused.replies[0].text
    assert local_ollama.calls("/api/chat", "POST") == []

    await thread.say("!model local/llava:7b")
    said = await thread.say("and now?", files=cat)
    assert said.done is not None and said.done.result.model == "local/llava:7b"
    sent = local_ollama.calls("/api/chat", "POST")[-1].json()
    # litellm's ollama_chat/ provider sends an image as Ollama takes it: base64 in the message's `images`
    # (the message refused above is in the history too, with its image: it was kept, only not sent then)
    first, asked = [m for m in sent["messages"] if m.get("images")]
    assert [base64.b64decode(i) for i in asked["images"]] == [image] and asked["content"] == "and now?"
    assert first["content"] == "what animal is this?"
