"""A thread as the admin reads it and exports it (Markdown, JSON): each reply with its model, tokens, cost,
latency and fallback, and above a reply that used tools its rounds, each call with the arguments as the thread
was shown them (never the raw ones), how it ended, how long it ran and its result (capped)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime

from core import formatting as fmt
from core.reports.threads import (
    ANSWERED,
    MessageRow,
    ThreadSummary,
    ToolCallView,
    ToolRound,
    file_facts,
    plural,
)

RESULT_SHOWN_CHARS = 2_000  # of a tool's result, in the transcript and the Markdown export
STATUS_WORDS = {"confirm": "waiting for the user's !confirm", "cancelled": "cancelled by the user"}


def _tokens(prompt: int | None, completion: int | None, reasoning: int | None = None) -> str:
    thought = f" ({reasoning:,} of them reasoning)" if reasoning else ""
    return f"{prompt or 0:,} in / {completion or 0:,} out tokens{thought}"


@dataclass(frozen=True)
class ReplyTotals:
    """A reply's figures over all its model calls (its tool rounds and the answer)."""

    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None  # None when a call that answered had an unknown price: never shown as free


def reply_totals(m: MessageRow) -> ReplyTotals:
    calls = [(r.prompt_tokens, r.completion_tokens, r.cost_usd, r.status) for r in m.rounds]
    calls.append((m.prompt_tokens, m.completion_tokens, m.cost_usd, m.status))

    def total(values: list[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return sum(known) if known else None

    unknown = any(cost is None and status in ANSWERED for _, _, cost, status in calls)
    costs = [cost for _, _, cost, _ in calls if cost is not None]
    return ReplyTotals(
        total([c[0] for c in calls]),
        total([c[1] for c in calls]),
        None if unknown or not costs else sum(costs),
    )


def tools_used(m: MessageRow) -> str:
    """`2 tool rounds, tools ran 1.4 s` for a reply that used tools; empty otherwise."""
    rounds = m.tool_rounds if m.tool_rounds is not None else len(m.rounds)
    if not rounds:
        return ""
    ran = f", tools ran {fmt.latency(m.tool_ms)}" if m.tool_ms is not None else ""
    return f"{plural(rounds, 'tool round')}{ran}"


def reply_facts(m: MessageRow) -> str:
    """One line under a reply: model, tool rounds, tokens, cost, latency, fallback, and what went wrong if
    anything. A reply that used tools shows its tokens and cost over all its model calls."""
    model = m.model or (m.rounds[-1].model if m.rounds else None)  # a reply parked for consent has no model yet
    parts = [model or "model unknown"]
    used = tools_used(m)
    if used:
        parts.append(used)
    totals = reply_totals(m) if m.rounds else ReplyTotals(m.prompt_tokens, m.completion_tokens, m.cost_usd)
    if totals.prompt_tokens is not None or totals.completion_tokens is not None:
        in_all = " in all" if m.rounds else ""
        parts.append(_tokens(totals.prompt_tokens, totals.completion_tokens, m.reasoning_tokens) + in_all)
    if m.status in ANSWERED or totals.cost_usd is not None or m.rounds:
        parts.append(fmt.money(totals.cost_usd))
    if m.latency_ms:
        first = f", first token {fmt.latency(m.ttft_ms)}" if m.ttft_ms else ""
        parts.append(f"{fmt.latency(m.latency_ms)}{first}")
    if m.fallback_from:
        parts.append(f"fallback from {m.fallback_from}" + (f" ({m.fallback_reason})" if m.fallback_reason else ""))
    if m.status != "ok":
        parts.append(STATUS_WORDS.get(m.status, m.status) + (f": {m.error}" if m.error else ""))
    return " · ".join(parts)


def round_facts(n: int, r: ToolRound) -> str:
    """`Tool round 1 · oa/gpt-4o · 400 in / 30 out tokens · $0.001 · 800 ms`: one model call that asked for
    tools."""
    parts = [f"Tool round {n}", r.model or "model unknown"]
    if r.prompt_tokens is not None or r.completion_tokens is not None:
        parts.append(_tokens(r.prompt_tokens, r.completion_tokens))
    parts.append(fmt.money(r.cost_usd))
    if r.latency_ms:
        parts.append(fmt.latency(r.latency_ms))
    if r.fallback_from:
        parts.append(f"fallback from {r.fallback_from}" + (f" ({r.fallback_reason})" if r.fallback_reason else ""))
    if r.status != "ok":
        parts.append(r.status + (f": {r.error}" if r.error else ""))
    return " · ".join(parts)


CALL_ENDINGS = {
    "ok": "ok",
    "error": "failed",
    "timeout": "timed out",
    "declined": "declined by the user",
    "unavailable": "not run: unavailable",
    "awaiting": "waiting for the user's OK",
}


def call_ending(c: ToolCallView) -> str:
    """`ok · 120 ms`: how a call ended and how long it ran."""
    ending = CALL_ENDINGS.get(c.status, c.status)
    return ending if c.ms is None else f"{ending} · {fmt.latency(c.ms)}"


def call_facts(c: ToolCallView) -> str:
    """`weather.lookup(city=Paris) · ok · 120 ms`: the tool, its shown arguments, how it ended, how long."""
    return f"{c.qualified}({c.shown}) · {call_ending(c)}"


def shown_result(c: ToolCallView, limit: int = RESULT_SHOWN_CHARS) -> str:
    """A call's result as the transcript shows it: at most `limit` characters, saying how much was left out."""
    if len(c.result) <= limit:
        return c.result
    return c.result[:limit] + f"\n… ({len(c.result) - limit:,} more characters not shown)"


def _fence(text: str) -> str:
    """A Markdown code block around `text` that no backtick run inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{text}\n{ticks}"


def _code(text: str) -> str:
    """Inline Markdown code around `text`, whatever backticks it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def result_title(c: ToolCallView) -> str:
    """What a call's collapsed text is: `Result (31 B)`, or `What happened` for a call that did not end well."""
    return f"Result ({fmt.size(len(c.result.encode()))})" if c.status == "ok" else "What happened"


def _rounds_markdown(m: MessageRow) -> list[str]:
    lines: list[str] = []
    for n, r in enumerate(m.rounds, 1):
        lines += ["", f"**{round_facts(n, r)}**"]
        if r.content.strip():
            lines += ["", r.content.strip()]
        lines.append("")
        for c in r.calls:
            lines.append(f"- {_code(f'{c.qualified}({c.shown})')} · {call_ending(c)}")
            if c.result:
                fenced = ("  " + line if line else "" for line in _fence(shown_result(c)).splitlines())
                lines += ["", f"  <details><summary>{result_title(c)}</summary>", "", *fenced, "", "  </details>", ""]
        if lines[-1] == "":
            lines.pop()
    return lines


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
        lines += _rounds_markdown(m)
        if m.reasoning:  # collapsed where Markdown renders HTML, as the conversation view shows it
            lines += ["", "<details><summary>Reasoning</summary>", "", m.reasoning, "", "</details>"]
        lines += ["", m.content or ("(no text)" if m.status == "ok" else f"({m.status})"), ""]
    return "\n".join(lines).rstrip() + "\n"


def transcript_json(t: ThreadSummary, messages: list[MessageRow]) -> str:
    """The thread and every message with all its fields, times in ISO 8601 (UTC); a reply that used tools with
    its rounds and their calls (arguments as the thread was shown them)."""

    def plain(value: object) -> object:
        return value.isoformat() if isinstance(value, datetime) else value

    def call(c: ToolCallView) -> dict[str, object]:
        return {"server": c.server, "tool": c.tool, "shown": c.shown, "status": c.status, "ms": c.ms,
                "result": c.result}  # fmt: skip

    def tool_round(r: ToolRound) -> dict[str, object]:
        fields = {k: plain(v) for k, v in asdict(r).items() if k != "calls"}
        fields["calls"] = [call(c) for c in r.calls]  # the shown arguments only, never the raw ones
        return fields

    def message(m: MessageRow) -> dict[str, object]:
        fields = {k: plain(v) for k, v in asdict(m).items() if k not in ("files", "rounds")}
        fields["rounds"] = [tool_round(r) for r in m.rounds]
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
