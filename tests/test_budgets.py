"""Budgets and alerts as users and admins meet them: CLI, refusals, confirmations, alerts, analytics."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from core.alerts import deliver_pending, recent_alerts
from core.budgets import add_budget
from core.models.registry import set_model_overrides
from core.settings import get_settings
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Budget, Message
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SWITCHBOARD_MAX_OUTPUT_TOKENS", "100")
    monkeypatch.setenv("SWITCHBOARD_CONFIRM_OVER_USD", "1000")
    get_settings.cache_clear()
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini", "mystery"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        world = await make_world(cloud, local)
        set_model_overrides("oa/gpt-4o", input_usd_per_mtok=1000, output_usd_per_mtok=1000)  # $0.001 a token
        yield world


def budget_rows() -> list[Budget]:
    with session() as s:
        return list(s.exec(select(Budget)).all())


# ---------------------------------------------------------------- CLI


def test_budgets_cli_add_list_remove(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("budgets", "add", "--scope", "workspace:T123", "--period", "month", "--limit", "50", "--hard")
    assert out.returncode == 0, out.stderr
    assert "monthly budget for workspace T123, limit $50.00, hard stop, alerts at 50, 80, 100%" in out.stdout
    listed = json.loads(cli("budgets", "list", "--json").stdout)
    assert listed[0]["scope"] == "workspace:T123" and listed[0]["limit"] == 50 and listed[0]["spent"] == 0
    assert listed[0]["resets"].startswith("20")
    assert cli("budgets", "remove", str(listed[0]["id"])).returncode == 0
    assert json.loads(cli("budgets", "list", "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scope", "global", "--period", "month", "--limit", "-5"], "must be a positive amount"),
        (["--scope", "team:T1", "--period", "month", "--limit", "5"], "Unknown scope 'team:T1'"),
        (["--scope", "global", "--period", "month", "--limit", "0"], "A limit of 0 would block every paid request"),
        (["--scope", "global", "--period", "fortnight", "--limit", "5"], "Unknown period 'fortnight'"),
        (["--scope", "global", "--period", "day", "--limit", "5", "--thresholds", "50,150"], "1 to 100"),
    ],
)
def test_bad_budget_input_gets_a_clear_error_and_nothing_is_written(cli, args, message) -> None:  # type: ignore[no-untyped-def]
    out = cli("budgets", "add", *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert budget_rows() == []


def test_a_duplicate_budget_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    args = ["budgets", "add", "--scope", "user:U1", "--period", "day", "--limit", "5"]
    assert cli(*args).returncode == 0
    again = cli(*args)
    assert again.returncode == 2 and "There is already a day usd budget for user:U1" in again.stderr
    assert len(budget_rows()) == 1


# ---------------------------------------------------------------- enforcement


async def test_a_hard_budget_refuses_clearly_and_points_to_a_free_model(world: World) -> None:
    add_budget("workspace:W1", "month", 0.05)
    invalidate()
    thread = Thread()
    await thread.say("!model gpt-4o")
    said = await thread.say("hello")
    (refusal,) = said.replies
    assert refusal.kind == "refusal" and world.cloud.chat_calls("gpt-4o") == []
    text = refusal.text
    assert "The monthly budget for workspace W1 would go over: $0 spent of $0.05" in text
    assert "this reply could cost up to $0.1" in text and "It resets 20" in text
    assert "switch this thread to a free local model: `!model local/llama-big`" in text
    with session() as s:  # the message is kept; no half reply
        assert [(m.role, m.status) for m in s.exec(select(Message)).all() if m.role != "command"] == [("user", "ok")]
    (alert,) = recent_alerts(kind="budget")
    assert alert.text.startswith("The monthly budget for workspace W1 is refusing replies it cannot cover: $0 spent")


async def test_spend_is_settled_to_the_real_cost_and_thresholds_alert_once(world: World) -> None:
    budget = add_budget("global", "day", 0.5, thresholds=[5, 50])
    invalidate()
    world.cloud.set_default(Reply(text="one two three four five"), model="gpt-4o")
    thread = Thread()
    await thread.say("!model gpt-4o")
    for i in range(3):
        said = await thread.say(f"q{i}")
        assert said.done is not None and said.done.result.status == "ok"
    from core.budgets import ledger

    state = ledger.current([budget], tz="UTC")[budget.id]
    with session() as s:
        costs = [m.cost_usd for m in s.exec(select(Message).where(Message.role == "assistant")).all()]
    assert state.reserved == 0 and state.spent == round(sum(c or 0 for c in costs) * 1_000_000)
    alerts = recent_alerts(kind="budget")
    assert len(alerts) == 1 and "crossed 5%" in alerts[0].text  # 5% crossed (once), 50% not yet


async def test_local_models_pass_money_budgets_but_not_token_budgets(world: World) -> None:
    add_budget("global", "day", 0.0001)  # far too small for anything paid
    invalidate()
    said = await Thread().say("hello")  # the local model
    assert said.done and said.done.result.status == "ok" and said.done.result.cost_usd == 0
    add_budget("global", "day", 50, metric="tokens")
    invalidate()
    refused = await Thread(thread="T-2").say("hello again")
    assert refused.replies[0].kind == "refusal" and "daily token budget for everything would go over" in refused.text


async def test_an_unknown_price_is_refused_under_a_hard_budget_and_never_counted_free(world: World) -> None:
    add_budget("global", "month", 10)
    invalidate()
    thread = Thread(admin=True)
    await thread.say("!model oa/mystery")
    said = await thread.say("hi")
    assert said.replies[0].kind == "refusal"
    assert "oa/mystery has no known price" in said.text
    assert "`switchboard models set oa/mystery --input-usd-per-mtok X --output-usd-per-mtok Y`" in said.text
    assert world.cloud.chat_calls("mystery") == []
    set_model_overrides("oa/mystery", free=True)
    invalidate()
    assert (await thread.say("hi again")).done is not None


async def test_a_warn_only_budget_lets_the_reply_through_with_a_heads_up(world: World) -> None:
    add_budget("user:U1", "day", 0.01, hard=False, thresholds=[100])
    invalidate()
    thread = Thread()
    await thread.say("!model gpt-4o")
    first = await thread.say("hello")
    second = await thread.say("hello again")
    assert first.done and second.done and second.done.result.status == "ok"
    assert any("warn-only, so the reply continues" in n for n in first.notices + second.notices)
    assert len(recent_alerts(kind="budget")) == 1


async def test_an_expensive_reply_asks_for_confirmation_first(world: World, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SWITCHBOARD_CONFIRM_OVER_USD", "0.05")
    get_settings.cache_clear()
    thread = Thread()
    await thread.say("!model gpt-4o")
    asked = await thread.say("write me an essay")
    (question,) = asked.replies
    assert question.kind == "confirm" and "could cost up to $0.1" in question.text
    assert [c.command for c in question.choices] == ["!confirm", "!cancel"]
    assert world.cloud.chat_calls("gpt-4o") == []
    answered = await thread.say("!confirm")
    assert answered.streamed == "echo: write me an essay" and answered.done
    again = await thread.say("!confirm")  # a second click answers nothing twice
    assert "Nothing is waiting for confirmation" in again.text and again.done is None
    await thread.say("another essay please")
    cancelled = await thread.say("!cancel")
    assert "Cancelled: nothing was sent to a model." in cancelled.text
    assert len(world.cloud.chat_calls("gpt-4o")) == 1
    follow_up = await thread.say("!model")  # the thread goes on as usual
    assert "oa/gpt-4o" in follow_up.text


async def test_compare_is_budgeted_too(world: World) -> None:
    add_budget("global", "month", 0.05)
    invalidate()
    said = await Thread().say("!compare gpt-4o llama-big hi")
    text = said.replies[0].text
    assert "_refused: The monthly budget for everything would go over" in text
    assert "echo: hi" in text  # the local model still answered


# ---------------------------------------------------------------- alerts


async def test_alerts_reach_slack_and_discord_and_failed_deliveries_are_retried(world: World) -> None:
    from bot.alerting import DiscordNotifier, SlackNotifier
    from core.alerts import raise_alert
    from tests.fakes.discord import FakeDiscord
    from tests.fakes.slack import FakeSlack

    assert raise_alert("budget", "k1", "Budget crossed 80%") is True
    assert raise_alert("budget", "k1", "Budget crossed 80%") is False  # the same alert is stored once
    with FakeSlack() as slack, FakeDiscord() as discord:
        slack_n = SlackNotifier(slack.workspace().token, "C-ALERTS", slack.api_url)
        discord_n = DiscordNotifier(discord.token, str(discord.channel["id"]), discord.api_base)
        slack.fail_next("chat.postMessage", error="channel_not_found")
        first = await deliver_pending([slack_n, discord_n])
        assert first.failed == 1 and first.delivered == 0
        (alert,) = recent_alerts()
        assert alert.delivered_at is None and set(alert.deliveries) == {discord_n.name} and alert.attempts == 1
        assert "channel_not_found" in (alert.last_error or "")
        assert (await deliver_pending([slack_n, discord_n])).delivered == 0  # backing off: not due yet
        with session() as s:  # time passes
            from core.storage.tables import Alert

            row = s.exec(select(Alert)).one()
            row.next_attempt_at = None
            s.add(row)
            s.commit()
        assert (await deliver_pending([slack_n, discord_n])).delivered == 1
        assert len(slack.calls_to("chat.postMessage")) == 2  # the failed try, then the retry
        (shown,) = slack.messages("C-ALERTS")  # what the channel shows: the alert, once
        assert "Budget crossed 80%" in shown.text
        sent = discord.api_calls("send_message")
        assert len(sent) == 1 and "Budget crossed 80%" in sent[0].json["content"]  # sent once, not retried
    (alert,) = recent_alerts()
    assert alert.delivered_at is not None


async def test_a_provider_turning_bad_raises_one_health_alert(world: World) -> None:
    from core.jobs import check_health

    world.cloud.api_key = "sk-some-other-key"  # our stored key is now rejected
    await check_health()
    await check_health()
    (alert,) = recent_alerts(kind="health")
    assert "Provider 'oa' is failing" in alert.text and "rejected the API key" in alert.text


# ---------------------------------------------------------------- analytics


async def test_usage_analytics_by_model_day_and_user_with_csv(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    paid = Thread(user="U-paid")
    await paid.say("!model gpt-4o")
    await paid.say("hello")
    await Thread(thread="T-free", user="U-free").say("hi")
    by_model = {r["key"]: r for r in json.loads(cli("usage", "--group-by", "model", "--json").stdout)}
    assert set(by_model) == {"oa/gpt-4o", "local/llama-big"}
    assert by_model["oa/gpt-4o"]["cost_usd"] > 0 and by_model["local/llama-big"]["cost_usd"] == 0
    by_user = {r["key"] for r in json.loads(cli("usage", "--group-by", "user", "--json").stdout)}
    assert by_user == {"U-paid", "U-free"}
    days = json.loads(cli("usage", "--group-by", "day", "--json").stdout)
    assert len(days) == 1 and days[0]["replies"] == 2
    csv_out = cli("usage", "--group-by", "provider", "--csv").stdout.splitlines()
    assert csv_out[0] == "provider,replies,prompt_tokens,completion_tokens,cost_usd,unknown_cost"
    assert {line.split(",")[0] for line in csv_out[1:]} == {"oa", "local"}
    top = json.loads(cli("usage", "--top-threads", "1", "--json").stdout)["top_threads"]
    assert top[0]["thread"] == "T-1"
    before_today = cli("usage", "--top-threads", "1", "--until", datetime.now(UTC).date().isoformat(), "--json").stdout
    assert json.loads(before_today)["top_threads"] == []  # the threads list honours --until like the rows
    bad = cli("usage", "--group-by", "planet")
    assert bad.returncode == 2 and "Group by one of" in bad.stderr
