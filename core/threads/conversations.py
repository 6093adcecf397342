"""Threads as conversations: this module owns the Conversation and Message tables.

Idempotency lives in the database: a user message is unique on its platform event id, and its reply is
claimed by a unique `reply:<event id>` row, so a redelivered event (in any process) stores nothing new and
gets no second answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import bindparam, case, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy import text as sql_text
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Connection
from sqlmodel import col, select

from core.attachments import files_of
from core.config.people import Person, remember_last_model
from core.settings import get_settings
from core.storage.db import connection, insert_ignoring_conflicts, session
from core.storage.tables import PENDING_REPLY, Conversation, Message, utcnow
from core.tools.rounds import tools_of
from core.types import HistoryTurn, IncomingMessage, TurnResult

HISTORY_ROLES = ("user", "assistant")
REPLY_COLUMNS = (
    "role",
    "content",
    "model",
    "provider",
    "fallback_from",
    "fallback_reason",
    "status",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "finish_reason",
    "reasoning",
    "reasoning_tokens",
    "tool_rounds",
    "tool_ms",
)


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
    pending_notice: str | None = None  # something to tell the thread first (see take_notice)
    tool_notes: tuple[str, ...] = ()  # what it was told once about tools it cannot use (see note_tools)


@dataclass(frozen=True)
class TurnStart:
    """What storing an incoming message produced. `reply_id` is None when this event was already handled."""

    conversation: ConversationRef
    user_message_id: int | None
    reply_id: int | None
    created: bool = False  # the conversation is new: its history is just this message
    behind: bool = False  # an earlier reply of the thread is still being written (see core.threads.order)


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
        pending_notice=c.pending_notice,
        tool_notes=tuple(c.tool_notes or ()),
    )


def conversation_for(msg: IncomingMessage) -> ConversationRef:
    """The conversation of this message's thread, created on first use."""
    with connection(write=True) as conn:
        return _conversation_row(conn, msg)[0]


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


class _Statements:
    """The hot-path statements, built once per dialect: building a Core statement costs more than running it."""

    def __init__(self, conn: Connection) -> None:
        c = Conversation.__table__  # type: ignore[attr-defined]
        m = Message.__table__  # type: ignore[attr-defined]
        key = (
            c.c.platform == bindparam("platform"),
            c.c.workspace == bindparam("workspace"),
            c.c.channel == bindparam("channel"),
            c.c.thread == bindparam("thread"),
        )
        self.find_conversation = sa_select(
            c.c.id,
            c.c.current_model,
            c.c.system_prompt,
            c.c.preset,
            c.c.trim_notified,
            c.c.pending_notice,
            c.c.tool_notes,
        ).where(*key)
        # Turns of a thread start one at a time (a row lock; SQLite's write lock already is one): a turn then sees
        # the claim of any turn of its thread that started before it, committed, and waits for it
        self.lock_conversation = self.find_conversation.with_for_update()
        self.add_conversation = insert_ignoring_conflicts(c, conn).returning(c.c.id)
        self.add_message = insert_ignoring_conflicts(m, conn).returning(m.c.id)
        self.finish = (
            sa_update(m).where(m.c.id == bindparam("reply_id")).values({k: bindparam(f"v_{k}") for k in REPLY_COLUMNS})
        )
        self.touch = sa_update(c).where(c.c.id == bindparam("conv_id")).values(updated_at=bindparam("now"))
        self.save_partial = (
            sa_update(m)
            .where(m.c.id == bindparam("reply_id"))
            .values(content=bindparam("text"), reasoning=bindparam("reasoning"))
        )
        self.save_attempt = (
            sa_update(m)
            .where(m.c.id == bindparam("reply_id"))
            .values(model=bindparam("model"), provider=bindparam("provider"))
        )
        self.keep_alive = (
            sa_update(m).where(m.c.id == bindparam("reply_id"), PENDING_REPLY).values(alive_at=bindparam("now"))
        )
        self.release = (
            sa_update(m).where(m.c.id == bindparam("reply_id"), PENDING_REPLY).values(status=bindparam("v_status"))
        )
        # not stale (the complement of stale_replies's rule): its process lives, renewing the claim
        live = or_(m.c.created_at >= bindparam("alive_since"), m.c.alive_at >= bindparam("alive_since"))
        self.earlier_pending = (  # ix_message_pending_thread
            sa_select(case((live, 1), else_=0).label("live"))
            .where(
                m.c.conversation_id == bindparam("conv_id"),
                m.c.role == "assistant",
                PENDING_REPLY,
                m.c.id < bindparam("reply_id"),
            )
            .order_by(sql_text("live DESC"))
            .limit(1)
        )
        self.pin = (
            sa_update(c)
            .where(c.c.id == bindparam("conv_id"), c.c.current_model.is_(None))
            .values(current_model=bindparam("pin"))
        )


