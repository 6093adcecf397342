"""A reply that used tools, stored as the tool loop stores it (core.tools.rounds: a role "tool" row per round under
the reply, the reply with its rounds and tool time), read in the admin: the Conversations transcript and messages
table, the Markdown and JSON exports, and usage, which counts every round as a model call and the reply once. The
raw arguments (which here hold a secret) never appear; the arguments as the thread was shown them do."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from core.reports.analytics import usage_by
from core.reports.spend import local_today
from core.reports.threads import list_threads, thread_messages
from core.reports.transcripts import RESULT_SHOWN_CHARS, reply_facts, transcript_json, transcript_markdown
from core.reports.usage import thread_usage
from core.storage.db import session
from core.storage.tables import Message
from core.tools.rounds import CallRecord
from core.types import TurnResult
from tests.adminkit import AdminApp
from tests.test_admin_browse import turn

WHERE = ("slack", "W-T", "C-T", "T-tools")
SECRET = "sk-live-0123456789abcdef"
LONG = "row " * 1500  # 6,000 characters: more than the transcript shows of a result


def stored_round(reply: Message, n: int, calls: list[CallRecord], tokens: tuple[int, int], cost: float) -> None:
    with session() as s:
        s.add(
            Message(
                conversation_id=reply.conversation_id,
                role="tool",
                parent_id=reply.id,
                content="Let me look that up." if n == 1 else "",
                model="oa/gpt-4o",
                provider="oa",
                status="ok",
                prompt_tokens=tokens[0],
                completion_tokens=tokens[1],
                cost_usd=cost,
                latency_ms=600 + n,
                tool_calls=[c.as_json() for c in calls],
            )
        )


@pytest.fixture
def reply_with_tools() -> int:
    """'Is ticket 42 closed?': two tool rounds (a search with a secret in its raw arguments, shown masked; then a
    lookup that timed out and one whose long result was capped), then the answer."""
    answer = TurnResult(
        "oa/gpt-4o", "oa", "ok", "Ticket 42 is closed.", prompt_tokens=300, completion_tokens=20, cost_usd=0.003,
        latency_ms=900,
    )  # fmt: skip
    turn(WHERE, "Is ticket 42 closed?", answer)
    with session() as s:
        reply = s.exec(select(Message).where(Message.role == "assistant")).one()
        reply.tool_rounds, reply.tool_ms = 2, 2400.0
        s.add(reply)
    search = CallRecord(
        "call-1", "tickets", "search", "tickets__search", json.dumps({"q": "42", "api_key": SECRET}),
        shown="q=42, api_key=••••", status="ok", result='[{"id": 42, "state": "closed"}]', ms=150.0,
    )  # fmt: skip
    stored_round(reply, 1, [search], (100, 10), 0.001)
    slow = CallRecord("call-2", "tickets", "history", "tickets__history", '{"id": 42}', "id=42", "timeout",
                      "The tool did not answer within 30 s.", 30000.0)  # fmt: skip
    big = CallRecord("call-3", "tickets", "export", "tickets__export", '{"id": 42}', "id=42", "ok", LONG, 2000.0)
    stored_round(reply, 2, [slow, big], (200, 15), 0.002)
    assert reply.conversation_id is not None
    return reply.conversation_id


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
    assert "- `tickets.history(id=42)` · timed out · 30.0 s" in md
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
