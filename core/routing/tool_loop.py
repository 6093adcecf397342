"""The tool-call loop: a reply that may use tools is a series of model calls ("rounds"), the same for every adapter.

Each round is a `core.routing.route` call (so it walks the fallback chain and is admitted, reserved and settled
against the budgets like any reply), offered the thread's tools when its model can call tools. A round that ends
in tool calls is stored (core.tools.rounds), its calls run through the MCP client one by one, each shown in the
thread while it runs and after (ToolActivity), and their results go back to the model in the next round, until
the model answers or SWITCHBOARD_TOOL_MAX_ROUNDS is reached (the last round is offered the tools with
tool_choice "none", so it must answer with what it has).

A tool an admin marked as needing consent does not run until the thread's user says so: the loop parks the reply
(`Parked`, shown with buttons) the way an expensive reply waits for `!confirm`; `!confirm` (or `!confirm always`,
remembered for the thread) resumes it from its stored rounds and runs the call, `!cancel` resumes it with the
call declined, which the model is told. A round the budget would have to confirm is parked the same way; a
budget that runs out between rounds ends the reply there, with what the earlier rounds cost charged and shown.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

from core.config.scopes import ScopeKey
from core.routing.route import RouteOutcome, RouteSpec, Writing, route
from core.settings import get_settings
from core.snapshot import Snapshot
from core.tools import client, health, rounds, servers
from core.tools.rounds import CallRecord, StoredRound
from core.tools.servers import ServerView, ToolInfo
from core.tools.shown import summary
from core.types import Choice, Delta, HistoryTurn, Notice, Reply, Thinking, ToolActivity, TurnResult

Event = Delta | Thinking | Notice | Writing | ToolActivity | RouteOutcome


@dataclass(frozen=True)
class Parked:
    """The reply waits for the user (a tool's consent, or a round's cost): park it and show `reply`."""

    reply: Reply


@dataclass(frozen=True)
class ToolTurn:
    """What the loop needs of the turn besides its route: where it is stored, and the user's answer when it is a
    parked reply resumed (`consent`: once | always | declined; None: not a consent answer)."""

    conversation_id: int
    reply_id: int
    user: str
    consent: str | None = None
    resumed: bool = False  # a parked reply answered (`!confirm`, `!cancel`): it goes on from its stored rounds


@dataclass(frozen=True)
class Available:
    """The tools a thread may use here: `tools` offered (their servers up), `down` the servers skipped."""

    tools: tuple[ToolInfo, ...]
    servers: dict[str, ServerView]
    down: tuple[ServerView, ...]


def available(snap: Snapshot, key: ScopeKey, preset: str | None) -> Available:
    here = [s for s in snap.mcp_servers if s.applies(key, preset)]
    up = [s for s in here if not s.down]
    return Available(
        tools=tuple(t for s in up for t in s.offered),
        servers={s.name: s for s in here},
        down=tuple(s for s in here if s.down),
    )


def function_defs(tools: tuple[ToolInfo, ...]) -> tuple[dict[str, Any], ...]:
    """The tools as OpenAI-style function definitions (litellm translates them for each provider)."""
    return tuple(
        {
            "type": "function",
            "function": {
                "name": t.function_name,
                "description": (t.description or t.qualified)[:1024],
                "parameters": t.input_schema or {"type": "object", "properties": {}},
            },
        }
        for t in tools
    )


class _Totals:
    """Every round's tokens, cost and tool time, for the footer."""

    def __init__(self, stored: list[StoredRound]) -> None:
        self.prompt = sum(r.prompt_tokens for r in stored)
        self.completion = sum(r.completion_tokens for r in stored)
        costs = [r.cost_usd for r in stored]
        self.cost: float | None = None if None in costs else sum(c or 0.0 for c in costs)
        self.rounds = len(stored)
        self.ms = sum(c.ms or 0.0 for r in stored for c in r.calls)
        self.model = next((r.model for r in reversed(stored) if r.model), None)
        self.provider = next((r.provider for r in reversed(stored) if r.provider), None)

    def add_round(self, result: TurnResult) -> None:
        self.prompt += result.prompt_tokens
        self.completion += result.completion_tokens
        self.cost = None if self.cost is None or result.cost_usd is None else self.cost + result.cost_usd
        self.rounds += 1
        self.model, self.provider = result.model or self.model, result.provider or self.provider

    def final(self, last: TurnResult, **changes: Any) -> tuple[TurnResult, TurnResult]:
        """(what the thread is shown: every round added up, what the reply row stores: its own round)."""
        stored = replace(last, tool_rounds=self.rounds, tool_ms=self.ms, **changes)
        cost = None if self.cost is None or last.cost_usd is None else self.cost + last.cost_usd
        shown = replace(
            stored,
            prompt_tokens=self.prompt + last.prompt_tokens,
            completion_tokens=self.completion + last.completion_tokens,
            cost_usd=cost,
        )
        return shown, stored


