"""Read-only views over conversations for the admin: browsing threads and their messages, a reply that used tools
with its rounds (how they read: core.reports.transcripts; per-model performance over time:
core.reports.performance). Nothing here writes; `core.threads.conversations` owns the tables and every write to
them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, exists, func, or_, select
from sqlmodel import col

from core import formatting as fmt
from core.attachments import files_of
from core.storage.db import session
from core.storage.tables import Conversation, Message, aware, utcnow
from core.types import StoredFile

REPLY_ROLES = ("assistant", "compare")
TOOL_ROLE = "tool"  # a round of a reply that ended in tool calls (core.tools.rounds): shown under its reply
COMMAND = re.compile(r"^\s*[!/][A-Za-z]")  # `!model gpt-4o`, `/reset`: a chat command, not a question
TITLE_CHARS = 200


def is_command(text: str) -> bool:
    return bool(COMMAND.match(text or ""))


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 thread`, `2 threads`."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


ANSWERED = ("ok", "partial", "interrupted")  # replies that reached a model and may have cost something


@dataclass(frozen=True)
class ThreadSummary:
    id: int
    platform: str
    workspace: str
    channel: str
    thread: str
    title: str
    current_model: str | None
    created_at: datetime
    updated_at: datetime
    messages: int
    replies: int
    tokens: int
    cost_usd: float
    unknown_cost_replies: int  # replies whose price was unknown: never counted as free
    errors: int
    fallbacks: int


@dataclass(frozen=True)
class ThreadPage:
    threads: tuple[ThreadSummary, ...]
    total: int


@dataclass(frozen=True)
class ToolCallView:
    """One tool call as the admin reads it: the arguments as the thread was shown them (secrets masked), never
    the raw arguments the model sent."""

    server: str
    tool: str
    shown: str
    status: str  # core.tools.rounds.CALL_STATES
    result: str  # what the model was given back (capped when stored), or why the call did not run
    ms: float | None

    @property
    def qualified(self) -> str:
        return f"{self.server}.{self.tool}"


@dataclass(frozen=True)
class ToolRound:
    """A model call of a reply that ended in tool calls: its text (often none), figures and calls."""

    id: int
    created_at: datetime
    content: str
    model: str | None
    status: str
    error: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_ms: float | None
    calls: tuple[ToolCallView, ...]
    fallback_from: str | None = None  # the model this round fell back from (mid-loop)
    fallback_reason: str | None = None


@dataclass(frozen=True)
class MessageRow:
    id: int
    created_at: datetime
    role: str
    user_id: str | None
    content: str
    model: str | None
    provider: str | None
    status: str
    error: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_ms: float | None
    ttft_ms: float | None
    fallback_from: str | None
    fallback_reason: str | None
    finish_reason: str | None
    reasoning: str | None = None  # a reasoning model's thinking, shown apart from the reply
    reasoning_tokens: int | None = None  # of completion_tokens
    files: tuple[StoredFile, ...] = ()  # posted with a user message
    tool_rounds: int | None = None  # a reply that used tools: its model calls that ended in tool calls
    tool_ms: float | None = None  # and how long its tools ran
    rounds: tuple[ToolRound, ...] = ()  # those calls, oldest first (this row holds only the answer's figures)


def file_facts(f: StoredFile) -> str:
    """A file as a line under its message: name, kind, size, and whether it is still kept."""
    kind = {"image": "image", "document": f"PDF, {plural(f.pages or 0, 'page')}", "text": "text"}[f.kind]
    kept = "" if f.sha256 is not None or f.text is not None else " · no longer kept"
    return f"{f.name} · {kind} · {fmt.size(f.size)}{kept}"


@dataclass(frozen=True)
class ScopeSeen:
    """A (platform, workspace, channel) that has conversations."""

    platform: str
    workspace: str
    channel: str
    threads: int


def _thread_filters(
    platform: str | None,
    workspace: str | None,
    channel: str | None,
    text: str | None,
    model: str | None,
    active_within: timedelta | None,
    conversation_id: int | None = None,
) -> list[Any]:
    where: list[Any] = []
    if conversation_id is not None:
        where.append(col(Conversation.id) == conversation_id)
    if platform:
        where.append(col(Conversation.platform) == platform)
    if workspace:
        where.append(col(Conversation.workspace) == workspace)
    if channel:
        where.append(col(Conversation.channel) == channel)
    if active_within is not None:
        where.append(col(Conversation.updated_at) >= utcnow() - active_within)
    if text:
        like = f"%{text.strip().lower()}%"
        where.append(or_(func.lower(Conversation.title).like(like), func.lower(Conversation.thread).like(like)))
    if model:
        used = exists().where(
            col(Message.conversation_id) == col(Conversation.id),
            or_(col(Message.model) == model, col(Message.fallback_from) == model),
        )
        where.append(or_(col(Conversation.current_model) == model, used))
    return where


def list_threads(
    *,
    platform: str | None = None,
    workspace: str | None = None,
    channel: str | None = None,
    text: str | None = None,
    model: str | None = None,
    active_within: timedelta | None = None,
    conversation_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ThreadPage:
    """Threads, most recently active first, with message counts, tokens, cost, errors and fallbacks."""
    reply = col(Message.role).in_(REPLY_ROLES)
    stats = (
        select(
            col(Message.conversation_id).label("cid"),
            func.count(col(Message.id)).filter(col(Message.role) != TOOL_ROLE).label("messages"),
            func.sum(cast(reply, Integer)).label("replies"),
            func.coalesce(func.sum(Message.prompt_tokens), 0).label("prompt"),
            func.coalesce(func.sum(Message.completion_tokens), 0).label("completion"),
            func.coalesce(func.sum(Message.cost_usd), 0.0).label("cost"),
            func.sum(
                case((and_(reply, col(Message.status).in_(ANSWERED), col(Message.cost_usd).is_(None)), 1), else_=0)
            ).label("unknown"),
            func.sum(case((col(Message.status) == "error", 1), else_=0)).label("errors"),
            func.sum(case((col(Message.fallback_from).is_not(None), 1), else_=0)).label("fallbacks"),
        )
        .group_by(col(Message.conversation_id))
        .subquery()
    )
    where = _thread_filters(platform, workspace, channel, text, model, active_within, conversation_id)
    query = (
        select(Conversation, stats)
        .join(stats, stats.c.cid == col(Conversation.id), isouter=True)
        .where(*where)
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
        .limit(max(1, limit))
        .offset(max(0, offset))
    )
    with session() as s:
        total = s.execute(select(func.count(col(Conversation.id))).where(*where)).scalar_one()
        rows = s.execute(query).all()
    titles = _real_titles([row[0].id for row in rows if is_command(row[0].title) or not (row[0].title or "").strip()])
    threads = []
    for row in rows:
        c: Conversation = row[0]
        threads.append(
            ThreadSummary(
                id=c.id or 0,
                platform=c.platform,
                workspace=c.workspace,
                channel=c.channel,
                thread=c.thread,
                title=titles.get(c.id or 0, c.title),
                current_model=c.current_model,
                created_at=aware(c.created_at),
                updated_at=aware(c.updated_at),
                messages=int(row.messages or 0),
                replies=int(row.replies or 0),
                tokens=int(row.prompt or 0) + int(row.completion or 0),
                cost_usd=float(row.cost or 0.0),
                unknown_cost_replies=int(row.unknown or 0),
                errors=int(row.errors or 0),
                fallbacks=int(row.fallbacks or 0),
            )
        )
    return ThreadPage(tuple(threads), int(total))


def _real_titles(ids: list[int | None]) -> dict[int, str]:
    """For threads whose stored title is a command (the first message was `!model ...`), the first user message
    that is not a command; a thread of commands only is titled by them (there is nothing else to show)."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    found: dict[int, str] = {}
    with session() as s:
        rows = s.execute(
            select(col(Message.conversation_id), col(Message.content))
            .where(col(Message.conversation_id).in_(wanted), col(Message.role) == "user")
            .order_by(col(Message.conversation_id), col(Message.id))
        ).all()
    for cid, content in rows:
        if cid not in found and (content or "").strip() and not is_command(content):
            found[cid] = " ".join(content.split())[:TITLE_CHARS]
    return found


