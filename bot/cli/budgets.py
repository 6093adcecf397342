"""`switchboard budgets add|list|remove` and `switchboard usage`."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from bot.cli.output import command, emit_json, fail, table
from core.formatting import budget_amount, money, tokens

app = typer.Typer(help="Spending limits per scope and period, with alerts.", no_args_is_help=True)


@app.command("add")
@command
def add(
    scope: Annotated[
        str, typer.Option("--scope", help="global | workspace:ID | channel:ID | user:ID | provider:NAME | model:NAME")
    ],
    period: Annotated[str, typer.Option("--period", help="day | week | month | total")],
    limit: Annotated[float, typer.Option("--limit", help="USD (or tokens with --tokens).")],
    hard: Annotated[bool, typer.Option("--hard/--warn", help="Refuse over the limit, or only warn.")] = True,
    thresholds: Annotated[str, typer.Option("--thresholds", help="Alert at these percentages.")] = "50,80,100",
    tokens: Annotated[bool, typer.Option("--tokens", help="Limit tokens instead of USD.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add a budget, e.g. `--scope workspace:T123 --period month --limit 50 --hard`."""
    from core.budgets import add_budget

    try:
        marks = [int(t) for t in thresholds.split(",") if t.strip()]
    except ValueError:
        fail(f"--thresholds must be whole percentages like 50,80,100, not {thresholds!r}.")
    view = add_budget(scope, period, limit, hard=hard, thresholds=marks, metric="tokens" if tokens else "usd")
    if as_json:
        emit_json(view)
    else:
        typer.echo(
            f"Added budget {view.id}: {view.label}, limit {budget_amount(view.metric, view.limit_units)}, "
            f"{'hard stop' if view.hard else 'warn only'}, alerts at {', '.join(map(str, view.thresholds))}%."
        )


@app.command("list")
@command
def list_(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List budgets with this period's spend against the limit and when it resets."""
    from core.budgets import ledger
    from core.budgets.periods import describe_reset
    from core.budgets.store import list_budgets
    from core.settings import get_settings

    tz = get_settings().timezone
    budgets = list_budgets()
    states = ledger.current([b for b in budgets], tz=tz)
    rows = []
    for b in budgets:
        st = states[b.id]
        rows.append(
            {
                "id": b.id,
                "scope": b.scope,
                "period": b.period,
                "metric": b.metric,
                "limit": b.limit,
                "hard": b.hard,
                "thresholds": list(b.thresholds),
                "enabled": b.enabled,
                "spent": st.spent / 1_000_000 if b.metric == "usd" else st.spent,
                "reserved": st.reserved / 1_000_000 if b.metric == "usd" else st.reserved,
                "percent": round(100 * st.spent / b.limit_units, 1),
                "resets": describe_reset(st.period_end, tz),
            }
        )
    if as_json:
        emit_json(rows)
        return
    if not rows:
        typer.echo("No budgets yet. Add one: switchboard budgets add --scope global --period month --limit 100")
        return
    table(
        [
            (
                r["id"],
                r["scope"],
                r["period"],
                f"{budget_amount(b.metric, states[b.id].spent)} / {budget_amount(b.metric, b.limit_units)}",
                f"{r['percent']}%",
                "hard" if r["hard"] else "warn",
                r["resets"],
            )
            for r, b in zip(rows, budgets, strict=True)
        ],
        ["ID", "SCOPE", "PERIOD", "SPENT / LIMIT", "USED", "MODE", "RESETS"],
    )


@app.command("remove")
@command
def remove(budget_id: Annotated[int, typer.Argument(help="The budget's id (see `budgets list`).")]) -> None:
    """Remove a budget and its usage history."""
    from core.budgets import remove_budget

    remove_budget(budget_id)
    typer.echo(f"Removed budget {budget_id}.")


def _date(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date like 2026-11-01 (or an ISO time), not {value!r}.")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@command
def usage(
    since: Annotated[str | None, typer.Option("--since", help="From this date (ISO).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Before this date (ISO).")] = None,
    group_by: Annotated[str, typer.Option("--group-by", help="model|provider|workspace|channel|user|day")] = "model",
    top_threads: Annotated[int, typer.Option("--top-threads", help="Also list the N costliest threads.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Spend and tokens, grouped; replies of unknown price are counted separately, never as free."""
    from core.reports.analytics import usage_by
    from core.reports.spend import costliest_threads

    first, last = _date(since, "--since"), _date(until, "--until")
    rows = usage_by(group_by, since=first, until=last)
    threads = costliest_threads(first, last, limit=top_threads) if top_threads else []
    fields = ["key", "replies", "prompt_tokens", "completion_tokens", "cost_usd", "unknown_cost"]
    if as_json:
        emit_json({"group_by": group_by, "rows": rows, "top_threads": threads} if top_threads else rows)
    elif as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow([group_by, *fields[1:]])
        for r in rows:
            writer.writerow(
                [r.key, r.replies, r.prompt_tokens, r.completion_tokens, f"{r.cost_usd:.6f}", r.unknown_cost]
            )
    else:
        table(
            [(r.key, r.replies, f"{r.tokens:,}", money(r.cost_usd), r.unknown_cost or "") for r in rows],
            [group_by.upper(), "REPLIES", "TOKENS", "COST", "UNKNOWN-PRICE REPLIES"],
        )
        for t in threads:
            typer.echo(
                f"  {t.platform}/{t.workspace}/{t.channel}/{t.thread}: {money(t.cost_usd)}, {tokens(t.tokens)}, "
                f"{t.replies} replies — {t.title[:60]}"
            )
