"""Tool calls in a Slack thread (bot/slack/reply.py `Place.tool`): each call a small grey line of its own, posted
as it starts and updated with chat.update as it ends, between the text the model wrote before calling and the
answer it wrote after. A turn's events are scripted here and shown through the reply driver on the real Place,
with the real slack-sdk client against the fake Slack (the whole tool loop's tests drive the core too)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import pacing
from bot.slack.reply import Place, forget_refusals
from core.delivery.driver import present
from core.types import Delta, Done, Event, ToolActivity, TurnResult
from tests.fakes.slack import FakeSlack, Message
from tests.slackkit import ADA, CHANNEL, footer_of

LOOKUP = ToolActivity("call-1", "docs", "lookup_ticket", 'ticket_id: "T-1"', "running")
RUNNING = '🔧 docs.lookup_ticket (ticket_id: "T-1") · running…'
FOUND = '✅ docs.lookup_ticket (ticket_id: "T-1") · 0.4 s · 1.2 KB'
FOOTER = "gpt-4o · 1,234 tokens · $0.0100 · 1 tool round"
ANSWERED = TurnResult(model="gpt-4o", provider="openai", status="ok", text="", tool_rounds=1, tool_ms=420)


async def scripted(*steps: Event | float) -> AsyncIterator[Event]:
    """The events of a turn, a number standing for that many seconds in between."""
    for step in steps:
        if isinstance(step, float):
            await asyncio.sleep(step)
        else:
            yield step


def place(fake: FakeSlack, thread_ts: str, *, native: bool = False) -> Place:
    ws = fake.workspace()
    client = AsyncWebClient(token=ws.token, base_url=fake.api_url)  # no retry handler: a 429 reaches the Place
    return Place(client, ws.team_id, CHANNEL, thread_ts, ADA, native_streaming=native)


@pytest.fixture
def thread(fake: FakeSlack) -> str:
    pacing.forget()
    forget_refusals()
    return fake.add_message(CHANNEL, "<@bot> is T-1 still open?", user=ADA).ts


def replies(fake: FakeSlack, thread_ts: str) -> list[Message]:
    return [m for m in fake.bot_messages(CHANNEL, thread_ts) if m.is_reply]


def read(m: Message) -> str:
    """A bot message as the person reads it: an answer's Markdown, or the one line of a tool call."""
    markdown = [b["text"] for b in m.blocks or [] if b.get("type") == "markdown"]
    if markdown:
        return str(markdown[0])
    context = [e for b in m.blocks or [] if b.get("type") == "context" for e in b["elements"]]
    return str(context[0]["text"]) if context and m.stream_state is None else m.text


def tool_line_of(m: Message) -> dict[str, Any]:
    (block,) = m.blocks or []
    assert block["type"] == "context"
    (element,) = block["elements"]
    return dict(element)


@pytest.mark.parametrize("native", [False, True], ids=["posted-and-edited", "slack-streaming"])
async def test_a_tool_call_shows_running_then_how_it_ended_between_the_text_and_the_answer(
    fake: FakeSlack, thread: str, native: bool
) -> None:
    outcome = await present(
        scripted(
            Delta("Let me look "),
            Delta("that up."),
            LOOKUP,
            1.5,  # the call runs: its line is shown as running meanwhile
            dataclasses.replace(LOOKUP, state="ok", seconds=0.42, detail="1.2 KB"),
            Delta("T-1 is still "),
            0.3,
            Delta("open."),
            Done(ANSWERED, footer=FOOTER),
        ),
        place(fake, thread, native=native),
    )
    assert outcome.ok
    before, call, answer = replies(fake, thread)
    assert [read(m) for m in (before, call, answer)] == ["Let me look that up.", FOUND, "T-1 is still open."]
    assert footer_of(before) == "" and footer_of(answer) == FOOTER  # the footer under the answer only
    if native:
        assert before.stream_state == answer.stream_state == "completed"
    posted = next(c for c in fake.api_calls_to("chat.postMessage") if c.response and c.response["ts"] == call.ts)
    assert posted.params["blocks"][0]["elements"][0]["text"] == RUNNING  # it was shown running first
    assert [e.method for e in call.edits] == ["chat.update"]  # then updated once, to how it ended
    assert call.thread_ts == thread and call.text == FOUND


async def test_what_a_model_put_in_the_arguments_mentions_no_one_and_formats_nothing(
    fake: FakeSlack, thread: str
) -> None:
    sneaky = 'note: "<!channel> @everyone <@U0USER00001> *urgent* <https://evil.example|click>"'
    call = dataclasses.replace(LOOKUP, args=sneaky)
    failed = dataclasses.replace(call, state="error", seconds=1.0, detail="<!here> it broke")
    await present(scripted(call, 1.2, failed, Delta("Sorry."), Done(ANSWERED, footer=FOOTER)), place(fake, thread))
    shown = replies(fake, thread)[0]
    line = tool_line_of(shown)
    # plain text: Slack shows it as written, with no mention, link or bold in it
    assert line == {
        "type": "plain_text",
        "text": f"⚠️ docs.lookup_ticket ({sneaky}) · failed after 1.0 s: <!here> it broke",
        "emoji": True,
    }
    # the notification text (mrkdwn) carries no control sequence Slack would turn into a mention or a link
    for text in [shown.text, *(str(c.params.get("text")) for c in fake.api_calls_to("chat.postMessage"))]:
        assert "<!" not in text and "<@" not in text and "<http" not in text
        assert "@everyone" not in text
    assert "&lt;!channel&gt;" in shown.text


async def test_an_update_slack_rate_limits_is_written_after_retry_after(fake: FakeSlack, thread: str) -> None:
    fake.rate_limit_next("chat.update", retry_after=1)
    await present(
        scripted(
            LOOKUP,
            1.2,
            dataclasses.replace(LOOKUP, state="timeout", seconds=30.0, detail="timed out after 30 s"),
            2.5,
            Delta("The docs server did not answer in time."),
            Done(ANSWERED, footer=FOOTER),
        ),
        place(fake, thread),
    )
    call, answer = replies(fake, thread)
    assert read(call) == '⏱️ docs.lookup_ticket (ticket_id: "T-1") · timed out after 30 s'
    assert [c.status for c in fake.api_calls_to("chat.update")][:2] == [429, 200]
    assert read(answer) == "The docs server did not answer in time."
