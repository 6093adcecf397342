"""The budget gate: one async context manager per model attempt (core.routing.budget.BudgetGate).

Entering admits the attempt: estimate, confirmation, rate limits (core/budgets/rates.py: counted, then settled to
the tokens used), reservation (or a refusal to show instead). While the block runs the reservation is renewed,
and a reply that outgrows it may grow it. Leaving the block always
closes it: settled with the usage the caller recorded (or, when the block was cut short by cancellation,
aclose() or a bug, with what was really used so far), else released.

Estimate = prompt tokens x input price + max output tokens x output price: the most a reply can cost. Local
models cost 0 and pass money budgets; token budgets still apply to them. A model whose price is unknown
cannot be estimated, so a hard money budget refuses it (it is never counted as free).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from core import alerts
from core.budgets import ledger, rates
from core.budgets.periods import describe_reset
from core.budgets.store import MICROS, BudgetView
from core.formatting import budget_amount, money
from core.models.registry import ModelInfo
from core.settings import get_settings
from core.types import BudgetRefusal, Choice, CostConfirmation, IncomingMessage, Reply, TurnResult

if TYPE_CHECKING:
    from core.config.scopes import Policy

log = logging.getLogger(__name__)


class Admission:
    """One attempt under the gate, and the context manager that holds its budget: entering admits it (holding
    reservations) or refuses it; leaving settles or releases what it holds, whatever ends the block."""

    def __init__(
        self,
        budgeter: Budgeter,
        model: ModelInfo,
        prompt_tokens: int,
        max_output: int,
        *,
        primary: bool,
        if_cut: Callable[[], TurnResult] | None = None,
    ) -> None:
        self.budgeter = budgeter
        self.model = model
        self.prompt_tokens, self.max_output, self.primary = prompt_tokens, max_output, primary
        self.if_cut = if_cut
        self.budgets: list[BudgetView] = []
        self.hold = ledger.Hold()
        self.rate_hold = rates.RateHold()
        self.refusal: Reply | None = None
        self.notice: str | None = None
        self.estimate_usd: float | None = None
        self.used: TurnResult | None = None
        self.closed = False
        self._renewal: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Admission:
        try:
            await self.budgeter._admit(self)
        except BaseException:  # e.g. cancelled after reserving: the block never runs, so give the hold back
            try:
                await self._release()
            except Exception:
                log.exception("could not release the budget of an attempt that did not start")
            raise
        if self.hold.items:
            self._renewal = asyncio.create_task(self._renew(get_settings().reservation_ttl_s))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None
        if self.closed:
            return
        if exc is None:  # the block finished: charge what it recorded; nothing recorded, nothing was used
            if self.used is not None:
                await self._settle(self.used)
            else:
                await self._release(sent=True)
            return
        # cut short (cancelled, the caller stopped reading, a bug): charge what was really used so far; the
        # exception goes on whatever happens here
        try:
            used = self.used if self.used is not None else self.if_cut() if self.if_cut is not None else None
        except Exception:
            log.exception("could not price an interrupted reply; its budget reservation is released")
            used = None
        try:
            if used is not None:
                await self._settle(used)
            else:
                await self._release()
        except Exception:
            log.exception("could not settle the budget of an interrupted reply")

    def record(self, used: TurnResult) -> None:
        self.used = used

    async def _renew(self, ttl: float) -> None:
        """Renew the reservations every third of their lifetime, so only a holder that died (and stopped
        renewing) ever loses its hold to expiry."""
        while True:
            await asyncio.sleep(ttl / 3)
            try:
                await asyncio.to_thread(ledger.extend, self.hold, ttl)
            except Exception:  # a database hiccup: try again next round, the reply goes on
                log.warning("could not renew a budget reservation", exc_info=True)

    async def grow(self, output_tokens: int) -> bool:
        """Hold `output_tokens` more of output for a reply that outgrew its reservation; False when a hard budget
        cannot cover them (the reply must stop). Nothing held: nothing to protect."""
        if self.closed or not self.hold.items:
            return True
        price = self.model.output_usd_per_mtok or 0.0
        extra = {
            b.id: output_tokens if b.metric == "tokens" else math.ceil(output_tokens * price) for b in self.budgets
        }
        return await asyncio.to_thread(ledger.grow, self.hold, extra, {b.id: b for b in self.budgets})

    async def _settle(self, result: TurnResult) -> None:
        """Charge what the attempt really cost (its tokens for token budgets)."""
        self.closed = True
        if self.rate_hold.items:
            await asyncio.to_thread(rates.settle, self.rate_hold, result.total_tokens)
        if not self.hold.items:
            return
        usd = result.cost_usd or 0.0
        actual = {b.id: (result.total_tokens if b.metric == "tokens" else round(usd * MICROS)) for b in self.budgets}
        states = await asyncio.to_thread(ledger.settle, self.hold, actual)
        by_id = {b.id: b for b in self.budgets}
        pairs = [(by_id[s.budget_id], s) for s in states if s.budget_id in by_id]
        await asyncio.to_thread(check_thresholds, pairs, get_settings().timezone)

    async def _release(self, *, sent: bool = False) -> None:
        """Give the budget back (nothing was used); `sent`: the request reached the model, so it stays counted
        against rate limits (its tokens do not)."""
        self.closed = True
        if self.rate_hold.items:
            if sent:
                await asyncio.to_thread(rates.settle, self.rate_hold, 0)
            else:
                await asyncio.to_thread(rates.release, self.rate_hold)
        if self.hold.items:
            await asyncio.to_thread(ledger.release, self.hold)


def estimate_usd(model: ModelInfo, prompt_tokens: int, max_output: int) -> float | None:
    if model.is_local:
        return 0.0
    if not model.price_known:
        return None
    return (prompt_tokens * (model.input_usd_per_mtok or 0) + max_output * (model.output_usd_per_mtok or 0)) / MICROS


def _units(budget: BudgetView, usd: float | None, tokens: int) -> int:
    if budget.metric == "tokens":
        return tokens
    return math.ceil((usd or 0.0) * MICROS)


def _amount_text(budget: BudgetView, units: int) -> str:
    return budget_amount(budget.metric, units)


# Alert keys this process already stored, per database: saves a statement per reply once a threshold is
# crossed. The database's unique key is what dedupes across processes.
_raised: set[tuple[str, str]] = set()


def _raise_once(budget: BudgetView, state: ledger.UsageState, what: str, text: str, severity: str) -> None:
    key = f"budget:{budget.id}:{state.period_start.isoformat()}:{what}"
    seen = (get_settings().effective_database_url, key)
    if seen in _raised:
        return
    _raised.add(seen)
    alerts.raise_alert("budget", key, text, severity=severity, budget_id=budget.id)


def _mode(budget: BudgetView, threshold: int) -> str:
    if not budget.hard:
        return "warn only: requests continue"
    return "requests that would go over are refused" if threshold >= 100 else "hard stop at 100%"


def _alert(budget: BudgetView, state: ledger.UsageState, threshold: int, tz: str) -> None:
    """Spend crossed `threshold` percent of the limit (100: the budget is used up)."""
    reached = "is used up" if threshold >= 100 else f"crossed {threshold}%"
    text = (
        f"The {budget.label} {reached}: {_amount_text(budget, state.spent)} of "
        f"{_amount_text(budget, budget.limit_units)} spent this period "
        f"(resets {describe_reset(state.period_end, tz)}; {_mode(budget, threshold)})."
    )
    _raise_once(budget, state, str(threshold), text, "critical" if threshold >= 100 else "warning")


def _refusing_alert(over: ledger.Exceeded, tz: str) -> None:
    """The budget began refusing replies it cannot cover, though spend may still be under the limit."""
    b, st = over.budget, over.state
    if st.spent >= b.limit_units:  # refused because it is used up: that is the 100% alert
        _alert(b, st, 100, tz)
        return
    in_flight = f" and {_amount_text(b, st.reserved)} held by replies being written" if st.reserved else ""
    text = (
        f"The {b.label} is refusing replies it cannot cover: {_amount_text(b, st.spent)} spent{in_flight} "
        f"of {_amount_text(b, b.limit_units)}, and a reply needed up to {_amount_text(b, over.amount)} "
        f"(resets {describe_reset(st.period_end, tz)})."
    )
    _raise_once(b, st, "refusing", text, "warning")


def check_thresholds(pairs: list[tuple[BudgetView, ledger.UsageState]], tz: str) -> None:
    for budget, state in pairs:
        pct = 100 * state.spent / budget.limit_units if budget.limit_units else 0
        for threshold in budget.thresholds:
            if pct >= threshold:
                _alert(budget, state, threshold, tz)


class Budgeter:
    """Budgets for one message's attempts (and `!compare`'s): `async with budgeter.attempt(...) as hold:`."""

    def __init__(
        self,
        budgets: list[BudgetView],
        msg: IncomingMessage,
        *,
        confirm_over_usd: float | None,
        confirmed: bool = False,
        local_models: Callable[[], list[str]] | None = None,
        message_key: str | None = None,
        rate_limits: Sequence[rates.RateLimitView] = (),
    ) -> None:
        self.budgets = budgets
        self.msg = msg
        # what reservations are filed under: the reply row's key, so a crashed reply's hold can be found again
        self.message_key = message_key or msg.event_id
        self.confirm_over_usd = confirm_over_usd
        self.confirmed = confirmed
        # free local models a refusal can point to, best first (asked only when a refusal is written)
        self.local_models = local_models or list
        self.rate_limits = rate_limits
        self._turn_counted = False  # a person's, channel's or workspace's limit counts the message once

    def _rate_asks(self, model: ModelInfo, tokens: int) -> list[tuple[rates.RateLimitView, int, int]]:
        """(limit, requests, tokens) this attempt counts: every attempt its tokens, and its request against its
        provider's limit; a message's first admitted attempt its one request against the other limits."""
        m = self.msg
        return [
            (lim, 0 if lim.per_turn and self._turn_counted else 1, tokens)
            for lim in self.rate_limits
            if lim.applies(workspace=m.workspace, channel=m.channel, user=m.user, provider=model.provider)
        ]

    def attempt(
        self,
        model: ModelInfo,
        prompt_tokens: int,
        max_output: int,
        *,
        primary: bool,
        if_cut: Callable[[], TurnResult] | None = None,
    ) -> Admission:
        """The budget of one attempt on `model`, as an async context manager (see Admission). `primary`: the
        thread's own model, which may ask to confirm; `if_cut`: what the attempt used so far, charged when the
        block ends by an exception before the caller recorded its usage."""
        return Admission(self, model, prompt_tokens, max_output, primary=primary, if_cut=if_cut)

    def _applicable(self, model: ModelInfo) -> list[BudgetView]:
        m = self.msg
        found = [
            b
            for b in self.budgets
            if b.applies(
                workspace=m.workspace, channel=m.channel, user=m.user, provider=model.provider, model=model.name
            )
        ]
        if model.is_local:  # free: money budgets never block local models
            found = [b for b in found if b.metric == "tokens"]
        return found

    async def _admit(self, adm: Admission) -> None:
        """Fill in the gate's answer: reservations held, or a refusal (or a question) to show instead."""
        model, prompt_tokens, max_output, primary = adm.model, adm.prompt_tokens, adm.max_output, adm.primary
        usd = adm.estimate_usd = estimate_usd(model, prompt_tokens, max_output)
        applicable = self._applicable(model)
        if usd is None and any(b.hard and b.metric == "usd" for b in applicable):
            budget = next(b for b in applicable if b.hard and b.metric == "usd")
            adm.refusal = Reply(
                f"{model.name} has no known price, so the {budget.label} can't be enforced for it and it is "
                f"refused. An admin can set its price with `switchboard models set {model.name} "
                "--input-usd-per-mtok X --output-usd-per-mtok Y`, or mark it free with `--free`." + self._alternative(),
                kind="refusal",
            )
            return
        tokens = prompt_tokens + max_output
        amounts = [(b, _units(b, usd, tokens)) for b in applicable]
        amounts = [(b, a) for b, a in amounts if a > 0]
        wants_confirmation = (
            primary
            and not self.confirmed
            and usd is not None
            and self.confirm_over_usd is not None
            and usd > self.confirm_over_usd
        )
        if wants_confirmation:
            # a reply the budget would refuse anyway: say so now rather than ask, then refuse
            over = await asyncio.to_thread(ledger.would_exceed, amounts, tz=get_settings().timezone)
            if over is not None:
                adm.refusal = self._exceeded(over)
                await asyncio.to_thread(_refusing_alert, over, get_settings().timezone)
                return
            assert usd is not None and self.confirm_over_usd is not None
            adm.refusal = Reply(
                f"This reply from {model.name} could cost up to {money(usd)} ({prompt_tokens:,} tokens in, up to "
                f"{max_output:,} out), above the {money(self.confirm_over_usd)} confirmation threshold. "
                "Send it anyway?",
                kind="confirm",
                data=CostConfirmation(model.name, usd),
                choices=(Choice("Confirm", "!confirm", "primary"), Choice("Cancel", "!cancel", "danger")),
            )
            return
        asks = self._rate_asks(model, tokens)
        if asks:  # after the question (a question is not a request), before the money is held
            try:
                adm.rate_hold = await asyncio.to_thread(rates.admit, asks)
            except rates.RateLimited as limited:
                adm.refusal = Reply(limited.text(self.msg.user), kind="refusal")
                return
        if not amounts:  # nothing applies (e.g. a local model under money budgets only)
            self._turn_counted = self._turn_counted or bool(adm.rate_hold.items)
            return
        s = get_settings()
        try:
            adm.hold = await asyncio.to_thread(
                ledger.reserve, amounts, tz=s.timezone, ttl_s=s.reservation_ttl_s, message_key=self.message_key
            )
        except ledger.Exceeded as over:
            await asyncio.to_thread(rates.release, adm.rate_hold)  # nothing will be sent
            adm.refusal = self._exceeded(over)
            await asyncio.to_thread(_refusing_alert, over, s.timezone)
            return
        self._turn_counted = self._turn_counted or bool(adm.rate_hold.items)
        adm.budgets = [b for b, _ in amounts]
        adm.notice = await asyncio.to_thread(self._warn_only_notice, amounts)

    def _warn_only_notice(self, amounts: list[tuple[BudgetView, int]]) -> str | None:
        warn = [(b, a) for b, a in amounts if not b.hard]
        if not warn:
            return None
        states = ledger.current([b for b, _ in warn], tz=get_settings().timezone)
        over = [b for b, a in warn if states[b.id].spent + states[b.id].reserved > b.limit_units]
        if not over:
            return None
        b = over[0]
        return (
            f"Heads-up: this goes over the {b.label} ({_amount_text(b, states[b.id].spent)} of "
            f"{_amount_text(b, b.limit_units)} spent). It is warn-only, so the reply continues."
        )

    def _alternative(self) -> str:
        local = self.local_models()
        if local:
            return f" Meanwhile you can switch this thread to a free local model: `!model {local[0]}`."
        return " Meanwhile, ask an admin, or pick a free local model with `!models local`."

    def _exceeded(self, over: ledger.Exceeded) -> Reply:
        b, st = over.budget, over.state
        in_flight = f" (+{_amount_text(b, st.reserved)} in replies still being written)" if st.reserved else ""
        reset = describe_reset(st.period_end, get_settings().timezone)
        return Reply(
            f"The {b.label} would go over: {_amount_text(b, st.spent)} spent{in_flight} of "
            f"{_amount_text(b, b.limit_units)}, and this reply could cost up to {_amount_text(b, over.amount)}. "
            f"It resets {reset}." + self._alternative(),
            kind="refusal",
            data=BudgetRefusal(b.id, st.spent, b.limit_units, reset),
        )


def budgeter_for(
    budgets: list[BudgetView],
    msg: IncomingMessage,
    model: ModelInfo,
    policy: Policy,
    *,
    confirmed: bool,
    local_models: Callable[[], list[str]] | None = None,
    message_key: str | None = None,
    rate_limits: Sequence[rates.RateLimitView] = (),
) -> Budgeter | None:
    """The budgeter for a turn under `policy` (its scope's, which the caller resolved), or None when no budget
    or confirmation can apply. `local_models`: free local models a refusal can suggest, best first."""
    confirm_over = policy.confirm_over_usd if policy.confirm_over_usd is not None else get_settings().confirm_over_usd
    if not budgets and not rate_limits and not (model.is_paid and confirm_over is not None):
        return None
    return Budgeter(
        budgets,
        msg,
        confirm_over_usd=confirm_over,
        confirmed=confirmed,
        local_models=local_models,
        message_key=message_key,
        rate_limits=rate_limits,
    )
