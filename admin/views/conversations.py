"""Conversations: browse threads, then read one as a transcript (as it went in the chat, each reply with its
model, tokens, cost, latency and fallback, and above a reply that used tools each tool call it made), or as a
table of every message; export it as Markdown or JSON."""

from __future__ import annotations

import re

import streamlit as st

from core import formatting as fmt
from core.reports.threads import (
    MessageRow,
    ThreadPage,
    ThreadSummary,
    ToolCallView,
    file_facts,
    list_threads,
    plural,
    scopes_seen,
    thread_messages,
    thread_summary,
)
from core.reports.transcripts import (
    call_ending,
    reply_facts,
    result_title,
    round_facts,
    shown_result,
    transcript_json,
    transcript_markdown,
)
from core.storage import blobs

PAGE_SIZE = 25
ALL = "all"


def thread_label(t: ThreadSummary) -> str:
    title = (t.title or t.thread).replace("\n", " ")
    title = title if len(title) <= 60 else title[:59] + "…"
    return f"{title} · {t.platform} {t.workspace}/{t.channel} · #{t.id}"


def fallback_text(m: MessageRow) -> str:
    if not m.fallback_from:
        return ""
    return f"from {m.fallback_from}" + (f": {m.fallback_reason}" if m.fallback_reason else "")


def _count(n: int | None) -> str:
    return fmt.MISSING if n is None else f"{n:,}"


def reasoning_expander(m: MessageRow) -> None:
    """A reply's reasoning (what the model thought before answering), collapsed above the reply."""
    words = len((m.reasoning or "").split())
    tokens = f", {m.reasoning_tokens:,} tokens" if m.reasoning_tokens else ""
    with st.expander(f"Reasoning ({words:,} words{tokens})", icon=":material/psychology:"):
        st.text(m.reasoning)


def attachments(m: MessageRow) -> None:
    """A message's files: images as thumbnails, the others (and images no longer kept) as a line each."""
    row = st.container(horizontal=True, wrap=True, gap="small")
    for f in m.files:
        data = blobs.get(f.sha256) if f.kind == "image" and f.sha256 else None
        if data is not None:
            row.image(data, caption=file_facts(f), width=200)
        else:
            icon = ":material/image:" if f.kind == "image" else ":material/description:"
            row.caption(f"{icon} {file_facts(f)}")


CALL_ICONS = {
    "ok": ":material/check_circle:",
    "error": ":material/error:",
    "timeout": ":material/timer_off:",
    "declined": ":material/block:",
    "unavailable": ":material/cloud_off:",
    "awaiting": ":material/hourglass_top:",
}


MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~$])")


def literal(text: str) -> str:
    """Text shown as written inside a Markdown label (a tool's arguments may hold `*`, `_`, `[`...)."""
    return MARKDOWN.sub(r"\\\1", text)


LABEL_ARGS = 120  # characters of a call's shown arguments in its one-line label; longer ones are shown in full inside
TALL_RESULT = 800  # characters: a longer result is shown in a box of its own height that scrolls


def tool_call(c: ToolCallView) -> None:
    """A call collapsed to one line (tool, shown arguments, how it ended); open, its result (capped)."""
    shown = c.shown if len(c.shown) <= LABEL_ARGS else c.shown[: LABEL_ARGS - 1] + "…"
    label = f"**{literal(c.qualified)}**({literal(shown)}) · {call_ending(c)}"
    with st.expander(label, icon=CALL_ICONS.get(c.status, ":material/build:")):
        if len(c.shown) > LABEL_ARGS:
            st.caption("Arguments, as the thread was shown them")
            st.code(c.shown, language=None, wrap_lines=True)
        st.caption(result_title(c))
        result = shown_result(c) or "(empty)"
        tall = len(result) > TALL_RESULT or result.count("\n") > 12
        st.code(result, language=None, wrap_lines=True, height=320 if tall else "content")


def tool_rounds(m: MessageRow) -> None:
    """A reply's tool rounds, above its answer and set apart from it: each model call that asked for tools, then
    its calls."""
    with st.container(border=True):
        for n, r in enumerate(m.rounds, 1):
            st.caption(f":material/build: {literal(round_facts(n, r))}")
            if r.content.strip():
                st.markdown(r.content)
            for c in r.calls:
                tool_call(c)


def transcript(messages: list[MessageRow]) -> None:
    """The thread as it read in the chat: each user message, then the reply with what it took to write."""
    if not messages:
        st.caption("No messages stored in this thread.")
        return
    for m in messages:
        user = m.role == "user"
        with st.chat_message("user" if user else "assistant", avatar=":material/person:" if user else None):
            who = m.user_id or "user" if user else m.role
            st.caption(f"{who} · {fmt.timestamp(m.created_at)}")
            if m.reasoning:
                reasoning_expander(m)
            if m.rounds:
                tool_rounds(m)
            if m.content:
                st.markdown(m.content)
            if m.files:
                attachments(m)
            if not user:
                facts = reply_facts(m)
                if m.status == "error":
                    st.error(facts, icon=":material/error:")
                elif m.fallback_from or m.status != "ok":
                    st.warning(facts, icon=":material/alt_route:")
                else:
                    st.caption(facts)


def slug(t: ThreadSummary) -> str:
    return f"thread-{t.id}-{t.platform}"


def _cell(text: str) -> str:
    return text if len(text) <= 300 else text[:299] + "…"


