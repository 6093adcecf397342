"""The admin and reasoning models: the conversation view shows a reply's thinking collapsed above it, and the
Models page's scope form turns showing it on or off for a workspace."""

from __future__ import annotations

from core.config.scopes import ScopeKey, load_all
from core.threads.conversations import finish_reply, start_turn
from core.types import IncomingMessage, TurnResult
from tests.adminkit import AdminApp

THOUGHT = "The user asks for a capital.\nLet me recall: Paris."
NEW = "+ New…"


def test_the_conversation_view_shows_a_replys_reasoning_collapsed_with_its_tokens() -> None:
    start = start_turn(IncomingMessage("slack", "W1", "C1", "T-1", "U1", "What is the capital?", event_id="ev-1"))
    assert start.reply_id is not None
    result = TurnResult(
        "oa/gpt-4o", "oa", "ok", "Paris.", prompt_tokens=10, completion_tokens=30, cost_usd=0.001,
        reasoning=THOUGHT, reasoning_tokens=20,
    )  # fmt: skip
    finish_reply(start.reply_id, result, conversation_id=start.conversation.id, pin="oa/gpt-4o")

    admin = AdminApp.signed_in().open("conversations")
    admin.choose("Open thread", next(o for o in admin.selectbox_options("Open thread") if "capital" in o)).run()
    (expander,) = [e for e in admin.at.expander if e.label.startswith("Reasoning")]
    assert expander.label == "Reasoning (10 words, 20 tokens)"
    assert THOUGHT in [t.value for t in admin.at.text]
    assert any("10 in / 30 out tokens (20 of them reasoning)" in c.value for c in admin.at.caption)
    assert [m.value for m in admin.at.markdown if m.value == THOUGHT] == []  # not mixed into the reply


def test_the_scope_form_shows_or_hides_reasoning_per_workspace() -> None:
    admin = AdminApp.signed_in().open("models")
    admin.choose("Scope to edit", NEW).run()
    admin.choose("Platform", "slack").fill("Workspace id", "T1").choose("Show reasoning", "hide")
    admin.submit("Save scope")
    assert admin.successes == ["Saved the policy of slack workspace T1."]
    assert load_all()[ScopeKey("slack", "T1", "")].show_reasoning is False
    assert admin.table_with("scope").set_index("scope").loc["slack workspace T1", "reasoning"] == "hide"

    admin.choose("Scope to edit", "slack workspace T1").run()
    admin.choose("Show reasoning", "inherit").submit("Save scope")
    assert load_all()[ScopeKey("slack", "T1", "")].show_reasoning is None
