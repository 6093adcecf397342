"""What a soak left behind, read three ways and held against each other: what each person sees in the fake Slack,
what the database stored (plain SQL), and what the provider was sent (the fake's record of every request).

Each person's message is identified by its first word (`q007-012`); the echo puts it into the answer. Per thread:
- every message Slack acked is stored with a reply in a final state, and that reply shows once: an answer with
  its footer (ok, cut off, stopped at the output limit), a warning (no model could answer), or the notice that
  a dead worker's reply was interrupted (charged, with `!retry` offered);
- the answers and warnings show in the order the replies were claimed, and each provider request of a turn holds
  exactly the thread's earlier turns as stored (the history rule of core.threads.conversations.history);
- the budget's spend equals the sum of stored costs, and no reservation is left held.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.slack import Message
from tests.slackkit import footer_of

TAG = re.compile(r"\bq\d{3,}-\d{3,}\b")
MICROS = 1_000_000
HISTORY_STATUSES = ("ok", "partial", "interrupted")


@dataclass
class Sent:
    index: int
    text: str
    event_id: str
    acked: bool = False
    redelivered: bool = False
    followed_early: bool = False

    @property
    def tag(self) -> str:
        return self.text.split()[0]


@dataclass(frozen=True)
class Row:
    id: int
    channel: str
    thread: str
    role: str
    content: str
    event_id: str | None
    status: str
    error: str | None
    cost_usd: float | None
    model: str | None
    finish_reason: str | None


def kind_of(message: Message) -> str:
    """answer (a model reply with its footer), warning, notice (an interrupted reply), or unfinished."""
    if footer_of(message):
        return "answer"
    if "the process writing it stopped" in message.text or "the process showing it stopped" in message.text:
        return "notice"
    if message.text.startswith(":warning:"):
        return "warning"
    return "unfinished"


def count_shown(messages: Sequence[Message]) -> int:
    """Final answers and explanations among a thread's bot messages."""
    return sum(1 for m in messages if kind_of(m) != "unfinished")


