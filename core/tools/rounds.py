"""What is stored of a reply's tool use, and how later turns are given it.

Each model call of a reply that ended in tool calls is a message row of its own: role "tool", `parent_id` the
reply's row, `content` whatever text the model wrote in that round, `tool_calls` its calls (CallRecord.as_json,
in the order the model made them), and the round's model, tokens, cost and latency in the usual columns, so usage
and budgets count every model call once. The reply row keeps its last round (the answer) and, in `tool_rounds`
and `tool_ms`, how many rounds came before and how long their tools ran. A call waiting for the user's consent is
stored "awaiting" in its round, with the reply parked for `!confirm` like an expensive reply
(core.routing.tool_loop).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, get_args

from sqlalchemy import insert, update
from sqlmodel import col, select

from core.storage.db import connection, insert_ignoring_conflicts, session
from core.storage.tables import Message, ToolConsent, utcnow
from core.types import ToolState, ToolUse, TurnResult

_M = Message.__table__  # type: ignore[attr-defined]
CALL_STATES = get_args(ToolState)  # how a stored call stands; "running": it never ended (its process stopped)


@dataclass
class CallRecord:
    """One tool call of a round, as stored in `message.tool_calls`."""

    id: str  # the model's id for the call (what its result answers)
    server: str
    tool: str
    function: str  # the name the model was offered (core.tools.servers.function_name)
    arguments: str  # JSON text, as the model sent it
    shown: str  # what the thread was shown of the arguments (core.tools.shown: secrets masked)
    status: str = "awaiting"  # one of CALL_STATES
    result: str = ""  # what the model was given back (capped), or why the call did not run
    ms: float | None = None  # how long it ran

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class StoredRound:
    """A round of a reply, as stored: its row, what the model wrote with its calls, and the calls."""

    id: int
    model: str | None
    provider: str | None
    text: str
    calls: list[CallRecord]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None

    @property
    def waiting(self) -> list[CallRecord]:
        return [c for c in self.calls if c.status == "awaiting"]


def store_round(conversation_id: int, reply_id: int, result: TurnResult, calls: list[CallRecord]) -> int:
    """Store a round that ended in tool calls (its model, tokens and cost in `result`) as a row of its own."""
    row = {
        "conversation_id": conversation_id,
        "parent_id": reply_id,
        "role": "tool",
        "content": result.text,
        "model": result.model,
        "provider": result.provider,
        "fallback_from": result.fallback_from,
        "fallback_reason": (result.fallback_reason or "")[:300] or None,
        "status": "ok",
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cost_usd": result.cost_usd,
        "latency_ms": result.latency_ms,
        "ttft_ms": result.ttft_ms,
        "finish_reason": result.finish_reason,
        "reasoning": result.reasoning or None,
        "reasoning_tokens": result.reasoning_tokens,
        "tool_calls": [c.as_json() for c in calls],
        "created_at": utcnow(),
    }
    with connection(write=True) as conn:
        round_id = int(conn.execute(insert(_M).values(**row).returning(_M.c.id)).scalar_one())
        # The round's cost is this row's now: the reply no longer names a model writing it (the next round's
        # attempt will), so if its process dies while the tools run, the crash rules charge the reply nothing more.
        conn.execute(update(_M).where(_M.c.id == reply_id, _M.c.status == "pending").values(model=None, provider=None))
    return round_id


def update_calls(round_id: int, calls: list[CallRecord]) -> None:
    """Store how a round's calls ended (or that they wait for consent)."""
    with connection(write=True) as conn:
        conn.execute(update(_M).where(_M.c.id == round_id).values(tool_calls=[c.as_json() for c in calls]))


def rounds_of(reply_id: int) -> list[StoredRound]:
    """A reply's rounds so far, in order (a reply resumed after consent goes on from them)."""
    with session() as s:
        rows = s.exec(
            select(Message)
            .where(col(Message.parent_id) == reply_id, col(Message.role) == "tool")
            .order_by(col(Message.id))
        ).all()
    return [
        StoredRound(
            id=int(r.id or 0),
            model=r.model,
            provider=r.provider,
            text=r.content,
            calls=[CallRecord.from_json(c) for c in r.tool_calls or []],
            prompt_tokens=r.prompt_tokens or 0,
            completion_tokens=r.completion_tokens or 0,
            cost_usd=r.cost_usd,
        )
        for r in rows
    ]


def tools_of(reply_ids: list[int]) -> dict[int, tuple[ToolUse, ...]]:
    """The tool calls of these replies (as later turns are given them), by reply id; one indexed query."""
    if not reply_ids:
        return {}
    with session() as s:
        rows = s.exec(
            select(Message.parent_id, Message.tool_calls)
            .where(col(Message.parent_id).in_(reply_ids), col(Message.role) == "tool")
            .order_by(col(Message.id))
        ).all()
    used: dict[int, list[ToolUse]] = {}
    for parent, calls in rows:
        for data in calls or []:
            c = CallRecord.from_json(data)
            used.setdefault(int(parent or 0), []).append(ToolUse(c.server, c.tool, c.arguments, c.status, c.result))
    return {k: tuple(v) for k, v in used.items()}


def as_text(uses: tuple[ToolUse, ...], limit: int = 1500) -> str:
    """An earlier reply's tool calls as a note before its text: every model can read it, tool-capable or not,
    and a later turn does not depend on the provider that made the calls."""
    lines = ["[Tools this answer used:"]
    for use in uses:
        result = use.result if len(use.result) <= limit else use.result[:limit] + f"… ({len(use.result):,} chars)"
        lines.append(f"- {use.server}.{use.tool} {use.arguments} -> {use.status}: {result}")
    return "\n".join(lines) + "]"


def remember_consent(conversation_id: int, server: str, tool: str, user: str | None) -> None:
    """The thread's user allowed `server.tool` for the rest of the thread."""
    row = {"conversation_id": conversation_id, "server": server, "tool": tool, "user_id": user, "created_at": utcnow()}
    with connection(write=True) as conn:
        conn.execute(insert_ignoring_conflicts(ToolConsent.__table__, conn).values(**row))  # type: ignore[attr-defined]


def consented(conversation_id: int) -> set[tuple[str, str]]:
    """The (server, tool) pairs the thread allowed for good."""
    with session() as s:
        rows = s.exec(
            select(ToolConsent.server, ToolConsent.tool).where(col(ToolConsent.conversation_id) == conversation_id)
        ).all()
    return {(server, tool) for server, tool in rows}


def parked_for_consent(conversation_id: int) -> bool:
    """Whether the thread's parked reply (waiting for `!confirm`) waits for a tool's consent, not for its cost."""
    with session() as s:
        parked = s.exec(
            select(Message.id)
            .where(col(Message.conversation_id) == conversation_id, col(Message.status) == "confirm")
            .order_by(col(Message.id).desc())
        ).first()
        if parked is None:
            return False
        last = s.exec(
            select(Message.tool_calls)
            .where(col(Message.parent_id) == parked, col(Message.role) == "tool")
            .order_by(col(Message.id).desc())
        ).first()
    return any(c.get("status") == "awaiting" for c in last or [])
