"""Read-only views over conversations for the admin: browsing threads and their messages (per-model performance
over time is core.reports.performance). Nothing here writes; `core.threads.conversations` owns the tables and
every write to them."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
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
            func.count(col(Message.id)).label("messages"),
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


def message_row(m: Message, files: tuple[StoredFile, ...] = ()) -> MessageRow:
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
    )


def thread_messages(conversation_id: int, limit: int = 500) -> list[MessageRow]:
    """A thread's messages, oldest first (the newest `limit`)."""
    with session() as s:
        rows = s.execute(
            select(Message)
            .where(col(Message.conversation_id) == conversation_id)
            .order_by(col(Message.id).desc())
            .limit(limit)
        ).scalars()
        messages = list(rows)
    attached = files_of([m.id for m in messages if m.id is not None and m.role == "user"])
    return [message_row(m, attached.get(m.id or 0, ())) for m in reversed(messages)]


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


# ---------------------------------------------------------------- transcripts (the admin's export)


def reply_facts(m: MessageRow) -> str:
    """One line under a reply: model, tokens, cost, latency, fallback, and what went wrong if anything."""
    parts = [m.model or "model unknown"]
    if m.prompt_tokens is not None or m.completion_tokens is not None:
        thought = f" ({m.reasoning_tokens:,} of them reasoning)" if m.reasoning_tokens else ""
        parts.append(f"{m.prompt_tokens or 0:,} in / {m.completion_tokens or 0:,} out tokens{thought}")
    if m.status in ANSWERED or m.cost_usd is not None:
        parts.append(fmt.money(m.cost_usd))
    if m.latency_ms:
        first = f", first token {fmt.latency(m.ttft_ms)}" if m.ttft_ms else ""
        parts.append(f"{fmt.latency(m.latency_ms)}{first}")
    if m.fallback_from:
        parts.append(f"fallback from {m.fallback_from}" + (f" ({m.fallback_reason})" if m.fallback_reason else ""))
    if m.status != "ok":
        parts.append(m.status + (f": {m.error}" if m.error else ""))
    return " · ".join(parts)


def transcript_markdown(t: ThreadSummary, messages: list[MessageRow]) -> str:
    """The thread as a Markdown document: a heading, where it happened, then each message in order."""
    lines = [
        f"# {t.title or t.thread}",
        "",
        f"- Where: {t.platform}, workspace {t.workspace}, channel {t.channel}, thread {t.thread}",
        f"- Started: {fmt.timestamp(t.created_at)}; last activity {fmt.timestamp(t.updated_at)}",
        f"- {plural(t.messages, 'message')}, {t.tokens:,} tokens, cost {fmt.money(t.cost_usd)}, "
        f"{plural(t.errors, 'error')}, {plural(t.fallbacks, 'fallback')}",
        "",
    ]
    for m in messages:
        if m.role == "user":
            lines.append(f"## {m.user_id or 'user'} · {fmt.timestamp(m.created_at)}")
        else:
            lines.append(f"## {m.role} · {fmt.timestamp(m.created_at)}")
            lines.append(f"*{reply_facts(m)}*")
        lines += [f"- Attached: {file_facts(f)}" for f in m.files]
        if m.reasoning:  # collapsed where Markdown renders HTML, as the conversation view shows it
            lines += ["", "<details><summary>Reasoning</summary>", "", m.reasoning, "", "</details>"]
        lines += ["", m.content or ("(no text)" if m.status == "ok" else f"({m.status})"), ""]
    return "\n".join(lines).rstrip() + "\n"


def transcript_json(t: ThreadSummary, messages: list[MessageRow]) -> str:
    """The thread and every message with all its fields, times in ISO 8601 (UTC)."""

    def plain(value: object) -> object:
        return value.isoformat() if isinstance(value, datetime) else value

    def message(m: MessageRow) -> dict[str, object]:
        fields = {k: plain(v) for k, v in asdict(m).items() if k != "files"}
        fields["files"] = [
            {
                "name": f.name,
                "type": f.mime,
                "kind": f.kind,
                "size": f.size,
                "pages": f.pages,
                "kept": f.sha256 is not None,
            }
            for f in m.files
        ]
        return fields

    doc = {
        "thread": {k: plain(v) for k, v in asdict(t).items()},
        "messages": [message(m) for m in messages],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