async def answer(
    spec: RouteSpec, history: list[HistoryTurn], snap: Snapshot, turn: ToolTurn, here: Available
) -> AsyncGenerator[Event | Parked, None]:
    """The reply's events: route's, each tool call's activity, and one RouteOutcome (or Parked) at the end."""
    stored = await asyncio.to_thread(rounds.rounds_of, turn.reply_id) if turn.resumed else []
    if not stored and (not here.tools or not spec.target.supports_tools):  # a reply as any other
        async with aclosing(route(spec, history, snap)) as routed:  # closed with us: its budget gate settles now
            async for event in routed:
                yield event
        return
    settings = get_settings()
    totals = _Totals(stored)
    parked = stored[-1] if stored and stored[-1].waiting else None
    exchange = [m for r in stored if r is not parked for m in _messages(r.text, r.calls)]
    by_function = {t.function_name: t for t in here.tools}
    defs = function_defs(here.tools)
    if any(s.has_secret for s in here.servers.values()):  # known to core.logs before any call is shown
        await asyncio.to_thread(_read_secrets, here)
    sessions = client.pool()  # servers' sessions stay open across replies (core.tools.client.Pool)
    runner = _Runner(sessions, here, by_function, turn, settings.tool_timeout_s)
    if parked is not None:  # the user answered the question this reply was parked with
        answering = parked.waiting
        async for activity in runner.answered(parked, turn.consent or "declined"):
            yield activity
        totals.ms += sum(c.ms or 0.0 for c in answering)
        exchange += _messages(parked.text, parked.calls)
    while True:
        final_round = totals.rounds + 1 >= settings.tool_max_rounds
        round_spec = replace(spec, tools=defs, tool_choice="none" if final_round else None, exchange=tuple(exchange))
        outcome: RouteOutcome | None = None
        round_id: int | None = None
        calls: list[CallRecord] = []
        async with aclosing(route(round_spec, history, snap)) as routed:
            async for event in routed:
                if not isinstance(event, RouteOutcome):
                    yield event
                    continue
                outcome = event
                if outcome.tool_calls and not final_round and outcome.result.status == "ok":
                    # stored before route goes on (which settles the round's budget), like a reply
                    calls = [runner.record(c) for c in outcome.tool_calls]
                    round_id = await asyncio.to_thread(
                        rounds.store_round, turn.conversation_id, turn.reply_id, outcome.result, calls
                    )
        assert outcome is not None
        if outcome.refusal is not None:
            if not totals.rounds:
                yield outcome  # nothing was called: as any reply the gate refuses
                return
            if outcome.refusal.kind == "confirm":  # this round costs more than the threshold: ask, as ever
                yield Parked(outcome.refusal)
                return
            yield Notice(f"The tools' results were not sent back to a model: {outcome.refusal.text}")
            text = (
                "(No answer: the model could not be asked again after its tool calls, see above; what its "
                "earlier rounds cost is charged.)"
            )
            yield Delta(text)
            yield _end(totals, outcome, TurnResult(model=None, provider=None, status="partial", text=text))
            return
        if round_id is None:
            if final_round and totals.rounds and outcome.result.status == "ok":  # it could call no more
                yield Notice(
                    f"This reply stopped using tools after {totals.rounds} rounds, the limit here "
                    "(SWITCHBOARD_TOOL_MAX_ROUNDS): it answers with what the tools returned so far."
                )
            yield _end(totals, outcome, outcome.result)
            return
        totals.add_round(outcome.result)
        async for activity in runner.run(calls):
            yield activity
        totals.ms += sum(c.ms or 0.0 for c in calls)
        await asyncio.to_thread(rounds.update_calls, round_id, calls)
        waiting = [c for c in calls if c.status == "awaiting"]
        if waiting:
            yield Parked(_consent_question(waiting))
            return
        exchange += _messages(outcome.result.text, calls)


def _end(totals: _Totals, outcome: RouteOutcome, last: TurnResult) -> RouteOutcome:
    if not totals.rounds:
        return outcome
    if last.model is None and last.status != "error":  # no model was called: the reply is the last round's model's
        last = replace(last, model=totals.model, provider=totals.provider, cost_usd=0.0)
    shown, stored = totals.final(last)
    return replace(outcome, result=shown, stored=stored, tool_calls=(), refusal=None)


def _messages(text: str, calls: list[CallRecord]) -> list[dict[str, Any]]:
    """A round as the model is given it back: its calls, then each call's result."""
    said = {
        "role": "assistant",
        "content": text or None,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function, "arguments": c.arguments}} for c in calls
        ],
    }
    return [said, *({"role": "tool", "tool_call_id": c.id, "content": c.result} for c in calls)]


def _consent_question(waiting: list[CallRecord]) -> Reply:
    asks = "; ".join(f"`{c.server}.{c.tool}` ({c.shown})" for c in waiting)
    return Reply(
        f"The model wants to run {asks}. An admin asked that this tool runs only with your OK. Run it?",
        kind="confirm",
        choices=(
            Choice("Run it", "!confirm", "primary"),
            Choice("Always in this thread", "!confirm always"),
            Choice("Don't run", "!cancel", "danger"),
        ),
    )


