"""Files in a thread on a Claude model, through the real litellm `anthropic/` provider to the loopback fake of
Anthropic's Messages API: an image arrives as Anthropic's base64 image block with its bytes intact, the streamed
reply gets the usual footer, and the usage Anthropic streams (input tokens in message_start, output tokens in
message_delta) is what is stored and priced. Text files and PDFs arrive as text."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select

from core.models.sync import refresh
from core.providers.store import add_provider
from core.storage.db import session
from core.storage.tables import Message
from core.types import Delta, IncomingFile
from tests.chatkit import Thread
from tests.fakes.anthropic import AnthropicReply, FakeAnthropic, images_in, texts_in
from tests.fileskit import pdf, png

KEY = "sk-ant-api03-test-key-for-images"
SHOT = png(320, 200, rgb=(20, 120, 220))


@pytest.fixture
async def claude() -> AsyncIterator[FakeAnthropic]:
    fake = FakeAnthropic(models=["claude-sonnet-4-5", "claude-haiku-4-5"], api_key=KEY)
    with fake:
        await asyncio.to_thread(add_provider, "claude", "anthropic", base_url=fake.url, api_key=KEY)
        await refresh()
        yield fake


def replies_stored() -> list[Message]:
    with session() as s:
        query = select(Message).where(Message.role == "assistant").order_by(Message.id)  # type: ignore[arg-type]
        return list(s.exec(query).all())


async def test_a_screenshot_reaches_claude_as_a_base64_image_block_and_its_usage_is_stored(
    claude: FakeAnthropic,
) -> None:
    thread = Thread()
    await thread.say("!model claude/claude-sonnet-4-5")
    # Anthropic's counts, not ours: 2,000 in ($3/Mtok) and 40 out ($15/Mtok) cost $0.0066
    answer = "A blue rectangle, " + " ".join(["nothing"] * 10) + " else."
    claude.script(AnthropicReply(answer, input_tokens=2000, output_tokens=40))
    said = await thread.say("What is on this screenshot?", files=(IncomingFile("shot.png", "image/png", data=SHOT),))

    (body,) = claude.messages_calls("claude-sonnet-4-5")
    assert body["stream"] is True
    assert images_in(body) == [("image/png", SHOT)]  # the exact bytes, declared as PNG
    assert texts_in(body) == ["What is on this screenshot?"]
    (request,) = claude.calls("/v1/messages", "POST")
    assert request.headers["x-api-key"] == KEY and request.headers["anthropic-version"]

    assert said.streamed == answer
    assert len([e for e in said.events if isinstance(e, Delta)]) > 1  # streamed in pieces, not at once
    assert said.footer == "claude/claude-sonnet-4-5 · 2,040 tokens · $0.0066"
    (reply,) = replies_stored()
    assert (reply.model, reply.status, reply.content) == ("claude/claude-sonnet-4-5", "ok", answer)
    assert (reply.prompt_tokens, reply.completion_tokens) == (2000, 40)
    assert reply.cost_usd == pytest.approx(0.0066)


async def test_a_later_turn_sends_the_screenshot_again_with_the_history(claude: FakeAnthropic) -> None:
    thread = Thread()
    await thread.say("!model claude/claude-haiku-4-5")
    await thread.say("What colour is this?", files=(IncomingFile("shot.png", "image/png", data=SHOT),))
    said = await thread.say("And is it wider than tall?")

    _, later = claude.messages_calls("claude-haiku-4-5")
    assert images_in(later) == [("image/png", SHOT)]
    assert texts_in(later) == ["What colour is this?", "And is it wider than tall?"]
    assert texts_in(later, "assistant") == ["echo: What colour is this?"]
    # the fake's own count: the text by characters / 4, the 320x200 PNG by Anthropic's width x height / 750
    assert said.done is not None and said.done.result.prompt_tokens == texts_tokens(later) + 86


def texts_tokens(body: dict[str, Any]) -> int:
    """The fake's count for the text of a request: its characters (system prompt included) / 4, rounded up."""
    system = body.get("system") or ""
    chars = len(system) if isinstance(system, str) else sum(len(b["text"]) for b in system)
    chars += sum(len(t) for role in ("user", "assistant") for t in texts_in(body, role))
    return -(-chars // 4)


async def test_a_text_file_and_a_pdf_reach_claude_as_text_under_their_names(claude: FakeAnthropic) -> None:
    thread = Thread()
    await thread.say("!model claude/claude-sonnet-4-5")
    notes = IncomingFile("notes.md", "text/markdown", data=b"# Plan\n- ship the release on Friday\n")
    report = IncomingFile("report.pdf", "application/pdf", data=pdf("Revenue grew 12 percent", "Costs fell"))
    said = await thread.say("summarise these", files=(notes, report))

    assert said.done is not None and said.done.result.status == "ok"
    (body,) = claude.messages_calls("claude-sonnet-4-5")
    assert images_in(body) == []
    assert all(b["type"] == "text" for m in body["messages"] if isinstance(m["content"], list) for b in m["content"])
    (text,) = texts_in(body)
    assert text.startswith("summarise these\n\n--- notes.md ---\n# Plan\n- ship the release on Friday")
    assert "--- report.pdf (PDF, 2 pages, its text) ---\n[page 1]\nRevenue grew 12 percent" in text
    assert "[page 2]\nCosts fell" in text
    assert said.streamed == "echo: " + text


async def test_a_revoked_key_is_told_plainly(claude: FakeAnthropic) -> None:
    thread = Thread()
    await thread.say("!model claude/claude-sonnet-4-5")
    claude.api_key = "sk-ant-api03-rotated-elsewhere"
    said = await thread.say("look", files=(IncomingFile("shot.png", "image/png", data=SHOT),))

    assert len(claude.calls("/v1/messages")) == 1  # a rejected key is not retried
    assert "authentication failed" in said.text and "HTTP 401" in said.text
    # what to do: not "try again in a moment", which cannot help with a rejected key
    assert "The provider 'claude' rejected its API key, so trying again will not help" in said.text
    assert "an admin needs to set a valid key" in said.text and "Try again in a moment" not in said.text
    assert KEY not in said.text and "Traceback" not in said.text


async def test_the_fake_refuses_images_as_anthropic_does(claude: FakeAnthropic) -> None:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}

    def with_image(media_type: str, data: str) -> dict[str, Any]:
        source = {"type": "base64", "media_type": media_type, "data": data}
        content = [{"type": "image", "source": source}, {"type": "text", "text": "what?"}]
        return {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": content}]}

    good = base64.b64encode(SHOT).decode()
    async with httpx.AsyncClient(base_url=claude.url) as client:
        ok = await client.post("/v1/messages", json=with_image("image/png", good), headers=headers)
        bmp = await client.post("/v1/messages", json=with_image("image/bmp", good), headers=headers)
        garbled = await client.post("/v1/messages", json=with_image("image/png", "not base64!"), headers=headers)
        mislabelled = await client.post("/v1/messages", json=with_image("image/jpeg", good), headers=headers)
        wrong_key = await client.post(
            "/v1/messages", json=with_image("image/png", good), headers={**headers, "x-api-key": "x"}
        )

    assert ok.status_code == 200 and ok.json()["content"] == [{"type": "text", "text": "echo: what?"}]
    assert ok.json()["usage"] == {"input_tokens": 2 + 86, "output_tokens": 2}
    for refused in (bmp, garbled, mislabelled):
        assert refused.status_code == 400 and refused.json()["error"]["type"] == "invalid_request_error"
    assert bmp.json()["error"]["message"].startswith(
        "messages.0.content.0.image.source.base64.media_type: Input should"
    )
    assert wrong_key.status_code == 401
    assert wrong_key.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