_statements: dict[str, _Statements] = {}


def _sql(conn: Connection) -> _Statements:
    found = _statements.get(conn.dialect.name)
    if found is None:
        found = _statements[conn.dialect.name] = _Statements(conn)
    return found


def _conversation_row(conn: Connection, msg: IncomingMessage) -> tuple[ConversationRef, bool]:
    """The thread's conversation, created if missing (race-safe through the unique key). (ref, created)."""
    sql = _sql(conn)
    key = {"platform": msg.platform, "workspace": msg.workspace, "channel": msg.channel, "thread": msg.thread}
    row = conn.execute(sql.lock_conversation, key).first()
    if row is None:
        now = utcnow()
        new_id = conn.execute(
            sql.add_conversation,
            {
                **key,
                "created_by": msg.user,
                "title": msg.text[:200],
                "trim_notified": False,
                "created_at": now,
                "updated_at": now,
            },
        ).scalar()
        if new_id is not None:  # ours: we know every column already
            return ConversationRef(
                new_id, msg.platform, msg.workspace, msg.channel, msg.thread, None, None, None, False
            ), True
        row = conn.execute(sql.lock_conversation, key).first()  # another worker created it a moment ago
        assert row is not None
    ref = ConversationRef(
        row.id,
        msg.platform,
        msg.workspace,
        msg.channel,
        msg.thread,
        row.current_model,
        row.system_prompt,
        row.preset,
        bool(row.trim_notified),
        row.pending_notice,
        tuple(row.tool_notes or ()),
    )
    return ref, False


def start_turn(msg: IncomingMessage, *, role: str = "user", claim_reply: bool = True) -> TurnStart:
    """Store the incoming message and claim its reply, in one transaction. Duplicates claim nothing.

    The hot path of every message, so it uses prebuilt Core statements: INSERT ... ON CONFLICT DO NOTHING
    RETURNING on the unique event id tells a first delivery from a redelivery without a savepoint or pre-check.
    """
    with connection(write=True) as conn:
        sql = _sql(conn)
        ref, created = _conversation_row(conn, msg)
        now = utcnow()
        user_id = conn.execute(
            sql.add_message,
            {
                "conversation_id": ref.id,
                "role": role,
                "content": msg.text,
                "user_id": msg.user,
                "event_id": msg.event_id,
                "status": "ok",
                "created_at": now,
            },
        ).scalar()
        if user_id is None:
            return TurnStart(ref, None, None)
        reply_id = None
        if claim_reply:
            reply_id = _claim(conn, ref.id, msg.event_id, msg.user, now)
            if reply_id is None:  # someone claimed this reply already
                return TurnStart(ref, None, None)
        behind = False
        if reply_id is not None and not created:
            behind = _earlier_pending(conn, ref.id, reply_id) is not None
        return TurnStart(ref, user_id, reply_id, created, behind)


def _claim(conn: Connection, conversation_id: int, event_id: str | None, user: str, now: datetime) -> int | None:
    """Insert the pending reply of `event_id` (unique `reply:<event id>`); None when it was claimed already."""
    return conn.execute(
        _sql(conn).add_message,
        {
            "conversation_id": conversation_id,
            "role": "assistant",
            "content": "",
            "user_id": user,
            "event_id": f"reply:{event_id}" if event_id else None,
            "status": "pending",
            "created_at": now,
            "alive_at": now,
        },
    ).scalar()


def _reply_values(result: TurnResult, role: str) -> dict[str, object]:
    return {
        "role": role,
        "content": result.text,
        "model": result.model,
        "provider": result.provider,
        "fallback_from": result.fallback_from,
        "fallback_reason": (result.fallback_reason or "")[:300] or None,
        "status": result.status,
        "error": (result.error or "")[:1000] or None,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "cost_usd": result.cost_usd,
        "latency_ms": result.latency_ms,
        "ttft_ms": result.ttft_ms,
        "finish_reason": result.finish_reason,
        "reasoning": result.reasoning or None,  # stored for the admin and counted, never sent back as history
        "reasoning_tokens": result.reasoning_tokens,
        "tool_rounds": result.tool_rounds or None,
        "tool_ms": result.tool_ms or None,
    }


