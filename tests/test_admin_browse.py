"""What the Overview, Conversations and Performance pages show for conversations, health and alerts seeded
through the core (the same calls the bots make)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta

import pytest

from core.alerts import raise_alert
from core.models.registry import set_model_overrides
from core.models.stats import update_stats
from core.providers.store import add_provider, mark_unhealthy
from core.reports.performance import performance_series
from core.reports.threads import (
    count_active_threads,
    is_command,
    list_threads,
    plural,
    scopes_seen,
    thread_messages,
)
from core.reports.transcripts import transcript_json, transcript_markdown
from core.threads.conversations import finish_reply, start_turn
from core.types import IncomingMessage, TurnResult
from tests.adminkit import AdminApp

_events = itertools.count(1)


def turn(where: tuple[str, str, str, str], text: str, result: TurnResult, user: str = "U1") -> None:
    """A user message and its reply, stored as the chat core stores them."""
    platform, workspace, channel, thread = where
    start = start_turn(
        IncomingMessage(platform, workspace, channel, thread, user, text, event_id=f"ev-{next(_events)}")
    )
    assert start.reply_id is not None
    finish_reply(start.reply_id, result, conversation_id=start.conversation.id, pin=result.model)


SLACK = ("slack", "W1", "C1", "T-1")
DISCORD = ("discord", "G1", "C2", "T-2")


@pytest.fixture
def threads() -> None:
    turn(
        SLACK,
        "How do I rotate keys?",
        TurnResult("oa/gpt-4o", "oa", "ok", "Like this.", prompt_tokens=100, completion_tokens=50,
                   cost_usd=0.0123, latency_ms=800, ttft_ms=200),
    )  # fmt: skip
    turn(
        SLACK,
        "And again?",
        TurnResult("local/llama-small", "local", "ok", "Same way.", fallback_from="oa/gpt-4o",
                   fallback_reason="rate limited (429)", prompt_tokens=120, completion_tokens=30, cost_usd=0.0,
                   latency_ms=400, ttft_ms=100),
    )  # fmt: skip
    turn(
        DISCORD,
        "Summarise this",
        TurnResult("oa/gpt-4o", "oa", "error", error="OpenAI refused the request: context too long.",
                   cost_usd=None, latency_ms=90),
    )  # fmt: skip


def test_conversations_lists_threads_and_each_message_with_model_tokens_cost_fallback_status(threads: None) -> None:
    admin = AdminApp.signed_in().open("conversations")
    listed = admin.table_with("fallbacks").set_index("thread")
    assert list(listed.index) == ["Summarise this", "How do I rotate keys?"]  # most recent first
    slack = listed.loc["How do I rotate keys?"]
    assert (slack["messages"], slack["tokens"], slack["cost"], slack["fallbacks"]) == (4, 300, "$0.0123", 1)
    assert listed.loc["Summarise this", "errors"] == 1

    admin.choose("Open thread", next(o for o in admin.selectbox_options("Open thread") if "rotate" in o)).run()
    messages = admin.table_with("tokens in")
    replies = messages[messages["role"] == "assistant"].reset_index(drop=True)
    assert replies["model"].tolist() == ["oa/gpt-4o", "local/llama-small"]
    assert replies["tokens in"].tolist() == ["100", "120"] and replies["tokens out"].tolist() == ["50", "30"]
    assert replies["cost"].tolist() == ["$0.0123", "$0"]
    assert replies["fallback"].tolist() == ["", "from oa/gpt-4o: rate limited (429)"]
    assert replies["latency"].tolist() == ["800 ms", "400 ms"] and replies["status"].tolist() == ["ok", "ok"]
    assert admin.metric("Fallbacks") == "1" and admin.metric("Cost") == "$0.0123"

    admin.choose("Platform", "discord").run()
    (error,) = admin.table_with("tokens in").query("role == 'assistant'").to_dict("records")
    assert error["status"] == "error" and error["error"] == "OpenAI refused the request: context too long."

    admin.choose("Platform", "all").fill("Model used", "local/llama-small").run()
    assert admin.table_with("fallbacks")["thread"].tolist() == ["How do I rotate keys?"]


def test_performance_over_time_and_the_registry_figures() -> None:
    where = ("console", "local", "C", "T-perf")
    for latency in range(100, 1001, 100):
        result = TurnResult("local/llama-big", "local", "ok", "x", completion_tokens=20, latency_ms=latency, ttft_ms=50)
        turn(where, "q", result)
    turn(where, "q", TurnResult("local/llama-big", "local", "error", error="boom", latency_ms=30))

    (point,) = performance_series(timedelta(days=1), timedelta(days=3650))
    assert (point.model, point.replies, point.errors) == ("local/llama-big", 11, 1)
    assert (point.latency_p50_ms, point.latency_p95_ms, point.ttft_p50_ms) == (500, 1000, 50)
    assert point.tokens_per_s == pytest.approx(20 / 0.55)
    assert point.error_rate == pytest.approx(1 / 11)

    admin = AdminApp.signed_in().open("performance")
    assert "11 replies; each point is one hour" in admin.text()
    charts = admin.charts()
    assert set(charts) == {
        "Latency p50 (ms)",
        "Latency p95 (ms)",
        "Time to first token p50 (ms)",
        "Tokens/s p50",
        "Error rate",
    }
    assert charts["Latency p95 (ms)"]["latency_p95_ms"].tolist() == [1000]
    assert charts["Error rate"]["error_rate"].tolist() == [pytest.approx(1 / 11)]  # the axis shows it as a percentage
    assert charts["Latency p50 (ms)"]["model"].tolist() == ["local/llama-big"]
    assert "No model has rolling figures yet" in admin.text()

    add_provider("local", "openai_compatible", base_url="http://127.0.0.1:9/v1")
    set_model_overrides("local/llama-big")  # a registry entry for the model the replies above came from
    update_stats(["local/llama-big"])
    admin.run()
    figures = admin.table_with("first token p50").set_index("model").loc["local/llama-big"]
    assert (figures["latency p50"], figures["latency p95"], figures["error rate"]) == ("500 ms", "1,000 ms", "9.1%")


def test_overview_shows_health_alerts_and_active_threads(threads: None) -> None:
    add_provider("oa", "openai", base_url="http://127.0.0.1:9/v1", api_key="sk-test-key-0000000000")
    add_provider("local", "ollama")
    mark_unhealthy("oa", "OpenAI rejected the API key (401).")
    raise_alert("health", "health:oa:1", "Provider 'oa' is failing: OpenAI rejected the API key (401).")

    admin = AdminApp.signed_in()
    assert admin.metric("Providers") == "2" and admin.metric("Failing") == "1"
    health = next(t.value for t in admin.at.table if "problem" in t.value.columns)  # static: never cut off
    assert (
        health.loc["oa", "health"] == "failing" and health.loc["oa", "problem"] == "OpenAI rejected the API key (401)."
    )
    assert health.loc["local", "health"] == "unchecked"
    assert any("Provider 'oa' is failing" in m.value for m in admin.at.markdown)
    assert admin.metric("Threads active in the last 24 hours") == "2"
    assert set(admin.table_with("last activity")["thread"]) == {"How do I rotate keys?", "Summarise this"}


def test_browse_queries_on_sqlite_and_postgresql(any_db: str) -> None:
    """The browsing queries are plain SQLAlchemy: the same answers on both engines."""
    turn(SLACK, "How do I rotate keys?", TurnResult("oa/gpt-4o", "oa", "ok", "x", prompt_tokens=10, cost_usd=None))
    turn(SLACK, "Again", TurnResult("local/a", "local", "ok", "y", fallback_from="oa/gpt-4o", completion_tokens=5))
    turn(DISCORD, "Other", TurnResult("oa/gpt-4o", "oa", "error", error="boom", latency_ms=10))

    page = list_threads()
    assert page.total == 2 and [t.thread for t in page.threads] == ["T-2", "T-1"]
    slack = page.threads[1]
    assert (slack.messages, slack.replies, slack.tokens, slack.unknown_cost_replies, slack.fallbacks) == (
        4,
        2,
        15,
        1,
        1,
    )
    assert page.threads[0].errors == 1
    assert [t.thread for t in list_threads(model="oa/gpt-4o").threads] == ["T-2", "T-1"]  # a fallback counts
    assert [t.thread for t in list_threads(model="local/a").threads] == ["T-1"]
    assert [t.thread for t in list_threads(text="ROTATE").threads] == ["T-1"]
    assert list_threads(platform="discord", workspace="G1", channel="C2").total == 1
    assert list_threads(limit=1, offset=1).threads[0].thread == "T-1"
    assert count_active_threads(timedelta(hours=1)) == 2
    assert [(s.platform, s.threads) for s in scopes_seen()] == [("discord", 1), ("slack", 1)]
    roles = [(m.role, m.model) for m in thread_messages(slack.id)]
    assert roles == [("user", None), ("assistant", "oa/gpt-4o"), ("user", None), ("assistant", "local/a")]
    (point,) = performance_series(timedelta(hours=1), timedelta(days=3650), models=["oa/gpt-4o"])
    assert (point.replies, point.errors) == (2, 1)


def test_thread_titles_skip_commands_and_transcripts_export_on_sqlite_and_postgresql(any_db: str) -> None:
    """A thread opened with `!model ...` is titled by its first real question; the transcript exports carry every
    reply's model, tokens, cost, latency and fallback."""
    where = ("slack", "W9", "C9", "T-cmd")
    turn(where, "!model oa/gpt-4o", TurnResult("oa/gpt-4o", "oa", "ok", "Now using oa/gpt-4o."))
    turn(
        where,
        "What is   a  vector index?",
        TurnResult("local/a", "local", "ok", "A map of embeddings.", fallback_from="oa/gpt-4o",
                   fallback_reason="rate limited (429)", prompt_tokens=1200, completion_tokens=30, cost_usd=0.0021,
                   latency_ms=850, ttft_ms=120),
    )  # fmt: skip
    (t,) = list_threads().threads
    assert t.title == "What is a vector index?"
    assert [x.thread for x in list_threads(text="!model").threads] == ["T-cmd"]  # the stored title still matches
    messages = thread_messages(t.id)

    md = transcript_markdown(t, messages)
    assert md.startswith("# What is a vector index?\n")
    assert "- Where: slack, workspace W9, channel C9, thread T-cmd" in md
    assert "## U1 · " in md and "What is   a  vector index?" in md
    facts = "*local/a · 1,200 in / 30 out tokens · $0.0021 · 850 ms, first token 120 ms · fallback from oa/gpt-4o"
    assert facts + " (rate limited (429))*" in md
    assert "4 messages" in md and "1 fallback" in md and "0 errors" in md

    doc = json.loads(transcript_json(t, messages))
    assert doc["thread"]["title"] == "What is a vector index?" and doc["thread"]["id"] == t.id
    reply = doc["messages"][-1]
    assert (reply["model"], reply["prompt_tokens"], reply["completion_tokens"], reply["cost_usd"]) == (
        "local/a",
        1200,
        30,
        0.0021,
    )
    assert (reply["latency_ms"], reply["fallback_from"]) == (850, "oa/gpt-4o")
    assert datetime.fromisoformat(reply["created_at"]).tzinfo is not None
    assert plural(1, "thread") == "1 thread" and plural(2, "reply", "replies") == "2 replies"
    assert is_command("!model x") and is_command(" /reset") and not is_command("! wow") and not is_command("hi")
