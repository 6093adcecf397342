"""Budgets: scopes, periods, limits and thresholds. This module owns the Budget table."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from core.budgets.periods import PERIODS
from core.config.version import bump_config_version
from core.errors import UserError
from core.storage.db import session
from core.storage.tables import Budget, BudgetReservation, BudgetUsage

SCOPE_KINDS = ("global", "workspace", "channel", "user", "provider", "model")
METRICS = ("usd", "tokens")
MICROS = 1_000_000


@dataclass(frozen=True)
class BudgetView:
    id: int
    scope_kind: str
    scope_value: str
    period: str
    metric: str
    limit_units: int  # micro-dollars (usd) or tokens
    hard: bool
    thresholds: tuple[int, ...]
    enabled: bool

    @property
    def limit(self) -> float:
        """The limit in USD (usd budgets) or tokens."""
        return self.limit_units / MICROS if self.metric == "usd" else float(self.limit_units)

    @property
    def scope(self) -> str:
        return "global" if self.scope_kind == "global" else f"{self.scope_kind}:{self.scope_value}"

    @property
    def label(self) -> str:
        period = {"day": "daily", "week": "weekly", "month": "monthly", "total": "total"}[self.period]
        what = "token budget" if self.metric == "tokens" else "budget"
        where = "everything" if self.scope_kind == "global" else f"{self.scope_kind} {self.scope_value}"
        return f"{period} {what} for {where}"

    def applies(self, *, workspace: str, channel: str, user: str, provider: str, model: str) -> bool:
        if not self.enabled:
            return False
        value = {
            "global": "",
            "workspace": workspace,
            "channel": channel,
            "user": user,
            "provider": provider,
            "model": model,
        }[self.scope_kind]
        return self.scope_value == value


def _view(b: Budget) -> BudgetView:
    return BudgetView(
        b.id or 0,
        b.scope_kind,
        b.scope_value,
        b.period,
        b.metric,
        b.limit_micros,
        b.hard,
        tuple(sorted(b.thresholds or [])),
        b.enabled,
    )


SCOPE_VALUES = {"workspace": "ID", "channel": "ID", "user": "ID", "provider": "NAME", "model": "NAME", "preset": "NAME"}


def parse_scope(scope: str, kinds: tuple[str, ...] = SCOPE_KINDS) -> tuple[str, str]:
    """'global', 'workspace:T123', 'channel:C1', 'user:U1', 'provider:openai', 'model:openai/gpt-4o', of `kinds`
    (budgets take them all; rate limits no model)."""
    scope = (scope or "").strip()
    if scope == "global":
        return "global", ""
    kind, sep, value = scope.partition(":")
    if kind not in kinds or kind == "global" or not sep or not value.strip():
        named = ", ".join(f"{k}:{SCOPE_VALUES[k]}" for k in kinds if k != "global")
        raise UserError(f"Unknown scope '{scope}'. Use global, or one of {named}.")
    return kind, value.strip()


def _validate(limit: float, period: str, metric: str, thresholds: list[int]) -> int:
    if period not in PERIODS:
        raise UserError(f"Unknown period '{period}': use one of {', '.join(PERIODS)}.")
    if metric not in METRICS:
        raise UserError("The metric is usd or tokens.")
    if limit != limit or limit < 0:
        raise UserError(f"The limit must be a positive amount, not {limit:g}.")
    if limit == 0:
        raise UserError(
            "A limit of 0 would block every paid request. To forbid paid models use a local-only policy "
            "(`switchboard defaults set --local-only`); to pause a budget, disable or remove it."
        )
    if any(t < 1 or t > 100 for t in thresholds) or len(set(thresholds)) != len(thresholds):
        raise UserError("Alert thresholds are distinct percentages from 1 to 100, e.g. 50,80,100.")
    units = round(limit * MICROS) if metric == "usd" else round(limit)
    if units < 1:
        raise UserError("The limit is too small.")
    return int(units)


def add_budget(
    scope: str,
    period: str,
    limit: float,
    *,
    hard: bool = True,
    thresholds: list[int] | None = None,
    metric: str = "usd",
) -> BudgetView:
    """Validate, then create a budget. Nothing is written when anything is wrong."""
    kind, value = parse_scope(scope)
    marks = sorted(thresholds) if thresholds is not None else [50, 80, 100]
    units = _validate(limit, period, metric, marks)
    row = Budget(
        scope_kind=kind,
        scope_value=value,
        period=period,
        metric=metric,
        limit_micros=units,
        hard=hard,
        thresholds=marks,
    )
    try:
        with session(write=True) as s:
            s.add(row)
            bump_config_version(s)
    except IntegrityError:
        raise UserError(
            f"There is already a {period} {metric} budget for {scope}: change or remove it instead."
        ) from None
    return _view(row)


def update_budget(
    budget_id: int,
    *,
    limit: float | None = None,
    hard: bool | None = None,
    thresholds: list[int] | None = None,
    enabled: bool | None = None,
) -> BudgetView:
    with session(write=True) as s:
        row = s.get(Budget, budget_id)
        if row is None:
            raise UserError(f"No budget with id {budget_id}.")
        marks = sorted(thresholds) if thresholds is not None else list(row.thresholds or [])
        units = _validate(limit if limit is not None else _view(row).limit, row.period, row.metric, marks)
        row.limit_micros, row.thresholds = units, marks
        if hard is not None:
            row.hard = hard
        if enabled is not None:
            row.enabled = enabled
        s.add(row)
        bump_config_version(s)
        return _view(row)


def remove_budget(budget_id: int) -> None:
    """Remove a budget with its usage history and reservations."""
    with session(write=True) as s:
        row = s.get(Budget, budget_id)
        if row is None:
            raise UserError(f"No budget with id {budget_id}.")
        usage_ids = list(s.exec(select(BudgetUsage.id).where(BudgetUsage.budget_id == budget_id)).all())
        for r in s.exec(select(BudgetReservation).where(col(BudgetReservation.usage_id).in_(usage_ids))).all():
            s.delete(r)
        for u in s.exec(select(BudgetUsage).where(BudgetUsage.budget_id == budget_id)).all():
            s.delete(u)
        s.flush()
        s.delete(row)
        bump_config_version(s)


def list_budgets() -> list[BudgetView]:
    with session() as s:
        return [_view(b) for b in s.exec(select(Budget).order_by(col(Budget.id))).all()]
