"""Threads as conversations: this module owns the Conversation and Message tables.

Idempotency lives in the database: a user message is unique on its platform event id, and its reply is
claimed by a unique `reply:<event id>` row, so a redelivered event (in any process) stores nothing new and
gets no second answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.db import session
from core.tables import Conversation, Message, utcnow
from core.types import IncomingMessage, TurnResult

HISTORY_ROLES = ("user", "assistant")


@dataclass(frozen=True)
class ConversationRef:
    id: int
    platform: str
    workspace: str
    channel: str
    thread: str
    current_model: str | None
    system_prompt: str | None
    preset: str | None
    trim_notified: bool


@dataclass(frozen=True)
class TurnStart:
    """What storing an incoming message produced. `reply_id` is None when this event was already handled."""

    conversation: ConversationRef
    user_message_id: int | None
    reply_id: int | None


def _ref(c: Conversation) -> ConversationRef:
    return ConversationRef(
        id=c.id or 0,
        platform=c.platform,
        workspace=c.workspace,
        channel=c.channel,
        thread=c.thread,
        current_model=c.current_model,
        system_prompt=c.system_prompt,
        preset=c.preset,
        trim_notified=c.trim_notified,
    )


def _get_or_create(s: Session, msg: IncomingMessage) -> Conversation:
    key = (msg.platform, msg.workspace, msg.channel, msg.thread)
    stmt = select(Conversation).where(
        Conversation.platform == key[0],
        Conversation.workspace == key[1],
        Conversation.channel == key[2],
        Conversation.thread == key[3],
    )
    conv = s.exec(stmt).first()
    if conv is not None:
        return conv
    try:
        with s.begin_nested():
            conv = Conversation(
                platform=msg.platform,
                workspace=msg.workspace,
                channel=msg.channel,
                thread=msg.thread,
                created_by=msg.user,
                title=msg.text[:200],
            )
            s.add(conv)
        return conv
    except IntegrityError:  # another worker created it a moment ago
        found = s.exec(stmt).first()
        assert found is not None
        return found


def conversation_for(msg: IncomingMessage) -> ConversationRef:
    """The conversation of this message's thread, created on first use."""
    with session(write=True) as s:
        return _ref(_get_or_create(s, msg))


def find_conversation(platform: str, workspace: str, channel: str, thread: str) -> ConversationRef | None:
    with session() as s:
        conv = s.exec(
            select(Conversation).where(
                Conversation.platform == platform,
                Conversation.workspace == workspace,
                Conversation.channel == channel,
                Conversation.thread == thread,
            )
        ).first()
    return _ref(conv) if conv else None


def start_turn(msg: IncomingMessage, *, role: str = "user", claim_reply: bool = True) -> TurnStart:
    """Store the incoming message and claim its reply, in one transaction. Duplicates claim nothing."""
    with session(write=True) as s:
        conv = _get_or_create(s, msg)
        ref = _ref(conv)
        if msg.event_id and s.exec(select(Message.id).where(Message.event_id == msg.event_id)).first():
            return TurnStart(ref, None, None)
        user_row = Message(conversation_id=ref.id, role=role, content=msg.text, user_id=msg.user, event_id=msg.event_id)
        reply_row = (
            Message(
                conversation_id=ref.id,
                role="assistant",
                status="pending",
                user_id=msg.user,
                event_id=f"reply:{msg.event_id}" if msg.event_id else None,
            )
            if claim_reply
            else None
        )
        try:
            with s.begin_nested():
                s.add(user_row)
                if reply_row is not None:
                    s.add(reply_row)
        except IntegrityError:  # the same event, stored by another worker in the meantime
            return TurnStart(ref, None, None)
        conv.updated_at = utcnow()
        s.add(conv)
        s.flush()
        return TurnStart(ref, user_row.id, reply_row.id if reply_row is not None else None)


