"""A reply that used tools, stored as the tool loop stores it (core.tools.rounds: a role "tool" row per round under
the reply, the reply with its rounds and tool time), read in the admin: the Conversations transcript and messages
table, the Markdown and JSON exports, and usage, which counts every round as a model call and the reply once. The
raw arguments (which here hold a secret) never appear; the arguments as the thread was shown them do."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core.reports.analytics import usage_by
from core.reports.spend import local_today
from core.reports.threads import list_threads, thread_messages
from core.reports.transcripts import RESULT_SHOWN_CHARS, reply_facts, transcript_json, transcript_markdown
from core.reports.usage import thread_usage
from core.threads.conversations import await_confirmation, finish_reply, start_turn
from core.tools.rounds import CallRecord, store_round
from core.types import IncomingMessage, TurnResult
from tests.adminkit import AdminApp

WHERE = ("slack", "W-T", "C-T", "T-tools")
SECRET = "sk-live-0123456789abcdef"
LONG = "row " * 1500  # 6,000 characters: more than the transcript shows of a result


def store_reply_with_tools(where: tuple[str, str, str, str] = WHERE) -> int:
    """'Is ticket 42 closed?': two tool rounds (a search with a secret in its raw arguments, shown masked; then a
    lookup that timed out and one whose long result was capped), then the answer, stored in the order the tool
    loop stores them. Returns the conversation id."""
    platform, workspace, channel, thread = where
    asked = IncomingMessage(platform, workspace, channel, thread, "U1", "Is ticket 42 closed?", event_id=f"ev-{thread}")
    start = start_turn(asked)
    conversation, reply = start.conversation.id, start.reply_id
    assert reply is not None
    search = CallRecord(
        "call-1", "tickets", "search", "tickets__search", json.dumps({"q": "42", "api_key": SECRET}),
        shown="q=42, api_key=••••", status="ok", result='[{"id": 42, "state": "closed"}]', ms=150.0,
    )  # fmt: skip
    first = TurnResult("oa/gpt-4o", "oa", "ok", "Let me look that up.", prompt_tokens=100, completion_tokens=10,
                       cost_usd=0.001, latency_ms=601)  # fmt: skip
    store_round(conversation, reply, first, [search])
    slow = CallRecord("call-2", "tickets", "history", "tickets__history", '{"id": 42}', "id=42", "timeout",
                      "The tool did not answer within 30 s.", 30000.0)  # fmt: skip
    big = CallRecord("call-3", "tickets", "export", "tickets__export", '{"id": 42}', "id=42", "ok", LONG, 2000.0)
    second = TurnResult("oa/gpt-4o", "oa", "ok", "", prompt_tokens=200, completion_tokens=15, cost_usd=0.002,
                        latency_ms=602, fallback_from="oa/o3", fallback_reason="rate limited (429)")  # fmt: skip
    store_round(conversation, reply, second, [slow, big])
    answer = TurnResult(
        "oa/gpt-4o", "oa", "ok", "Ticket 42 is closed.", prompt_tokens=300, completion_tokens=20, cost_usd=0.003,
        latency_ms=900, tool_rounds=2, tool_ms=2400.0,
    )  # fmt: skip
    finish_reply(reply, answer, conversation_id=conversation, pin=answer.model)
    return conversation


def store_reply_awaiting_consent() -> int:
    """A reply parked after a round whose call asks the user first, as the tool loop parks it."""
    start = start_turn(IncomingMessage("slack", "W-T", "C-T", "T-ask", "U2", "Close ticket 42", event_id="ev-ask"))
    assert start.reply_id is not None
    close = CallRecord("call-9", "tickets", "close_ticket", "tickets__close_ticket", '{"id": "42"}', "id=42")
    asked = TurnResult("oa/gpt-4o", "oa", "ok", "", prompt_tokens=80, completion_tokens=12, cost_usd=0.0009)
    store_round(start.conversation.id, start.reply_id, asked, [close])
    await_confirmation(start.reply_id, "tickets.close_ticket(id=42) asks first. Reply !confirm to run it.")
    return start.conversation.id


@pytest.fixture
def reply_with_tools() -> int:
    return store_reply_with_tools()


def test_a_reply_carries_its_rounds_and_the_exports_show_them_without_raw_arguments(reply_with_tools: int) -> None:
    (t,) = list_threads().threads
    assert (t.messages, t.replies) == (2, 1)  # the rounds are part of the reply, not messages of their own
    assert t.tokens == 100 + 10 + 200 + 15 + 300 + 20 and t.cost_usd == pytest.approx(0.006)

    user, reply = thread_messages(t.id)
    assert (user.role, reply.role, reply.tool_rounds, reply.tool_ms) == ("user", "assistant", 2, 2400.0)
    first, second = reply.rounds
    assert [c.qualified for c in first.calls] == ["tickets.search"]
    assert [(c.tool, c.status, c.ms) for c in second.calls] == [("history", "timeout", 30000.0), ("export", "ok", 2000)]
    facts = reply_facts(reply)
    assert facts.startswith("oa/gpt-4o · 2 tool rounds, tools ran 2,400 ms · 600 in / 45 out tokens in all · $0.006")

    md = transcript_markdown(t, [user, reply])
    assert SECRET not in md and "api_key=••••" in md
    assert "**Tool round 1 · oa/gpt-4o · 100 in / 10 out tokens · $0.001 · 601 ms**" in md
    assert "Let me look that up." in md
    assert "- `tickets.search(q=42, api_key=••••)` · ok · 150 ms" in md
    assert "- `tickets.history(id=42)` · timed out · 30.0 s\n\n  <details><summary>What happened</summary>" in md
    assert "**Tool round 2 · oa/gpt-4o · 200 in / 15 out tokens · $0.002 · 602 ms · fallback from oa/o3 (rate" in md
    assert '[{"id": 42, "state": "closed"}]' in md and "<details><summary>Result (31 B)</summary>" in md
    assert f"({len(LONG) - RESULT_SHOWN_CHARS:,} more characters not shown)" in md
    assert md.index("Tool round 1") < md.index("Tool round 2") < md.index("Ticket 42 is closed.")

    doc = json.loads(transcript_json(t, [user, reply]))
    assert SECRET not in json.dumps(doc)
    answer = doc["messages"][1]
    assert (answer["tool_rounds"], answer["tool_ms"], len(answer["rounds"])) == (2, 2400.0, 2)
    (call,) = answer["rounds"][0]["calls"]
    assert call == {
        "server": "tickets",
        "tool": "search",
        "shown": "q=42, api_key=••••",
        "status": "ok",
        "ms": 150.0,
        "result": '[{"id": 42, "state": "closed"}]',
    }
    assert answer["rounds"][1]["calls"][1]["result"] == LONG  # the export keeps what was stored


def test_the_conversations_page_shows_each_call_above_its_reply(reply_with_tools: int) -> None:
    admin = AdminApp.signed_in().open("conversations")
    text = admin.text()
    assert SECRET not in text
    assert r"Tool round 1 · oa/gpt-4o · 100 in / 10 out tokens · \$0.001 · 601 ms" in text  # Markdown: a $, no formula
    assert "2 tool rounds, tools ran 2,400 ms" in text
    labels = [e.label for e in admin.at.expander]
    assert r"**tickets.search**(q=42, api\_key=••••) · ok · 150 ms" in labels
    assert "**tickets.history**(id=42) · timed out · 30.0 s" in labels
    code = [c.value for c in admin.at.code]
    assert '[{"id": 42, "state": "closed"}]' in code and "The tool did not answer within 30 s." in code
    assert not any(SECRET in c for c in code)
    capped = next(c for c in code if c.startswith("row row"))
    assert len(capped) < RESULT_SHOWN_CHARS + 60 and capped.endswith("more characters not shown)")

    table = admin.table_with("tokens in")
    assert table["role"].tolist() == ["user", "tool round", "tool round", "assistant"]
    assert table["cost"].tolist()[1:] == ["$0.001", "$0.002", "$0.003"]
    assert "tickets.history(id=42): timed out" in table["text"].tolist()[2]


def test_usage_counts_every_round_as_a_model_call_and_the_reply_once(reply_with_tools: int) -> None:
    (model,) = usage_by("model")
    assert (model.replies, model.tokens, model.tool_rounds, model.tool_ms) == (1, 645, 2, 2400.0)
    assert model.cost_usd == pytest.approx(0.006)
    used = thread_usage(reply_with_tools)
    assert (used.replies, used.tokens, used.unknown_cost_replies) == (1, 645, 0)
    assert used.cost_usd == pytest.approx(0.006)

    admin = AdminApp.signed_in().open("usage")
    assert (admin.metric("Replies"), admin.metric("Tokens"), admin.metric("Cost")) == ("1", "645", "$0.006")
    text = admin.text()
    assert "2 tool rounds (model calls that asked for tools" in text and "tools ran 2.4 s in all" in text
    breakdown = admin.table_with("prompt tokens").set_index("model").loc["oa/gpt-4o"]
    assert (breakdown["replies"], breakdown["tool rounds"], breakdown["tool time (s)"]) == (1, 2, 2.4)
    days = admin.charts()["Cost (USD)"].set_index("day")
    assert days.loc[local_today().isoformat(), "cost (USD)"] == pytest.approx(0.006)
    assert (local_today() - timedelta(days=1)).isoformat() in days.index


def test_a_reply_waiting_for_consent_shows_the_call_that_waits() -> None:
    conversation = store_reply_awaiting_consent()
    (t,) = list_threads().threads
    _, parked = thread_messages(conversation)
    assert reply_facts(parked) == (  # no model of its own yet: its round's
        "oa/gpt-4o · 1 tool round · 80 in / 12 out tokens in all · $0.0009 · waiting for the user's !confirm"
    )
    md = transcript_markdown(t, [parked])
    assert "- `tickets.close_ticket(id=42)` · waiting for the user's OK" in md
    admin = AdminApp.signed_in().open("conversations")
    assert "**tickets.close\\_ticket**(id=42) · waiting for the user's OK" in [e.label for e in admin.at.expander]