def finish_reply(
    reply_id: int,
    result: TurnResult,
    *,
    role: str = "assistant",
    conversation_id: int | None = None,
    pin: str | None = None,
    shown: bool = True,
    last_used: tuple[Person, str] | None = None,
) -> None:
    """Store the finished reply with who wrote it, its tokens, cost, latency and status. With `conversation_id`,
    also touch the thread and, with `pin`, record the model it started with (see pin_model). `shown=False`: the
    reply stays pending (its thread's next turn waits) until `release_reply` says it has been shown. `last_used`:
    the person asking and their thread's model, noted as the model they used last (core.config.people)."""
    with connection(write=True) as conn:
        sql = _sql(conn)
        values = {f"v_{k}": v for k, v in _reply_values(result, role).items()}
        if not shown:
            values["v_status"] = "pending"
        conn.execute(sql.finish, {"reply_id": reply_id, **values})
        if conversation_id is not None:
            conn.execute(sql.touch, {"conv_id": conversation_id, "now": utcnow()})
            if pin:
                conn.execute(sql.pin, {"conv_id": conversation_id, "pin": pin})
        if last_used is not None:
            remember_last_model(conn, *last_used)


def finish_turn(
    conversation_id: int,
    reply_id: int,
    result: TurnResult,
    failed_attempts: list[TurnResult],
    user: str,
    pin: str | None,
    *,
    shown: bool = True,
    last_used: tuple[Person, str] | None = None,
) -> None:
    """Store a turn's end: the models that failed on the way (as error rows, for error rates and health), then
    the reply itself (see finish_reply)."""
    for attempt in failed_attempts:
        record_message(conversation_id, attempt, role="assistant", user=user)
    finish_reply(reply_id, result, conversation_id=conversation_id, pin=pin, shown=shown, last_used=last_used)


def release_reply(reply_id: int, status: str) -> None:
    """A reply stored with `shown=False` has been shown: give it its status, which lets its thread go on."""
    with connection(write=True) as conn:
        conn.execute(_sql(conn).release, {"reply_id": reply_id, "v_status": status})


def keep_alive(reply_id: int) -> None:
    """Renew a pending reply's claim: the process answering it is alive (see core.threads.recovery)."""
    with connection(write=True) as conn:
        conn.execute(_sql(conn).keep_alive, {"reply_id": reply_id, "now": utcnow()})


def budget_key(reply_id: int) -> str:
    """What a reply's budget reservations are filed under, so they can be found again after a crash."""
    return f"reply-row:{reply_id}"


def save_attempt(reply_id: int, model: str, provider: str) -> None:
    """Record which model is writing a pending reply, so a crash mid-reply can still be charged to it."""
    with connection(write=True) as conn:
        conn.execute(_sql(conn).save_attempt, {"reply_id": reply_id, "model": model, "provider": provider})


def claim_reply(conversation_id: int, event_id: str | None, user: str) -> int | None:
    """Claim a reply row for a turn started by a command (`!retry`); None when this event already claimed one.
    Without an event id (no redeliveries to tell apart) every call claims a new row."""
    with connection(write=True) as conn:
        return _claim(conn, conversation_id, event_id, user, utcnow())


def save_partial(reply_id: int, text: str, reasoning: str = "") -> None:
    """Keep what has streamed so far (and the thinking before it), so a crash mid-reply loses nothing already
    shown and the crash rules can price all of it."""
    with connection(write=True) as conn:
        conn.execute(_sql(conn).save_partial, {"reply_id": reply_id, "text": text, "reasoning": reasoning or None})


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


def await_confirmation(reply_id: int, text: str) -> None:
    """Park a claimed reply until the user confirms (`!confirm`) or cancels (`!cancel`)."""
    with session(write=True) as s:
        s.exec(update(Message).where(col(Message.id) == reply_id).values(status="confirm", content=text))


def claim_confirmation(conversation_id: int) -> int | None:
    """Take the thread's parked reply for answering; None when nothing waits. Atomic, so a double click on
    Confirm (or the same `!confirm` delivered twice) answers once."""
    with session(write=True) as s:
        parked = s.exec(
            select(Message.id)
            .where(Message.conversation_id == conversation_id, Message.status == "confirm")
            .order_by(col(Message.id).desc())
        ).first()
        if parked is None:
            return None
        taken = s.exec(
            update(Message)
            .where(col(Message.id) == parked, col(Message.status) == "confirm")
            .values(status="pending", content="", alive_at=utcnow())
        )
        return parked if taken.rowcount else None