def count_active_threads(within: timedelta) -> int:
    """Threads with a message in the last `within`."""
    with session() as s:
        cutoff = utcnow() - within
        return int(
            s.execute(
                select(func.count(col(Conversation.id))).where(col(Conversation.updated_at) >= cutoff)
            ).scalar_one()
        )


def thread_summary(conversation_id: int) -> ThreadSummary | None:
    """One thread with its figures (a link to it), or None when there is no such thread."""
    page = list_threads(conversation_id=conversation_id, limit=1)
    return page.threads[0] if page.threads else None


def message_row(m: Message, files: tuple[StoredFile, ...] = (), rounds: tuple[ToolRound, ...] = ()) -> MessageRow:
    return MessageRow(
        id=m.id or 0,
        created_at=aware(m.created_at),
        role=m.role,
        user_id=m.user_id,
        content=m.content,
        model=m.model,
        provider=m.provider,
        status=m.status,
        error=m.error,
        prompt_tokens=m.prompt_tokens,
        completion_tokens=m.completion_tokens,
        cost_usd=m.cost_usd,
        latency_ms=m.latency_ms,
        ttft_ms=m.ttft_ms,
        fallback_from=m.fallback_from,
        fallback_reason=m.fallback_reason,
        finish_reason=m.finish_reason,
        reasoning=m.reasoning,
        reasoning_tokens=m.reasoning_tokens,
        files=files,
        tool_rounds=m.tool_rounds,
        tool_ms=m.tool_ms,
        rounds=rounds,
    )