def round_rows(m: MessageRow) -> list[dict[str, str]]:
    """A reply's tool rounds as rows of the messages table, just before the reply."""
    return [
        {
            "time": fmt.timestamp(r.created_at),
            "role": "tool round",
            "user": "",
            "model": r.model or "",
            "tokens in": _count(r.prompt_tokens),
            "tokens out": _count(r.completion_tokens),
            "cost": fmt.money(r.cost_usd),
            "latency": fmt.latency(r.latency_ms) if r.latency_ms else "",
            "first token": "",
            "fallback": "",
            "status": r.status,
            "error": r.error or "",
            "text": _cell("; ".join(f"{c.qualified}({c.shown}): {call_ending(c)}" for c in r.calls)),
        }
        for r in m.rounds
    ]


def messages_table(messages: list[MessageRow]) -> None:
    rows: list[dict[str, str]] = []
    for m in messages:
        rows += round_rows(m)
        rows.append(
            {
                "time": fmt.timestamp(m.created_at),
                "role": m.role,
                "user": m.user_id or "",
                "model": m.model or "",
                "tokens in": _count(m.prompt_tokens),
                "tokens out": _count(m.completion_tokens),
                "cost": fmt.money(m.cost_usd) if m.role in ("assistant", "compare") else "",
                "latency": fmt.latency(m.latency_ms) if m.latency_ms else "",
                "first token": fmt.latency(m.ttft_ms) if m.ttft_ms else "",
                "fallback": fallback_text(m),
                "status": m.status,
                "error": m.error or "",
                "text": _cell(m.content),
            }
        )
    st.dataframe(rows, hide_index=True)


def thread_detail(t: ThreadSummary) -> None:
    st.subheader(t.title or t.thread)
    st.caption(
        f"{t.platform} · workspace {t.workspace} · channel {t.channel} · thread {t.thread} · "
        f"model {t.current_model or 'not pinned yet'} · started {fmt.timestamp(t.created_at)}"
    )
    figures = st.container(horizontal=True, gap="large")  # wraps on a narrow window instead of cutting "$0.0…"
    figures.metric("Messages", t.messages, width="content")
    figures.metric("Tokens", f"{t.tokens:,}", width="content")
    figures.metric(
        "Cost",
        fmt.money(t.cost_usd),
        help=f"{plural(t.unknown_cost_replies, 'reply', 'replies')} of unknown price not counted",
        width="content",
    )
    figures.metric("Errors", t.errors, width="content")
    figures.metric("Fallbacks", t.fallbacks, width="content")
    messages = thread_messages(t.id)
    exports = st.container(horizontal=True)
    exports.download_button(
        "Export Markdown",
        transcript_markdown(t, messages),
        file_name=f"{slug(t)}.md",
        mime="text/markdown",
        icon=":material/download:",
        key=f"conv-md-{t.id}",
    )
    exports.download_button(
        "Export JSON",
        transcript_json(t, messages),
        file_name=f"{slug(t)}.json",
        mime="application/json",
        icon=":material/download:",
        key=f"conv-json-{t.id}",
    )
    chat, table = st.tabs(["Transcript", "Messages table"])
    with chat:
        transcript(messages)
    with table:
        messages_table(messages)


def linked_thread() -> ThreadSummary | None:
    """The thread a link opened (`?thread=ID`, as the request log links it), if it exists."""
    wanted = st.query_params.get("thread", "")
    return thread_summary(int(wanted)) if wanted.isdigit() else None


def render() -> None:
    st.title("Conversations")
    if "thread" in st.query_params:
        linked = linked_thread()
        st.page_link("views/conversations.py", label="All conversations", icon=":material/arrow_back:")
        if linked is None:
            st.warning("That thread is not stored (any more). Pick one from all conversations.")
        else:
            thread_detail(linked)
        return
    seen = scopes_seen()
    platforms = sorted({s.platform for s in seen})
    c1, c2, c3 = st.columns(3)
    platform = c1.selectbox("Platform", [ALL, *platforms], key="conv-platform")
    workspace = c2.text_input("Workspace", key="conv-workspace")
    channel = c3.text_input("Channel", key="conv-channel")
    c4, c5 = st.columns(2)
    text = c4.text_input("Search titles", key="conv-search")
    model = c5.text_input("Model used", placeholder="e.g. local/llama3.2:1b", key="conv-model")

    def query(page_no: int) -> ThreadPage:
        return list_threads(
            platform=None if platform == ALL else platform,
            workspace=workspace.strip() or None,
            channel=channel.strip() or None,
            text=text.strip() or None,
            model=model.strip() or None,
            limit=PAGE_SIZE,
            offset=(page_no - 1) * PAGE_SIZE,
        )

    page_no = int(st.session_state.get("conv-page", 1))
    page = query(page_no)
    if page_no > 1 and not page.threads:  # the filters changed under a later page: back to the first
        st.session_state["conv-page"] = 1
        page = query(1)
    if not page.total:
        st.info("No conversations match. Threads appear here once someone talks to the bot.")
        return
    pages = max(1, -(-page.total // PAGE_SIZE))
    st.caption(plural(page.total, "thread"))
    st.dataframe(
        [
            {
                "id": t.id,
                "thread": t.title or t.thread,
                "where": f"{t.platform} {t.workspace}/{t.channel}",
                "model": t.current_model or fmt.MISSING,
                "messages": t.messages,
                "tokens": t.tokens,
                "cost": fmt.money(t.cost_usd),
                "errors": t.errors,
                "fallbacks": t.fallbacks,
                "last activity": fmt.ago(t.updated_at),
            }
            for t in page.threads
        ],
        hide_index=True,
    )
    if pages > 1:
        st.number_input("Page", min_value=1, max_value=pages, step=1, key="conv-page")
    if not page.threads:
        return
    labels = {thread_label(t): t for t in page.threads}
    chosen = st.selectbox("Open thread", list(labels), key="conv-open")
    thread_detail(labels[chosen])


render()