def cancel_confirmation(conversation_id: int) -> bool:
    with session(write=True) as s:
        done = s.exec(
            update(Message)
            .where(col(Message.conversation_id) == conversation_id, col(Message.status) == "confirm")
            .values(status="cancelled")
        )
        return bool(done.rowcount)


def earlier_reply_pending(conversation_id: int, reply_id: int) -> Literal["live", "stale"] | None:
    """Whether a reply of the thread claimed before `reply_id` is still pending: "live" when a live process is
    writing (or showing) one, "stale" when only a dead process's are left (their claims went unrenewed for
    SWITCHBOARD_STALE_REPLY_MINUTES: the crash rules settle them), None when none is."""
    with connection() as conn:
        return _earlier_pending(conn, conversation_id, reply_id)


def _earlier_pending(conn: Connection, conversation_id: int, reply_id: int) -> Literal["live", "stale"] | None:
    alive_since = utcnow() - timedelta(minutes=get_settings().stale_reply_minutes)
    params = {"conv_id": conversation_id, "reply_id": reply_id, "alive_since": alive_since}
    row = conn.execute(_sql(conn).earlier_pending, params).first()
    return None if row is None else "live" if row[0] else "stale"


def conversation_ref(conversation_id: int) -> ConversationRef | None:
    """The conversation as it is now (after an earlier turn may have pinned its model)."""
    with session() as s:
        conv = s.get(Conversation, conversation_id)
        return _ref(conv) if conv else None


def drop_reply(reply_id: int) -> None:
    """Forget a claimed reply that never started (e.g. refused before any model was called)."""
    with session(write=True) as s:
        row = s.get(Message, reply_id)
        if row is not None and row.status == "pending":
            s.delete(row)


def history(conversation_id: int, limit: int = 200, *, before: int | None = None) -> list[HistoryTurn]:
    """The thread's turns, oldest first, each user message with the files kept with it (core.attachments);
    failed attempts and commands left out. Of two answers in a row (a cut-off reply, then its `!retry`), only the
    later one is kept. `before`: only rows older than that message id."""
    query = select(Message.id, Message.role, Message.content, Message.tool_rounds).where(
        Message.conversation_id == conversation_id,
        col(Message.role).in_(HISTORY_ROLES),
        col(Message.status).in_(("ok", "partial", "interrupted")),
        or_(col(Message.content) != "", col(Message.role) == "user"),  # a user message may be files alone
    )
    if before is not None:
        query = query.where(col(Message.id) < before)
    with session() as s:
        rows = s.exec(query.order_by(col(Message.id).desc()).limit(limit)).all()
    attached = files_of([int(i or 0) for i, role, _, _ in rows if role == "user"])
    used = tools_of([int(i or 0) for i, role, _, rounds in rows if role == "assistant" and rounds])
    turns: list[HistoryTurn] = []
    for message_id, role, content, _ in reversed(rows):
        key = int(message_id or 0)
        turn = HistoryTurn(role, content, attached.get(key, ()), used.get(key, ()))
        if not turn.content and not turn.files:
            continue  # files that were refused: nothing of it reached a model
        if turns and role == "assistant" and turns[-1].role == "assistant":
            turns[-1] = turn
        else:
            turns.append(turn)
    return turns


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


def set_thread_instructions(conversation_id: int, text: str | None) -> None:
    """The thread's own instructions (`!system`): they take the place of a preset's, which no longer applies
    (the thread keeps its model). None clears them."""
    with session(write=True) as s:
        s.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id)
            .values(system_prompt=text, preset=None, updated_at=utcnow())
        )


def note_tools(conversation_id: int, said: list[str]) -> None:
    """The thread was told these things about its tools (`model:NAME`, `down:SERVER`): never again."""
    with session(write=True) as s:
        conv = s.get(Conversation, conversation_id)
        if conv is not None:
            conv.tool_notes = list(dict.fromkeys([*(conv.tool_notes or []), *said]))[-50:]
            s.add(conv)


def mark_trim_notified(conversation_id: int) -> None:
    with session(write=True) as s:
        s.exec(update(Conversation).where(col(Conversation.id) == conversation_id).values(trim_notified=True))


@dataclass(frozen=True)
class StaleReply:
    id: int
    conversation_id: int
    model: str | None
    content: str
    # set when the reply was finished and stored, but its process died before showing it (see finish_reply)
    provider: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    reasoning: str | None = None  # the thinking saved with it (see save_partial): output tokens too


