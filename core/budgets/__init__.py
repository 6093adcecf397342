"""Budgets: scopes and periods (store), atomic reserve/settle/release (ledger), rate limits a minute (rates), the
gate each model attempt runs inside (gate: `Budgeter.attempt`, the core.routing.budget.BudgetGate that core.chat
gives routing)."""

from __future__ import annotations

from core.budgets.gate import Admission, Budgeter, estimate_usd
from core.budgets.ledger import expire_stale
from core.budgets.store import BudgetView, add_budget, list_budgets, parse_scope, remove_budget, update_budget

__all__ = [
    "Admission",
    "BudgetView",
    "Budgeter",
    "add_budget",
    "estimate_usd",
    "expire_stale",
    "list_budgets",
    "parse_scope",
    "remove_budget",
    "update_budget",
]
