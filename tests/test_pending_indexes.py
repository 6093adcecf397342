"""Replies still being written are found through the partial indexes of migration 0006, never by reading a thread's
whole history or every old message: the turn-order check runs on every message of a continuing thread and crash
recovery every minute, so both must stay the size of what is pending while the history grows (bench/scale.py
measures it with a million messages)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from core.storage.db import get_engine
from core.threads import conversations
from core.types import IncomingMessage


def _selects(action: Callable[[], object]) -> list[tuple[str, Any]]:
    """The SELECTs on the message table that `action` sends to the database, with their parameters."""
    engine = get_engine()
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM message" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def _plan(statement: str, parameters: Any) -> str:
    engine = get_engine()
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return " ".join(str(row[3]) for row in cur.fetchall())
        # the test's tables are tiny, so ask whether the index can serve the query, not what is cheapest today
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute("EXPLAIN " + statement, parameters)
        return " ".join(str(row[0]) for row in cur.fetchall())
    finally:
        raw.rollback()
        raw.close()


def test_turn_order_and_crash_recovery_read_only_pending_replies(any_db: str) -> None:
    starts = [
        conversations.start_turn(IncomingMessage("slack", "T1", "C1", "1.0", "U1", f"message {i}", event_id=f"e{i}"))
        for i in range(3)
    ]
    last = starts[-1]
    assert last.reply_id is not None and last.behind  # the earlier replies are still being written

    turn_order = _selects(lambda: conversations.earlier_reply_pending(last.conversation.id, last.reply_id or 0))
    recovery = _selects(lambda: conversations.stale_replies(timedelta(minutes=10)))

    assert turn_order and recovery
    # either partial index holds only pending replies (PostgreSQL may serve both lookups with one of them)
    assert "ix_message_pending_" in _plan(*turn_order[0])
    assert "ix_message_pending_" in _plan(*recovery[0])
    if any_db == "sqlite":
        assert "ix_message_pending_thread" in _plan(*turn_order[0])
        assert "ix_message_pending_since" in _plan(*recovery[0])