def finish_reply(reply_id: int, result: TurnResult, *, role: str = "assistant") -> None:
    """Store the finished reply with who wrote it, its tokens, cost, latency and status."""
    with session(write=True) as s:
        s.exec(
            update(Message)
            .where(col(Message.id) == reply_id)
            .values(
                role=role,
                content=result.text,
                model=result.model,
                provider=result.provider,
                fallback_from=result.fallback_from,
                fallback_reason=(result.fallback_reason or "")[:300] or None,
                status=result.status,
                error=(result.error or "")[:1000] or None,
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                cost_usd=result.cost_usd,
                latency_ms=result.latency_ms,
                ttft_ms=result.ttft_ms,
                finish_reason=result.finish_reason,
            )
        )


def save_partial(reply_id: int, text: str) -> None:
    """Keep what has streamed so far, so a crash mid-reply loses nothing already shown."""
    with session(write=True) as s:
        s.exec(update(Message).where(col(Message.id) == reply_id).values(content=text))


def record_message(conversation_id: int, result: TurnResult, *, role: str, user: str | None = None) -> int:
    """Store a standalone row: a failed attempt (role assistant, status error) or a /compare answer."""
    with session(write=True) as s:
        row = Message(conversation_id=conversation_id, role=role, user_id=user)
        s.add(row)
        s.flush()
        assert row.id is not None
        rid = row.id
    finish_reply(rid, result, role=role)
    return rid


def drop_reply(reply_id: int) -> None:
    """Forget a claimed reply that never started (e.g. refused before any model was called)."""
    with session(write=True) as s:
        row = s.get(Message, reply_id)
        if row is not None and row.status == "pending":
            s.delete(row)


def history(conversation_id: int, limit: int = 200) -> list[tuple[str, str]]:
    """(role, content) of the thread's turns, oldest first; failed attempts and commands left out."""
    with session() as s:
        rows = s.exec(
            select(Message.role, Message.content)
            .where(
                Message.conversation_id == conversation_id,
                col(Message.role).in_(HISTORY_ROLES),
                col(Message.status).in_(("ok", "partial", "interrupted")),
                Message.content != "",
            )
            .order_by(col(Message.id).desc())
            .limit(limit)
        ).all()
    return [(r, c) for r, c in reversed(rows)]


def last_user_text(conversation_id: int) -> str | None:
    with session() as s:
        return s.exec(
            select(Message.content)
            .where(Message.conversation_id == conversation_id, Message.role == "user")
            .order_by(col(Message.id).desc())
        ).first()


def set_thread_model(conversation_id: int, model: str | None) -> None:
    with session(write=True) as s:
        s.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(current_model=model, trim_notified=False, updated_at=utcnow())
        )


def pin_model(conversation_id: int, model: str) -> None:
    """Record the model a thread started with, so a later change of the channel default does not switch it."""
    with session(write=True) as s:
        s.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id, col(Conversation.current_model).is_(None))
            .values(current_model=model)
        )


def apply_preset(conversation_id: int, preset: str, model: str, system_prompt: str) -> None:
    with session(write=True) as s:
        s.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(
                current_model=model,
                preset=preset,
                system_prompt=system_prompt or None,
                trim_notified=False,
                updated_at=utcnow(),
            )
        )


def mark_trim_notified(conversation_id: int) -> None:
    with session(write=True) as s:
        s.exec(update(Conversation).where(col(Conversation.id) == conversation_id).values(trim_notified=True))


def interrupt_stale_replies(older_than: timedelta) -> int:
    """Replies still pending long after they started belong to a process that died: mark them interrupted."""
    cutoff = utcnow() - older_than
    with session(write=True) as s:
        result = s.exec(
            update(Message)
            .where(col(Message.status) == "pending", col(Message.created_at) < cutoff)
            .values(status="interrupted", error="The process writing this reply stopped before it finished.")
        )
        return int(result.rowcount or 0)


def last_used_by_model() -> dict[str, datetime]:
    """When a conversation last used each model (for the admin and the Ollama manager)."""
    with session() as s:
        rows = s.exec(
            select(Message.model, func.max(Message.created_at))
            .where(col(Message.model).is_not(None), Message.role == "assistant")
            .group_by(Message.model)
        ).all()
    return {m: t for m, t in rows if m}