class _Runner:
    """Runs a round's calls through the MCP client, in the order the model made them."""

    def __init__(
        self,
        sessions: client.Sessions,
        here: Available,
        by_function: dict[str, ToolInfo],
        turn: ToolTurn,
        timeout_s: float,
    ) -> None:
        self.sessions = sessions
        self.here = here
        self.by_function = by_function
        self.turn = turn
        self.timeout_s = timeout_s
        self._consented: set[tuple[str, str]] | None = None

    def record(self, request: Any) -> CallRecord:
        tool = self.by_function.get(request.name)
        server, name = (tool.server, tool.name) if tool else ("?", request.name)
        shown = summary(request.arguments)
        return CallRecord(request.id, server, name, request.name, request.arguments, shown, status="running")

    async def run(self, calls: list[CallRecord]) -> AsyncGenerator[ToolActivity, None]:
        if self._consented is None:  # read only where a tool of the round asks first
            asks = any((t := self.by_function.get(c.function)) is not None and t.consent for c in calls)
            self._consented = await asyncio.to_thread(rounds.consented, self.turn.conversation_id) if asks else None
        for call in calls:
            tool = self.by_function.get(call.function)
            if tool is not None and tool.consent and (tool.server, tool.name) not in (self._consented or ()):
                # No line for it yet: the question that parks the reply names it, and its line comes when it runs
                # (a 🔐 line posted now could not be updated by the turn that answers the question).
                call.status, call.result = "awaiting", ""
                continue
            async for activity in self._run_one(call, tool):
                yield activity

    async def answered(self, parked: StoredRound, consent: str) -> AsyncGenerator[ToolActivity, None]:
        """Run (or decline) the calls a parked round waited with, as the user answered; store how they ended."""
        for call in parked.waiting:
            if consent == "declined":
                call.status, call.ms = "declined", 0.0
                call.result = "The user declined to run this tool. Answer without it, saying what it would have done."
                yield _activity(call, "you declined")
                continue
            if consent == "always":
                await asyncio.to_thread(
                    rounds.remember_consent, self.turn.conversation_id, call.server, call.tool, self.turn.user
                )
            async for activity in self._run_one(call, self.by_function.get(call.function)):
                yield activity
        await asyncio.to_thread(rounds.update_calls, parked.id, parked.calls)

    async def _run_one(self, call: CallRecord, tool: ToolInfo | None) -> AsyncGenerator[ToolActivity, None]:
        server = self.here.servers.get(call.server)
        if tool is None or server is None or server.down:
            call.status, call.ms = "unavailable", 0.0
            call.result = f"No tool named {call.function} is available here now."
            yield _activity(call, "not available here")
            return
        bad = "The arguments must be a JSON object."
        try:
            arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        except json.JSONDecodeError as exc:
            arguments, bad = None, f"The arguments were not valid JSON ({exc.msg}). Call it again with valid JSON."
        if not isinstance(arguments, dict):
            call.status, call.ms, call.result = "error", 0.0, bad
            yield _activity(call, "invalid arguments")
            return
        call.status = "running"
        yield _activity(call, "")
        started = time.perf_counter()
        try:
            got = await self.sessions.call(server, tool.name, arguments, self.timeout_s)
        except client.ToolFailure as failure:
            call.ms = (time.perf_counter() - started) * 1000
            if failure.kind == "timeout":
                call.status = "timeout"
                call.result = f"The tool did not answer within {self.timeout_s:g} s and was stopped."
                yield _activity(call, f"timed out after {self.timeout_s:g} s")
                return
            call.status = "unavailable" if failure.kind in ("unreachable", "refused") else "error"
            call.result = f"The tool could not be run: {failure.message}"
            if failure.kind == "unreachable":
                _check_soon(server.name)  # reported like a provider that fails: checked, alerted once if down
            yield _activity(call, failure.message if call.status == "error" else f"{server.name} is unavailable")
            return
        call.ms = (time.perf_counter() - started) * 1000
        call.result = got.text
        call.status = "error" if got.is_error else "ok"
        yield _activity(call, _size(got.chars) if not got.is_error else _first_line(got.text))


def _activity(call: CallRecord, detail: str) -> ToolActivity:
    state = call.status if call.status != "running" else "running"
    seconds = None if state in ("running", "awaiting") or call.ms is None else call.ms / 1000
    return ToolActivity(call.id, call.server, call.tool, call.shown, state, seconds, detail)  # type: ignore[arg-type]


def _size(chars: int) -> str:
    return f"{chars:,} chars" if chars < 1000 else f"{chars / 1000:.1f}k chars"


def _first_line(text: str, limit: int = 120) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _read_secrets(here: Available) -> None:
    """Read the servers' auth header values, so core.logs knows them (reading a secret registers it) and a call's
    arguments are shown with them masked (core.tools.shown), even before this process has connected to a server."""
    for server in here.servers.values():
        if server.has_secret:
            servers.secret_of(server.name)


_background: set[asyncio.Task[Any]] = set()


def _soon(work: Any) -> None:
    task = asyncio.get_running_loop().create_task(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


def _check_soon(name: str) -> None:
    _soon(health.check(name))
