"""The Budgets & alerts page: adding, editing and removing budgets through its form (a refused form saves
nothing), each budget's spend against its limit for replies that went through the real chat core, where alerts
go, and the alert log with each alert's delivery state; and the Overview's spend against budgets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from bot.alerting import notifiers
from core.alerts import deliver_pending, raise_alert, recent_alerts
from core.budgets import BudgetView, add_budget, list_budgets, update_budget
from core.models.registry import set_model_overrides
from core.reports.analytics import usage_by
from core.settings import get_settings
from core.snapshot import invalidate
from core.types import TurnResult
from tests.adminkit import AdminApp
from tests.chatkit import CLOUD_KEY, Thread, make_world
from tests.fakes.openai import FakeOpenAI, Reply
from tests.fakes.slack import FakeSlack
from tests.test_admin_browse import turn

NEW = "+ New…"


def seen(text: str) -> str:
    """Text as the admin reads it (Markdown shows `\\$` as `$`)."""
    return text.replace("\\$", "$")


def shown_table(admin: AdminApp, column: str) -> pd.DataFrame:
    """The first table (interactive or static) with `column`."""
    for frame in [*admin.at.dataframe, *admin.at.table]:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a {column!r} column")


def budget_rows(admin: AdminApp) -> list[dict[str, object]]:
    """The budget table, as the admin reads it."""
    return [r for r in shown_table(admin, "in flight").to_dict("records")] if has_table(admin, "in flight") else []


def has_table(admin: AdminApp, column: str) -> bool:
    return any(column in f.value.columns for f in [*admin.at.dataframe, *admin.at.table])


def stored() -> list[tuple[str, str, str, float, bool, tuple[int, ...], bool]]:
    return [(b.scope, b.period, b.metric, b.limit, b.hard, b.thresholds, b.enabled) for b in list_budgets()]


def add_through_form(
    admin: AdminApp,
    kind: str,
    value: str,
    limit: float | None,
    *,
    period: str = "month",
    metric: str = "usd",
    hard: bool = True,
    thresholds: str = "50, 80, 100",
) -> AdminApp:
    admin.choose("Budget to edit", NEW).run()
    admin.choose("Scope", kind).fill("Scope id or name", value).choose("Period", period).choose("Measure", metric)
    admin.number("Limit", limit).choose("When the limit is reached", hard).fill("Alert at (% of the limit)", thresholds)
    return admin.submit("Add budget")


# ---------------------------------------------------------------- the form


def test_adding_a_budget_through_the_form_stores_it() -> None:
    admin = AdminApp.signed_in().open("budgets")
    assert admin.titles == ["Budgets & alerts"]
    assert "No budgets yet: nothing limits spend." in admin.infos[0]

    add_through_form(admin, "workspace", " T123 ", 50)
    assert [seen(s) for s in admin.successes] == [
        "Added the monthly budget for workspace T123: $50.00 per month, hard stop, alerts at 50%, 80%, 100%."
    ]
    assert stored() == [("workspace:T123", "month", "usd", 50.0, True, (50, 80, 100), True)]
    (row,) = budget_rows(admin)
    assert (row["budget"], row["spent"], row["in flight"], row["limit"], row["used"]) == (
        "Monthly budget for workspace T123",
        "$0",
        "–",
        "$50.00",
        0.0,
    )
    assert (row["period"], row["mode"], row["alerts at"], row["state"]) == (
        "month",
        "hard stop",
        "50%, 80%, 100%",
        "on",
    )
    assert str(row["resets"]).startswith("20")

    add_through_form(admin, "user", "U42", 2_000_000, period="day", metric="tokens", hard=False, thresholds="90")
    assert stored()[1] == ("user:U42", "day", "tokens", 2_000_000.0, False, (90,), True)
    row = budget_rows(admin)[1]
    assert (row["budget"], row["spent"], row["limit"], row["period"], row["mode"]) == (
        "Daily token budget for user U42",
        "0 tokens",
        "2,000,000 tokens",
        "day",
        "warn only",
    )


@pytest.mark.parametrize(
    ("kind", "value", "limit", "thresholds", "error"),
    [
        ("global", "", -5, "50", "The limit must be a positive amount, not -5."),
        ("global", "", 0, "50", "A limit of 0 would block every paid request."),
        ("global", "", None, "50", "Enter a limit: dollars, or tokens for a token budget."),
        ("workspace", "  ", 5, "50", "Enter the workspace id this budget applies to."),
        ("provider", "nope", 5, "50", "There is no provider named 'nope' (providers: none yet)."),
        ("model", "gpt-9", 5, "50", "No model named 'gpt-9'."),
        ("global", "T1", 5, "50", "A global budget covers everything"),
        ("global", "", 5, "50, 150", "Alert thresholds are distinct percentages from 1 to 100"),
        ("global", "", 5, "half", "Alert thresholds are whole percentages separated by commas"),
    ],
)
def test_invalid_input_shows_the_error_and_saves_nothing(
    kind: str, value: str, limit: float | None, thresholds: str, error: str
) -> None:
    admin = AdminApp.signed_in().open("budgets")
    add_through_form(admin, kind, value, limit, thresholds=thresholds)
    (shown,) = admin.errors
    assert error in shown
    assert admin.successes == [] and list_budgets() == []


def test_a_duplicate_budget_is_refused_and_the_first_kept() -> None:
    admin = AdminApp.signed_in().open("budgets")
    add_through_form(admin, "user", "U1", 5, period="day")
    add_through_form(admin, "user", "U1", 9, period="day")
    assert admin.errors == ["There is already a day usd budget for user:U1: change or remove it instead."]
    assert stored() == [("user:U1", "day", "usd", 5.0, True, (50, 80, 100), True)]


def test_editing_and_removing_a_budget() -> None:
    budget = add_budget("workspace:T1", "week", 10, thresholds=[50, 100])
    admin = AdminApp.signed_in().open("budgets")
    admin.choose("Budget to edit", f"#{budget.id} weekly budget for workspace T1").run()
    assert admin.button("Save budget") is not None

    admin.number("Limit", 0).submit("Save budget")
    assert admin.errors and "A limit of 0 would block every paid request" in admin.errors[0]
    admin.number("Limit", 25).fill("Alert at (% of the limit)", "80, 0").submit("Save budget")
    assert admin.errors == ["Alert thresholds are distinct percentages from 1 to 100, e.g. 50,80,100."]
    assert stored() == [("workspace:T1", "week", "usd", 10.0, True, (50, 100), True)]  # nothing half-saved

    admin.number("Limit", 25).fill("Alert at (% of the limit)", "75").choose("When the limit is reached", False)
    admin.tick("Enabled", False).submit("Save budget")
    assert [seen(s) for s in admin.successes] == [
        "Saved the weekly budget for workspace T1: $25.00 per week, warn only, alerts at 75%."
    ]
    assert stored() == [("workspace:T1", "week", "usd", 25.0, False, (75,), False)]
    (row,) = budget_rows(admin)
    assert (row["state"], row["limit"], row["mode"]) == ("off", "$25.00", "warn only")

    admin.choose("Budget to edit", f"#{budget.id} weekly budget for workspace T1").run()
    assert admin.button("Delete").disabled  # not before the confirmation
    admin.tick("Yes, delete the weekly budget for workspace T1").run()
    admin.click("Delete")
    assert admin.successes == ["Removed the weekly budget for workspace T1."]
    assert list_budgets() == [] and budget_rows(admin) == []


# ---------------------------------------------------------------- spend against limits


@pytest.fixture
def clouds(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeOpenAI, FakeOpenAI]]:
    """A paid cloud (`oa/gpt-4o` at $0.001 a token) and a free local server, reached through the real core."""
    monkeypatch.setenv("SWITCHBOARD_MAX_OUTPUT_TOKENS", "100")
    monkeypatch.setenv("SWITCHBOARD_CONFIRM_OVER_USD", "1000")
    get_settings.cache_clear()
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        cloud.set_default(Reply(text="one two three four five"), model="gpt-4o")
        yield cloud, local


def chat(clouds: tuple[FakeOpenAI, FakeOpenAI], *messages: tuple[Thread, str]) -> None:
    """Users talk to the bot (one event loop for the whole conversation, as a bot process has)."""

    async def talk() -> None:
        await make_world(*clouds)
        set_model_overrides("oa/gpt-4o", input_usd_per_mtok=1000, output_usd_per_mtok=1000)
        invalidate()
        for thread, text in messages:
            said = await thread.say(text)
            assert said.done is None or said.done.result.status == "ok", said.text

    asyncio.run(talk())


@pytest.fixture
def spent(clouds: tuple[FakeOpenAI, FakeOpenAI]) -> dict[str, BudgetView]:
    """Three budgets, then U1 talks: two replies from the paid model, one from the free local one."""
    budgets = {
        "daily": add_budget("global", "day", 0.5, thresholds=[4, 50]),
        "tokens": add_budget("user:U1", "month", 1000, metric="tokens", hard=False),
        "elsewhere": add_budget("workspace:elsewhere", "total", 3),
    }
    paid = Thread()
    chat(clouds, (paid, "!model gpt-4o"), (paid, "hello"), (paid, "and again"), (Thread(thread="T-2"), "hi local"))
    return budgets


def tomorrow() -> str:
    return f"{datetime.now(UTC).date() + timedelta(days=1)} 00:00 UTC"


def test_bars_show_what_replies_spent_against_each_limit(spent: dict[str, BudgetView]) -> None:
    by_model = {r.key: r for r in usage_by("model")}
    assert by_model["oa/gpt-4o"].cost_usd == pytest.approx(0.022)  # 22 tokens at $0.001
    assert next(r.tokens for r in usage_by("user") if r.key == "U1") == 27  # paid and local replies

    admin = AdminApp.signed_in().open("budgets")
    rows = [(r["budget"], r["spent"], r["limit"], r["used"], r["mode"], r["resets"]) for r in budget_rows(admin)]
    assert rows == [
        ("Daily budget for everything", "$0.022", "$0.50", 4.4, "hard stop", tomorrow()),
        (
            "Monthly token budget for user U1",
            "27 tokens",
            "1,000 tokens",
            2.7,
            "warn only",
            f"{datetime.now(UTC).date().replace(day=1) + timedelta(days=32):%Y-%m}-01 00:00 UTC",
        ),
        ("Total budget for workspace elsewhere", "$0", "$3.00", 0.0, "hard stop", "never (a total budget)"),
    ]
    (alert,) = shown_table(admin, "delivery").to_dict("records")  # the 4% threshold, crossed by the second reply
    assert (alert["kind"], alert["severity"]) == ("budget", "warning")
    assert alert["alert"].startswith("The daily budget for everything crossed 4%: $0.022 of $0.50 spent this period")
    assert alert["delivery"] == "not sent: no destination set up" and alert["delivered to"] == ""
    assert "No alert destination is set up: alerts are only shown here." in admin.warnings


def test_overview_shows_spend_today_and_this_month_against_budgets(spent: dict[str, BudgetView]) -> None:
    update_budget(spent["elsewhere"].id, enabled=False)
    turn(("slack", "W1", "C1", "T-9"), "hi", TurnResult("oa/mystery", "oa", "ok", "x", prompt_tokens=3, cost_usd=None))
    admin = AdminApp.signed_in()
    assert admin.at.subheader[0].value == "Spend"  # the first section
    assert (admin.metric("Spent today"), admin.metric("Spent this month")) == ("$0.022", "$0.022")
    assert (admin.metric("Tokens today"), admin.metric("Tokens this month")) == ("30", "30")
    assert admin.warnings == [
        "Plus 1 reply of unknown price this month (1 today): not counted above, and not free. "
        "Set their price on the Models page."
    ]
    assert [(r["budget"], r["spent"], r["limit"]) for r in budget_rows(admin)] == [
        ("Daily budget for everything", "$0.022", "$0.50"),
        ("Monthly token budget for user U1", "27 tokens", "1,000 tokens"),
    ]  # enabled budgets only


# ---------------------------------------------------------------- alerts


def test_alert_destinations_and_the_log_with_delivered_and_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSlack() as slack:
        monkeypatch.setenv("SWITCHBOARD_ALERT_SLACK_CHANNEL", "C-ALERTS")
        monkeypatch.setenv("SWITCHBOARD_ALERT_DISCORD_CHANNEL", "998877")  # but no Discord bot token
        monkeypatch.setenv("SLACK_BOT_TOKEN", slack.workspace().token)
        monkeypatch.setenv("SLACK_API_URL", slack.api_url)
        get_settings.cache_clear()
        failing = "Provider 'oa' is failing: rejected the API key (401)."
        raise_alert("health", "health:oa:1", failing, severity="critical")
        raise_alert("budget", "budget:1:p:80", "The monthly budget for everything crossed 80%: $8.00 of $10.00 spent.")
        slack.fail_next("chat.postMessage", error="channel_not_found")  # the first alert's delivery fails
        report = asyncio.run(deliver_pending(notifiers(get_settings())))  # what the scheduler's job runs
        assert (report.delivered, report.failed) == (1, 1)

    admin = AdminApp.signed_in().open("budgets")
    where = admin.table_with("platform").set_index("platform")
    assert where.loc["Slack"].tolist() == ["C-ALERTS", ".env (SWITCHBOARD_ALERT_SLACK_CHANNEL)", "alerts are sent here"]
    assert where.loc["Discord"].tolist() == [
        "998877",
        ".env (SWITCHBOARD_ALERT_DISCORD_CHANNEL)",
        "not sent: DISCORD_BOT_TOKEN is missing",
    ]
    assert slack.workspace().token not in admin.text()  # the token is never shown
    assert not any("No alert destination" in w for w in admin.warnings)

    log = shown_table(admin, "delivery")
    assert log["kind"].tolist() == ["budget", "health"]  # newest first
    budget, health = log.to_dict("records")
    assert budget["delivery"] == "delivered" and budget["delivered to"].startswith("slack:C-ALERTS at 20")
    assert budget["severity"] == "warning" and budget["last error"] == ""
    assert health["delivery"] == "pending: 1 failed attempt, retrying" and health["delivered to"] == ""
    assert health["severity"] == "critical" and "channel_not_found" in health["last error"]
    assert "The last 2 alerts, newest first; 1 not delivered everywhere yet." in admin.text()
    delivered = {a.text: a.delivered_at is not None for a in recent_alerts()}
    assert delivered == {budget["alert"]: True, health["alert"]: False}

    admin.choose("Kind", "health").run()
    assert shown_table(admin, "delivery")["alert"].tolist() == [failing]
    admin.choose("Kind", "platform").run()
    assert "No platform alerts." in admin.text()