def stale_replies(older_than: timedelta) -> list[StaleReply]:
    """Replies still pending whose claim nobody renewed for `older_than`: the process answering them died."""
    cutoff = utcnow() - older_than
    m = Message.__table__  # type: ignore[attr-defined]
    query = sa_select(
        m.c.id,
        m.c.conversation_id,
        m.c.model,
        m.c.content,
        m.c.provider,
        m.c.prompt_tokens,
        m.c.completion_tokens,
        m.c.cost_usd,
        m.c.reasoning,
    ).where(
        PENDING_REPLY,
        m.c.created_at < cutoff,  # ix_message_pending_since: not a scan of history
        or_(m.c.alive_at.is_(None), m.c.alive_at < cutoff),  # renewed since: its process lives
    )
    with connection() as conn:
        rows = conn.execute(query).all()
    return [StaleReply(int(r[0] or 0), *r[1:]) for r in rows]


def answering(reply_id: int) -> tuple[str, bool]:
    """The message a reply answers (its thread's user message just before it), and whether the thread has had
    no user message since."""
    with session() as s:
        conv_id = s.exec(select(Message.conversation_id).where(Message.id == reply_id)).one()
        asked = s.exec(
            select(Message.id, Message.content)
            .where(Message.conversation_id == conv_id, Message.role == "user", col(Message.id) < reply_id)
            .order_by(col(Message.id).desc())
        ).first()
        later = s.exec(
            select(Message.id).where(
                Message.conversation_id == conv_id, Message.role == "user", col(Message.id) > reply_id
            )
        ).first()
    return (asked[1] if asked else ""), later is None


def interrupt_reply(reply_id: int, result: TurnResult, notice: str) -> bool:
    """Mark a dead process's pending reply interrupted with what it cost, and add a notice to its thread's (one
    process may have left several replies of a thread: each is told). False when another process did it first
    (only one may charge it)."""
    kept = ("role", "content", "reasoning")  # as the dead process stored them
    values = {
        k: v
        for k, v in _reply_values(result, "assistant").items()
        if k not in kept and not (k == "reasoning_tokens" and v is None)  # nor a count it stored
    }
    told = Conversation.pending_notice
    with session(write=True) as s:
        taken = s.exec(
            update(Message).where(col(Message.id) == reply_id, col(Message.status) == "pending").values(**values)
        )
        if not taken.rowcount:
            return False
        conv_id = s.exec(select(Message.conversation_id).where(Message.id == reply_id)).one()
        s.exec(
            update(Conversation)
            .where(col(Conversation.id) == conv_id)
            .values(pending_notice=case((col(told).is_(None), notice), else_=col(told) + "\n\n" + notice))
        )
        return True


def take_notice(conversation_id: int) -> str | None:
    """The thread's pending notice, cleared as it is taken: one process, one delivery."""
    with session(write=True) as s:
        text = s.exec(select(Conversation.pending_notice).where(Conversation.id == conversation_id)).first()
        if not text:
            return None
        taken = s.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id, col(Conversation.pending_notice) == text)
            .values(pending_notice=None)
        )
        return text if taken.rowcount else None


@dataclass(frozen=True)
class PendingNotice:
    """A thread with a notice nobody has shown yet: where to post it."""

    conversation_id: int
    platform: str
    workspace: str
    channel: str
    thread: str


def pending_notices(platform: str, *, after: int = 0, limit: int = 50) -> list[PendingNotice]:
    """Conversations of `platform` with a pending notice, by id after `after`, at most `limit` of them. Reading
    one does not claim it: `take_notice` does."""
    with session() as s:
        rows = s.exec(
            select(Conversation.id, Conversation.workspace, Conversation.channel, Conversation.thread)
            .where(
                Conversation.platform == platform,
                col(Conversation.pending_notice).is_not(None),
                col(Conversation.id) > after,
            )
            .order_by(col(Conversation.id))
            .limit(limit)
        ).all()
    return [PendingNotice(int(i or 0), platform, w, c, t) for i, w, c, t in rows]


def restore_notice(conversation_id: int, text: str) -> bool:
    """Put back a notice that was taken but could not be shown, unless a newer one has arrived meanwhile."""
    with session(write=True) as s:
        done = s.exec(
            update(Conversation)
            .where(col(Conversation.id) == conversation_id, col(Conversation.pending_notice).is_(None))
            .values(pending_notice=text)
        )
        return bool(done.rowcount)


def last_used_by_model() -> dict[str, datetime]:
    """When a conversation last used each model (for the admin and the Ollama manager)."""
    with session() as s:
        rows = s.exec(
            select(Message.model, func.max(Message.created_at))
            .where(col(Message.model).is_not(None), Message.role == "assistant")
            .group_by(Message.model)
        ).all()
    return {m: t for m, t in rows if m}
