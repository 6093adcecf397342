"""Budgets: scopes and periods (store), atomic reserve/settle/release (ledger), the routing gate (gate)."""

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
