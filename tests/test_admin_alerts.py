"""Alerts an admin acts on, and where alerts go: acknowledging and resolving stored with who and when (SQLite and
PostgreSQL), alerts of removed providers closed, alert destinations set in the database over the .env defaults,
the admin's test alert sent through the scheduler's notifiers to the fake Slack and Discord, the per-request log
and the daily spend read back with their filters."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.alerting import notifiers
from core.alerts import (
    acknowledge_alert,
    alert_routes,
    count_open_alerts,
    get_alert,
    raise_alert,
    recent_alerts,
    resolve_alert,
    resolve_alerts_of_missing_providers,
    set_alert_destination,
    stored_destinations,
)
from core.errors import UserError
from core.reports.performance import MAX_LOG_ROWS, logged_models, request_log
from core.reports.spend import daily_spend
from core.settings import get_settings
from core.storage.tables import utcnow
from core.types import TurnResult
from tests.adminkit import AdminApp
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.test_admin_browse import turn


def test_acknowledge_and_resolve_are_stored_with_who_and_when(any_db: str) -> None:
    raise_alert("budget", "b:1", "Budget crossed 80%")
    raise_alert("health", "h:1", "Provider 'oa' is failing", provider="oa")
    budget, health = sorted(recent_alerts(), key=lambda a: a.id)
    before = utcnow()

    seen = acknowledge_alert(budget.id, "admin:ann")
    assert seen.acknowledged and seen.acknowledged_by == "admin:ann" and seen.open
    assert seen.acknowledged_at is not None and seen.acknowledged_at >= before - timedelta(seconds=1)
    assert acknowledge_alert(budget.id, "admin:bob").acknowledged_by == "admin:ann"  # the first one is kept

    closed = resolve_alert(health.id, "admin:bob", "  Rotated the key  ")
    assert not closed.open and closed.resolved_by == "admin:bob" and closed.resolution == "Rotated the key"
    assert closed.acknowledged_by == "admin:bob"  # resolving means it was seen
    assert resolve_alert(health.id, "admin:ann", "again").resolved_by == "admin:bob"  # closed once
    assert resolve_alert(budget.id, "admin:ann").resolution == "resolved"

    assert count_open_alerts() == 0 and recent_alerts(open_only=True) == []
    with pytest.raises(UserError, match="There is no alert #999"):
        acknowledge_alert(999, "admin:ann")


def test_alerts_of_providers_that_are_gone_are_closed(any_db: str) -> None:
    raise_alert("health", "h:gone", "Provider 'gone' is failing", provider="gone")
    raise_alert("health", "h:oa", "Provider 'oa' is failing", provider="oa")
    raise_alert("budget", "b:1", "Budget crossed 50%")  # about no provider: stays
    assert resolve_alerts_of_missing_providers({"oa"}) == 1
    still = {a.text for a in recent_alerts(open_only=True)}
    assert still == {"Provider 'oa' is failing", "Budget crossed 50%"}
    (gone,) = [a for a in recent_alerts() if not a.open]
    assert gone.resolution == "its provider was removed" and gone.resolved_by is None  # Switchboard closed it
    assert resolve_alerts_of_missing_providers(set()) == 1  # no providers at all: every provider alert closes


def test_destinations_come_from_the_database_over_the_env_default(any_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_ALERT_SLACK_CHANNEL", "C-ENV")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    get_settings.cache_clear()

    def routes() -> dict[str, tuple[str, str, bool]]:
        return {r.platform: (r.channel, r.source, r.active) for r in alert_routes(get_settings())}

    assert routes() == {"Slack": ("C-ENV", "env", True), "Discord": ("", "env", False)}
    set_alert_destination("Slack", " C-ADMIN ")
    set_alert_destination("Discord", "123456")
    assert stored_destinations() == {"Slack": "C-ADMIN", "Discord": "123456"}
    assert routes() == {"Slack": ("C-ADMIN", "admin", True), "Discord": ("123456", "admin", False)}  # no token
    set_alert_destination("Slack", "")  # turned off in the admin, though .env names one
    assert routes()["Slack"] == ("", "admin", False)
    assert next(r for r in alert_routes(get_settings()) if r.platform == "Slack").status.startswith("off")
    set_alert_destination("Slack", None)  # back to the .env default
    assert routes()["Slack"] == ("C-ENV", "env", True)
    with pytest.raises(UserError, match="not a Slack channel id"):
        set_alert_destination("Slack", "general chat")
    with pytest.raises(UserError, match="not 'Teams'"):
        set_alert_destination("Teams", "x")


def test_the_test_alert_reaches_slack_and_discord_through_the_scheduler_path(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeSlack() as slack, FakeDiscord() as discord:
        monkeypatch.setenv("SLACK_BOT_TOKEN", slack.workspace().token)
        monkeypatch.setenv("SLACK_API_URL", slack.api_url)
        monkeypatch.setenv("DISCORD_BOT_TOKEN", discord.token)
        monkeypatch.setenv("DISCORD_API_BASE", discord.api_base)
        get_settings.cache_clear()
        channel = str(discord.channel["id"])
        admin = AdminApp.signed_in().open("budgets")
        assert admin.button("Send a test alert").disabled  # nowhere to send yet
        admin.fill("Slack channel", "C-OPS").click("Save")
        admin.fill("Discord channel", channel)
        admin._widget("button", "Save", 1).click()  # the Discord form's
        admin.run()
        assert stored_destinations() == {"Slack": "C-OPS", "Discord": channel}
        assert len(notifiers(get_settings())) == 2  # what the scheduler will send to
        admin.click("Send a test alert")
        assert sorted(admin.successes) == sorted(
            ["Test alert sent to slack:C-OPS.", f"Test alert sent to discord:{channel}."]
        )
        (shown,) = slack.messages("C-OPS")
        assert "Test alert from the Switchboard admin" in shown.text
        (sent,) = discord.api_calls("send_message")
        assert "Test alert from the Switchboard admin" in sent.json["content"]

        slack.fail_next("chat.postMessage", error="channel_not_found")
        admin.click("Send a test alert")
        assert any("Test alert to slack:C-OPS failed" in e and "channel_not_found" in e for e in admin.errors)
        assert slack.workspace().token not in admin.text()


def test_the_request_log_filters_and_is_bounded(any_db: str) -> None:
    where = ("slack", "W1", "C1", "T-log")
    ok = TurnResult("oa/gpt-4o", "oa", "ok", "x", prompt_tokens=10, completion_tokens=5, cost_usd=0.01, latency_ms=500)
    turn(where, "a", ok)
    turn(where, "b", TurnResult("oa/mini", "oa", "error", error="429 rate limited", latency_ms=20))
    turn(where, "c", ok)

    rows = request_log()
    assert [r.model for r in rows] == ["oa/gpt-4o", "oa/mini", "oa/gpt-4o"]  # newest first
    assert rows[0].latency_ms == 500 and rows[0].prompt_tokens == 10 and rows[0].cost_usd == pytest.approx(0.01)
    (failed,) = request_log(statuses=["error"])
    assert (failed.model, failed.error) == ("oa/mini", "429 rate limited")
    assert [r.status for r in request_log(models=["oa/gpt-4o"])] == ["ok", "ok"]
    assert len(request_log(limit=2)) == 2 and len(request_log(limit=10**9)) == 3  # capped at MAX_LOG_ROWS
    assert MAX_LOG_ROWS <= 500
    assert request_log(since=utcnow() + timedelta(minutes=1)) == []
    assert request_log(until=utcnow() - timedelta(hours=1)) == []
    assert logged_models() == ["oa/gpt-4o", "oa/mini"]

    days = daily_spend(7)
    assert len(days) == 7 and days[-1].replies == 2 and days[-1].cost_usd == pytest.approx(0.02)  # answered ones
    assert all(d.replies == 0 and d.cost_usd == 0 for d in days[:-1])  # quiet days are there, with zeros


def test_the_overview_acknowledges_and_resolves_alerts() -> None:
    raise_alert("budget", "b:1", "Budget crossed 80%: $8.00 of $10.00")
    (alert,) = recent_alerts()
    admin = AdminApp.signed_in()
    assert "1 open, 1 not acknowledged yet." in admin.text()
    admin.click("Acknowledge")
    assert admin.successes == [f"Alert #{alert.id} acknowledged."]
    assert "Acknowledged by admin at 20" in admin.text()
    admin.fill("Resolution note", "Raised the limit").click("Resolve")
    assert admin.successes == [f"Alert #{alert.id} resolved."]
    assert "No open alerts." in admin.text()
    stored = get_alert(alert.id)
    assert stored is not None and (stored.resolved_by, stored.resolution) == ("admin:admin", "Raised the limit")


def test_performance_charts_draw_a_point_for_each_bucket_and_the_error_rate_as_a_percentage() -> None:
    turn(
        ("slack", "W1", "C1", "T-p"),
        "a",
        TurnResult("oa/gpt-4o", "oa", "ok", "x", completion_tokens=5, latency_ms=300, ttft_ms=90),
    )
    admin = AdminApp.signed_in().open("performance")
    specs = [json.loads(node.proto.spec) for node in admin.at.get("vega_lite_chart")]
    assert len(specs) == 5
    for spec in specs:  # one hour of data is one point: a line alone would draw nothing
        assert spec["mark"]["type"] == "line" and spec["mark"]["point"]
    (error_rate,) = [s for s in specs if s["encoding"]["y"]["field"] == "error_rate"]
    assert error_rate["encoding"]["y"]["axis"]["format"] == ".0%"  # 0%, 50%, 100%: not 0.000000
    overview = AdminApp.signed_in()
    (spend,) = [json.loads(n.proto.spec) for n in overview.at.get("vega_lite_chart")]
    assert spend["mark"]["point"] and spend["encoding"]["y"]["field"] == "spend (USD)"
