"""A removed provider's health alerts are closed: the scheduler stops sending them and the admin shows them closed."""

from __future__ import annotations

import asyncio

import pytest

from bot.alerting import notifiers
from core.alerts import deliver_pending, raise_alert, recent_alerts
from core.providers import store
from core.settings import get_settings
from tests.adminkit import AdminApp
from tests.conftest import Cli
from tests.fakes.slack import FakeSlack
from tests.helpers import closed_port


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with FakeSlack() as fake:
        monkeypatch.setenv("SWITCHBOARD_ALERT_SLACK_CHANNEL", "C-ALERTS")
        monkeypatch.setenv("SLACK_BOT_TOKEN", fake.workspace().token)
        monkeypatch.setenv("SLACK_API_URL", fake.api_url)
        get_settings.cache_clear()
        yield fake


def failing_provider(name: str = "gpu") -> str:
    """A provider whose health check fails for real (nothing listens there): it raises a health alert."""
    store.add_provider(name, "openai_compatible", base_url=f"http://127.0.0.1:{closed_port()}/v1")
    result = asyncio.run(store.test_provider(name))
    assert not result.ok
    (alert,) = [a for a in recent_alerts() if a.kind == "health"]
    assert alert.open and f"Provider '{name}' is failing" in alert.text
    return alert.text


def deliver() -> int:
    return asyncio.run(deliver_pending(notifiers(get_settings()))).delivered  # what the scheduler's job runs


def posted(slack: FakeSlack) -> list[str]:
    return [str(c.get("text", "")) for c in slack.calls_to("chat.postMessage")]


def test_removing_a_provider_closes_its_alerts_before_they_are_sent(any_db: str, cli: Cli, slack: FakeSlack) -> None:
    text = failing_provider()
    raise_alert("budget", "budget:1:p:80", "The monthly budget crossed 80%.")  # about something else: still sent
    removed = cli("providers", "remove", "gpu", "--yes")
    assert removed.returncode == 0, removed.stderr

    assert deliver() == 1
    assert not any("gpu" in t for t in posted(slack)) and any("80%" in t for t in posted(slack))
    (health,) = [a for a in recent_alerts() if a.kind == "health"]
    assert health.text == text and not health.open and health.resolution == "provider 'gpu' was removed"
    assert health.delivered_at is None
    assert deliver() == 0  # and never later either


def test_an_alert_that_kept_failing_to_send_stops_retrying_once_its_provider_is_removed(
    any_db: str, cli: Cli, slack: FakeSlack
) -> None:
    failing_provider()
    slack.fail_next("chat.postMessage", error="channel_not_found")
    assert deliver() == 0  # the first try fails: it would be retried with backoff
    assert cli("providers", "remove", "gpu", "--yes").returncode == 0
    (health,) = recent_alerts()
    assert not health.open and health.attempts == 1
    assert len(slack.calls_to("chat.postMessage")) == 1  # only the failed try


def test_the_admin_shows_a_removed_providers_alert_as_closed(cli: Cli, slack: FakeSlack) -> None:
    failing_provider()
    assert cli("providers", "remove", "gpu", "--yes").returncode == 0

    budgets = AdminApp.signed_in().open("budgets")
    (row,) = next(t.value for t in budgets.at.table if "delivery" in t.value.columns).to_dict("records")
    assert row["delivery"] == "closed: provider 'gpu' was removed"
    assert row["resolved"].startswith("Switchboard at 20")  # closed by Switchboard, not by an admin
    assert "The last 1 alerts, newest first; 0 not delivered everywhere yet." in budgets.text()

    overview = AdminApp.signed_in().open("overview")
    assert "No open alerts." in overview.text()  # not among the open ones
    (closed,) = next(t.value for t in overview.at.table if "resolution" in t.value.columns).to_dict("records")
    assert closed["resolution"] == "provider 'gpu' was removed" and closed["resolved"].startswith("Switchboard at")
    assert "not delivered yet" not in overview.text()