@dataclass
class Results:
    plan: dict[str, Any] = field(default_factory=dict)
    threads: int = 0
    messages: int = 0
    acked: int = 0
    redelivered: int = 0
    followed_early: int = 0
    failed_deliveries: int = 0
    deliveries_unanswered: int = 0  # no ack within Slack's 3 s
    ack_ms: dict[str, int] = field(default_factory=dict)  # how long acks took: p50, p95, max
    provider_calls: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    explained: dict[str, int] = field(default_factory=dict)
    unexplained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    interleaved: list[str] = field(default_factory=list)
    stored_out_of_send_order: int = 0
    internal_errors: int = 0
    tracebacks_shown: int = 0
    tracebacks_logged: dict[str, int] = field(default_factory=dict)
    budget_spent_usd: float = 0.0
    budget_spent_micros: int = 0
    stored_costs_micros: int = 0  # the stored costs as the ledger charges them: each rounded to the micro-dollar
    budget_reserved_usd: float = 0.0
    stored_costs_usd: float = 0.0
    priced_rows: int = 0
    reservations_held: int = 0
    interrupted: int = 0
    interrupted_charged: int = 0
    interrupted_told: int = 0
    shown_then_told: int = 0  # answers that showed just before their worker died, told they may not have
    killed_after_messages: int | None = None
    settled: bool = False
    seconds_sending: float = 0.0
    seconds_total: float = 0.0
    seconds_with_startup: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def problems(self) -> list[str]:
        """Each broken promise, with a few examples."""
        out = []
        for name, found in (
            ("lost", self.lost),
            ("duplicated", self.duplicates),
            ("not explained", self.unexplained),
            ("shown out of order", self.out_of_order),
            ("interleaved", self.interleaved),
        ):
            if found:
                out.append(f"{len(found)} {name}: {'; '.join(found[:5])}")
        if self.budget_spent_micros != self.stored_costs_micros:
            out.append(
                f"budget spent {self.budget_spent_micros:,} µ$ != stored costs {self.stored_costs_micros:,} µ$ "
                "(each rounded to the micro-dollar, as charged)"
            )
        if self.reservations_held or self.budget_reserved_usd:
            out.append(f"{self.reservations_held} reservations held (${self.budget_reserved_usd:.6f})")
        if self.interrupted_charged != self.interrupted or self.interrupted_told != self.interrupted:
            out.append(
                f"{self.interrupted} interrupted replies: {self.interrupted_charged} charged, "
                f"{self.interrupted_told} told"
            )
        if self.internal_errors:
            out.append(f"{self.internal_errors} replies failed inside Switchboard")
        if self.tracebacks_shown:
            out.append(f"{self.tracebacks_shown} tracebacks shown in Slack")
        if not self.settled:
            out.append("the run did not settle: replies or notices were still pending at the end")
        return out

    def table(self) -> str:
        rate = self.messages / self.seconds_total if self.seconds_total else 0.0
        faults = ", ".join(f"{k} {v:,}" for k, v in sorted(self.faults.items()) if k != "none")
        outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(self.outcomes.items()))
        explained = ", ".join(f"{k} {v:,}" for k, v in sorted(self.explained.items()))
        logged = sum(self.tracebacks_logged.values())
        rows = [
            ("messages (threads)", f"{self.messages:,} ({self.threads})"),
            ("acked by a worker", f"{self.acked:,}"),
            ("sent before the previous answer showed", f"{self.followed_early:,}"),
            ("redelivered to the other worker", f"{self.redelivered:,}"),
            (
                "deliveries that failed and were retried (of them, not acked within 3 s)",
                f"{self.failed_deliveries:,} ({self.deliveries_unanswered:,})",
            ),
            ("ack time p50 / p95 / max", " / ".join(f"{v:,} ms" for v in self.ack_ms.values())),
            (
                "provider calls (faults)",
                f"{self.provider_calls:,} ({sum(self.faults.values()) - self.faults.get('none', 0):,})",
            ),
            ("faults by kind", faults),
            ("replies by outcome", outcomes),
            ("failures explained to the user, by kind", explained),
            ("failures not explained", f"{len(self.unexplained):,}"),
            ("messages lost", f"{len(self.lost):,}"),
            ("duplicate replies", f"{len(self.duplicates):,}"),
            ("threads whose turns interleave", f"{len(self.interleaved):,}"),
            ("replies shown out of order", f"{len(self.out_of_order):,}"),
            ("messages stored out of the order sent", f"{self.stored_out_of_send_order:,}"),
            (
                "budget spent / sum of stored costs (each rounded to the µ$, as charged)",
                f"${self.budget_spent_usd:.6f} / ${self.stored_costs_micros / MICROS:.6f} "
                f"(unrounded ${self.stored_costs_usd:.6f})",
            ),
            ("reservations left held", f"{self.reservations_held:,}"),
            (
                "worker killed (kill -9) after message",
                "-" if self.killed_after_messages is None else f"{self.killed_after_messages:,}",
            ),
            (
                "interrupted replies: charged / told",
                f"{self.interrupted:,}: {self.interrupted_charged:,} / {self.interrupted_told:,}",
            ),
            ("of which shown in full just before the kill (told they may not have been)", f"{self.shown_then_told:,}"),
            ("tracebacks shown in Slack / in the logs", f"{self.tracebacks_shown} / {logged}"),
            (
                "time sending / to settle (rate)",
                f"{self.seconds_sending:.0f} s / {self.seconds_total:.0f} s ({rate:.1f} msg/s)",
            ),
        ]
        lines = ["| | |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)]
        return "\n".join(lines)


# ---------------------------------------------------------------- reading the database


def _rows() -> list[Row]:
    from sqlalchemy import text

    from core.storage.db import connection

    query = text(
        "SELECT m.id, c.channel, c.thread, m.role, m.content, m.event_id, m.status, m.error, m.cost_usd, m.model, "
        "m.finish_reason FROM message m JOIN conversation c ON c.id = m.conversation_id ORDER BY m.id"
    )
    with connection() as conn:
        return [Row(*r) for r in conn.execute(query).all()]


def _budget() -> tuple[int, int, int]:
    """(spent, reserved, reservations held), micro-dollars."""
    from sqlalchemy import text

    from core.storage.db import connection

    with connection() as conn:
        spent, reserved = conn.execute(
            text("SELECT coalesce(sum(spent_micros), 0), coalesce(sum(reserved_micros), 0) FROM budgetusage")
        ).one()
        held = conn.execute(text("SELECT count(*) FROM budgetreservation WHERE status = 'held'")).scalar_one()
    return int(spent), int(reserved), int(held)


def history_before(rows: list[Row], reply_id: int) -> list[tuple[str, str]]:
    """The turns a reply is written from: earlier user and assistant rows of its thread that say something, and
    of two answers in a row only the later (core.threads.conversations.history)."""
    turns: list[tuple[str, str]] = []
    for r in rows:
        if r.id >= reply_id or r.role not in ("user", "assistant"):
            continue
        if r.status not in HISTORY_STATUSES or r.content == "":
            continue
        if turns and r.role == "assistant" and turns[-1][0] == "assistant":
            turns[-1] = (r.role, r.content)
        else:
            turns.append((r.role, r.content))
    return turns


def _reason(row: Row) -> str:
    """A failure's kind, without the model name: 'rate limited (HTTP 429)'."""
    text = (row.error or "").split(";")[-1]
    return text.split(": ", 1)[-1].strip() or "unknown"


# ---------------------------------------------------------------- the checks


def check(
    people: list[tuple[str, str, list[Sent]]],
    fake: Any,
    provider_steps: list[tuple[dict[str, Any], str]],
    logs: list[Path],
) -> Results:
    """Everything the soak promises, counted. `people`: (channel, thread root ts, what was sent) per thread."""
    res = Results(threads=len(people))
    rows = _rows()
    by_thread: dict[tuple[str, str], list[Row]] = {}
    for r in rows:
        by_thread.setdefault((r.channel, r.thread), []).append(r)
    replies: dict[str, tuple[Row, list[Row]]] = {}  # tag -> its reply and its thread's rows
    for channel, root, sent in people:
        shown = [m for m in fake.bot_messages(channel, root) if m.ts != root] if root else []
        _thread(res, channel, sent, by_thread.get((channel, root), []), shown, replies)
    _requests(res, provider_steps, replies)
    spent, reserved, held = _budget()
    res.budget_spent_usd = spent / MICROS
    res.budget_reserved_usd = reserved / MICROS
    res.reservations_held = held
    res.stored_costs_usd = round(sum(r.cost_usd or 0.0 for r in rows), 6)
    # the ledger counts whole micro-dollars: each charge is its reply's cost rounded to one
    res.stored_costs_micros = sum(round((r.cost_usd or 0.0) * MICROS) for r in rows)
    res.budget_spent_micros = spent
    res.priced_rows = sum(1 for r in rows if r.cost_usd)
    res.tracebacks_logged = {
        p.name: p.read_text(errors="replace").count("Traceback (most recent call last)") for p in logs if p.exists()
    }
    return res


def _thread(
    res: Results,
    channel: str,
    sent: list[Sent],
    rows: list[Row],
    messages: list[Message],
    replies_of: dict[str, tuple[Row, list[Row]]],
) -> None:
    """One thread: what was sent, what is stored, what shows."""
    res.messages += len(sent)
    res.acked += sum(s.acked for s in sent)
    res.redelivered += sum(s.redelivered for s in sent)
    res.followed_early += sum(s.followed_early for s in sent)
    res.tracebacks_shown += sum(1 for m in messages if "Traceback" in m.text or 'File "' in m.text)
    shown = [(kind_of(m), m) for m in messages]
    users = {r.event_id: r for r in rows if r.role == "user"}
    replies = {r.event_id[len("reply:") :]: r for r in rows if (r.event_id or "").startswith("reply:")}

    # every acked message stored, with a reply in a final state
    claimed: list[tuple[str, Row]] = []  # (tag, reply) in the order the replies were claimed
    for s in sent:
        user, reply = users.get(s.event_id), replies.get(s.event_id)
        if user is None:  # acked, or given up by Slack after its retries: the bot never had it
            res.lost.append(f"{s.tag}: {'acked but' if s.acked else 'not acked after every retry, and'} never stored")
        elif reply is None:
            res.lost.append(f"{s.tag}: stored without a reply")
        elif reply.status == "pending":
            res.lost.append(f"{s.tag}: reply still pending")
        else:
            claimed.append((s.tag, reply))
            replies_of[s.tag] = (reply, rows)
    claimed.sort(key=lambda pair: pair[1].id)
    order = [users[s.event_id].id for s in sent if s.event_id in users]  # as sent
    res.stored_out_of_send_order += sum(1 for a, b in zip(order, sorted(order), strict=True) if a != b)

    # a dead worker's replies: charged and told, each once
    notices = Counter(said for kind, m in shown if kind == "notice" for said in _notices_said(m.text))
    maybe_shown: set[str] = set()  # told they may not have shown in full: an answer may show for them
    for tag, r in claimed:
        if r.status != "interrupted":
            continue
        res.interrupted += 1
        res.interrupted_charged += r.cost_usd is not None or r.model is None  # no model: nothing was sent
        said = next((k for k in _notice_keys(r) if notices[k] > 0), None)
        if said is not None:
            notices[said] -= 1
            res.interrupted_told += 1
            if said.startswith("not shown"):
                maybe_shown.add(tag)
    res.duplicates += [f"{channel}: notice '{k}' shown {n} more time(s)" for k, n in notices.items() if n > 0]

    # the answers and warnings show once each, in the order their replies were claimed
    expected = [tag if r.status in ("ok", "partial") else "warning" for tag, r in claimed if r.status != "interrupted"]
    # a reply cut off before the echo reached its tag ("echo:") shows without one: it is the next such reply
    untagged = [
        (tag, r.content.strip()) for tag, r in claimed if r.status in ("ok", "partial") and tag not in r.content
    ]
    actual: list[str] = []
    footers: dict[str, list[str]] = {}
    for kind, m in shown:
        if kind == "answer":
            tag = min(set(TAG.findall(m.text)), default="")
            if not tag:
                same = next((i for i, (_, text) in enumerate(untagged) if text == m.text.strip()), 0)
                tag = untagged.pop(same)[0] if untagged else "?"
            footers.setdefault(tag, []).append(footer_of(m))
            if tag in maybe_shown:
                maybe_shown.discard(tag)
                res.shown_then_told += 1
                continue
            actual.append(tag)
        elif kind == "warning":
            actual.append("warning")
    extra, missing = Counter(actual) - Counter(expected), Counter(expected) - Counter(actual)
    res.duplicates += [f"{channel}: {tag} shown {n} more time(s)" for tag, n in extra.items()]
    res.lost += [f"{channel}: {tag} never shown" for tag, n in missing.items() for _ in range(n)]
    if not extra and not missing and actual != expected:
        res.out_of_order.append(f"{channel}: shown {actual}, claimed {expected}")

    # each failure explained the way its kind should be
    for tag, reply in claimed:
        outcome = _outcome(reply)
        res.outcomes[outcome] = res.outcomes.get(outcome, 0) + 1
        if reply.status == "error" and "internal error" in (reply.error or ""):
            res.internal_errors += 1
        if outcome == "ok":
            continue
        if _told(outcome, reply, footers.get(tag, []), shown):
            res.explained[outcome] = res.explained.get(outcome, 0) + 1
        else:
            said = [m.text[:160] for kind, m in shown if kind == "notice"]
            res.unexplained.append(f"{tag}: {outcome} ({len(reply.content)} characters; notices: {said})")


def _requests(res: Results, steps: list[tuple[dict[str, Any], str]], replies: dict[str, tuple[Row, list[Row]]]) -> None:
    """Each provider request of a turn holds exactly its thread's earlier turns, as stored."""
    interleaved: set[str] = set()
    for body, fault in steps:
        res.provider_calls += 1
        res.faults[fault] = res.faults.get(fault, 0) + 1
        sent = [(m["role"], m["content"]) for m in body.get("messages", []) if m.get("role") != "system"]
        last_user = next((c for r, c in reversed(sent) if r == "user"), "")
        found = replies.get(last_user.split()[0] if last_user else "")
        if found is None:
            continue  # its reply was lost: counted with the thread
        reply, rows = found
        wanted = history_before(rows, reply.id)
        if sent != wanted:
            interleaved.add(f"{reply.channel} at {last_user.split()[0]}: {_first_difference(sent, wanted)}")
    res.interleaved = sorted(interleaved)


def _outcome(reply: Row) -> str:
    if reply.status == "ok":
        return "stopped at the output limit" if reply.finish_reason == "length" else "ok"
    if reply.status == "partial":
        return f"cut off: {_reason(reply)}"
    if reply.status == "error":
        return f"no answer: {_reason(reply)}"
    return reply.status


def _told(outcome: str, reply: Row, footers: list[str], shown: list[tuple[str, Message]]) -> bool:
    if outcome == "stopped at the output limit":
        return any("stopped at the output limit" in f for f in footers)
    if reply.status == "partial":
        return any("cut off" in f and "!retry" in f for f in footers)
    if reply.status == "error":
        return any(kind == "warning" and "no model could answer" in m.text for kind, m in shown)
    if reply.status == "interrupted":
        keys = _notice_keys(reply)
        return any(kind == "notice" and keys & set(_notices_said(m.text)) for kind, m in shown)
    return False


def _first_difference(sent: list[tuple[str, str]], wanted: list[tuple[str, str]]) -> str:
    for i, (a, b) in enumerate(zip(sent, wanted, strict=False)):
        if a != b:
            return f"turn {i} sent {a[0]} {a[1][:30]!r}, stored {b[0]} {b[1][:30]!r}"
    return f"{len(sent)} turns sent, {len(wanted)} stored before it"


NOTICE = re.compile(
    r"interrupted (after [\d,]+ characters|before it wrote anything)|may not have been shown in full \(([\d,]+) "
)


def _notices_said(text: str) -> list[str]:
    """What each crash notice in a message says of its reply: 'after 42 characters', 'before it wrote anything',
    'not shown 42' (written in full, maybe not shown)."""
    return [said or f"not shown {chars}" for said, chars in NOTICE.findall(text)]


def _notice_keys(row: Row) -> set[str]:
    """What a notice may say of this interrupted reply."""
    if not row.content:
        return {"before it wrote anything"}
    return {f"after {len(row.content):,} characters", f"not shown {len(row.content):,}"}