def _call_view(c: dict[str, Any]) -> ToolCallView:
    """A stored call (core.tools.rounds.CallRecord.as_json) without its raw `arguments`, read field by field so a
    call stored by an older or newer version (a field missing or added) still shows."""
    ms = c.get("ms")
    return ToolCallView(
        server=str(c.get("server") or ""),
        tool=str(c.get("tool") or c.get("function") or "tool"),
        shown=str(c.get("shown") or ""),
        status=str(c.get("status") or "awaiting"),
        result=str(c.get("result") or ""),
        ms=float(ms) if isinstance(ms, int | float) else None,
    )


def tool_round(m: Message) -> ToolRound:
    """A stored round (role "tool") as the transcript shows it."""
    return ToolRound(
        id=m.id or 0,
        created_at=aware(m.created_at),
        content=m.content,
        model=m.model,
        status=m.status,
        error=m.error,
        prompt_tokens=m.prompt_tokens,
        completion_tokens=m.completion_tokens,
        cost_usd=m.cost_usd,
        latency_ms=m.latency_ms,
        calls=tuple(_call_view(c) for c in m.tool_calls or [] if isinstance(c, dict)),
        fallback_from=m.fallback_from,
        fallback_reason=m.fallback_reason,
    )


def _rounds_of(reply_ids: list[int]) -> dict[int, tuple[ToolRound, ...]]:
    """The tool rounds of these replies, each reply's oldest first."""
    if not reply_ids:
        return {}
    with session() as s:
        rows = s.execute(
            select(Message)
            .where(col(Message.parent_id).in_(reply_ids), col(Message.role) == TOOL_ROLE)
            .order_by(col(Message.id))
        ).scalars()
        found: dict[int, list[ToolRound]] = {}
        for m in rows:
            found.setdefault(m.parent_id or 0, []).append(tool_round(m))
    return {k: tuple(v) for k, v in found.items()}


def thread_messages(conversation_id: int, limit: int = 500) -> list[MessageRow]:
    """A thread's messages, oldest first (the newest `limit`); a reply that used tools carries its rounds."""
    with session() as s:
        rows = s.execute(
            select(Message)
            .where(col(Message.conversation_id) == conversation_id, col(Message.role) != TOOL_ROLE)
            .order_by(col(Message.id).desc())
            .limit(limit)
        ).scalars()
        messages = list(rows)
    attached = files_of([m.id for m in messages if m.id is not None and m.role == "user"])
    rounds = _rounds_of([m.id for m in messages if m.id is not None and m.role in REPLY_ROLES])
    return [message_row(m, attached.get(m.id or 0, ()), rounds.get(m.id or 0, ())) for m in reversed(messages)]


def scopes_seen(limit: int = 500) -> list[ScopeSeen]:
    """Platforms, workspaces and channels that have conversations (filters, scope pickers)."""
    with session() as s:
        rows = s.execute(
            select(
                col(Conversation.platform),
                col(Conversation.workspace),
                col(Conversation.channel),
                func.count(col(Conversation.id)),
            )
            .group_by(col(Conversation.platform), col(Conversation.workspace), col(Conversation.channel))
            .order_by(col(Conversation.platform), col(Conversation.workspace), col(Conversation.channel))
            .limit(limit)
        ).all()
    return [ScopeSeen(p, w, c, int(n)) for p, w, c, n in rows]
