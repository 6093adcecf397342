"""The Usage page's tables for a range of local days, built from core analytics: what the page shows and charts,
and the CSV it offers (one function each, so tests read the very CSV an admin downloads).

A cost is None (a blank cell, never $0) when every costed reply in the row has an unknown price; the
`unknown-price replies` column counts them in every row. Tokens and cost count every model call, a reply's tool
rounds included; where replies in the range used tools, `tool rounds` and `tool time (s)` say how much."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from core.reports.analytics import UsageRow, usage_by
from core.reports.spend import costliest_threads, day_range

COST = "cost (USD)"
UNKNOWN = "unknown-price replies"
TOOL_ROUNDS = "tool rounds"
TOOL_TIME = "tool time (s)"


def with_tools(table: pd.DataFrame, rows: list[UsageRow]) -> pd.DataFrame:
    """The table with tool rounds and tool time per row, when any reply in it used tools (else unchanged)."""
    if not any(r.tool_rounds for r in rows):
        return table
    table[TOOL_ROUNDS] = [r.tool_rounds for r in rows]
    table[TOOL_TIME] = [round(r.tool_ms / 1000, 1) for r in rows]
    return table


def cost(known_usd: float, unknown: int) -> float | None:
    return None if unknown and not known_usd else round(known_usd, 6)


def daily_table(first: date, last: date) -> pd.DataFrame:
    """One row per day from `first` to `last`, days without replies included (as zero)."""
    since, until = day_range(first, last)
    by_day = {r.key: r for r in usage_by("day", since=since, until=until)}
    rows, found = [], []
    for i in range((last - first).days + 1):
        day = (first + timedelta(days=i)).isoformat()
        r = by_day.get(day, UsageRow(day, 0, 0, 0, 0.0, 0))
        found.append(r)
        rows.append(
            {
                "day": day,
                "replies": r.replies,
                "prompt tokens": r.prompt_tokens,
                "completion tokens": r.completion_tokens,
                COST: round(r.cost_usd, 6),
                UNKNOWN: r.unknown_cost,
            }
        )
    return with_tools(pd.DataFrame(rows), found)


def breakdown_table(group: str, first: date, last: date) -> pd.DataFrame:
    """Replies, tokens and cost per model, provider, workspace, channel or user (costliest first)."""
    since, until = day_range(first, last)
    found = usage_by(group, since=since, until=until)
    table = pd.DataFrame(
        [
            {
                group: r.key,
                "replies": r.replies,
                "prompt tokens": r.prompt_tokens,
                "completion tokens": r.completion_tokens,
                "tokens": r.tokens,
                COST: cost(r.cost_usd, r.unknown_cost),
                UNKNOWN: r.unknown_cost,
            }
            for r in found
        ],
        columns=[group, "replies", "prompt tokens", "completion tokens", "tokens", COST, UNKNOWN],
    )
    return with_tools(table, found)


def threads_table(first: date, last: date, limit: int = 10) -> pd.DataFrame:
    since, until = day_range(first, last)
    return pd.DataFrame(
        [
            {
                "thread": t.title or t.thread,
                "where": f"{t.platform} {t.workspace}/{t.channel}",
                "replies": t.replies,
                "tokens": t.tokens,
                COST: cost(t.cost_usd, t.unknown_cost),
                UNKNOWN: t.unknown_cost,
            }
            for t in costliest_threads(since, until, limit=limit)
        ],
        columns=["thread", "where", "replies", "tokens", COST, UNKNOWN],
    )


def unknown_price_models(first: date, last: date) -> list[UsageRow]:
    """The models that wrote replies of unknown price in the range."""
    since, until = day_range(first, last)
    return [r for r in usage_by("model", since=since, until=until) if r.unknown_cost]


def csv_text(table: pd.DataFrame) -> str:
    """A shown table as the CSV the admin downloads (an unknown cost stays an empty cell)."""
    return str(table.to_csv(index=False))
