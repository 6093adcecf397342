"""The Usage page for replies stored through the core: cost and tokens per day, breakdowns by model, provider,
workspace, channel and user, the costliest threads, the CSV download, a date range, and replies of unknown
price flagged, never counted as free."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from admin.usage_tables import breakdown_table, csv_text
from core.reports.spend import costliest_threads, day_range, local_today, spend_now
from core.settings import get_settings
from core.types import TurnResult
from tests.adminkit import AdminApp
from tests.test_admin_browse import turn

SLACK = ("slack", "W1", "C1", "T-1")
DISCORD = ("discord", "G1", "C2", "T-2")


@pytest.fixture
def replies() -> None:
    """Three answered replies today (one of unknown price) and one error, which costs nothing."""
    turn(SLACK, "How do I rotate keys?", TurnResult("oa/gpt-4o", "oa", "ok", "Like this.", prompt_tokens=100,
         completion_tokens=50, cost_usd=0.0123), user="U1")  # fmt: skip
    turn(SLACK, "And again?", TurnResult("local/llama-small", "local", "ok", "Same.", prompt_tokens=120,
         completion_tokens=30, cost_usd=0.0), user="U2")  # fmt: skip
    turn(DISCORD, "Summarise this", TurnResult("oa/mystery", "oa", "ok", "Summary.", prompt_tokens=40,
         completion_tokens=10, cost_usd=None), user="U3")  # fmt: skip
    turn(DISCORD, "Once more", TurnResult("oa/gpt-4o", "oa", "error", error="boom", cost_usd=None), user="U3")


def rows(admin: AdminApp, column: str) -> dict[str, list[object]]:
    """The table with `column`, one list per row keyed by its first cell (a blank cost reads None)."""
    table = admin.table_with(column)
    return {
        str(r[0]): [None if isinstance(v, float) and math.isnan(v) else v for v in r[1:]]
        for r in table.itertuples(index=False)
    }


def test_cost_and_tokens_per_day_and_the_totals(replies: None) -> None:
    admin = AdminApp.signed_in().open("usage")
    assert admin.titles == ["Usage"]
    assert (admin.metric("Cost"), admin.metric("Tokens"), admin.metric("Replies")) == ("$0.0123", "350", "3")
    assert admin.metric("Replies of unknown price") == "1"
    assert admin.warnings == [
        "1 reply of unknown price (oa/mystery (1)): their cost is not in these figures, and they are not free. "
        "Set the price on the Models page (or `switchboard models set`)."
    ]

    charts = admin.charts()
    today = local_today().isoformat()
    cost = charts["Cost (USD)"].set_index("day")["cost (USD)"]
    assert len(cost) == 30 and cost.index[-1] == today  # the last 30 days, days without replies as 0
    assert cost[today] == 0.0123 and cost.drop(today).eq(0).all()
    tokens = charts["Tokens"]
    tokens = tokens[tokens["day"] == today].set_index(tokens.columns[1])[tokens.columns[2]]
    assert tokens.to_dict() == {"prompt tokens": 260, "completion tokens": 90}


def test_breakdowns_by_each_dimension_and_unknown_prices_flagged(replies: None) -> None:
    admin = AdminApp.signed_in().open("usage")
    columns = ["replies", "prompt tokens", "completion tokens", "tokens", "cost (USD)", "unknown-price replies"]
    assert admin.table_with("prompt tokens").columns.tolist() == ["model", *columns]
    assert rows(admin, "prompt tokens") == {
        "oa/gpt-4o": [1, 100, 50, 150, 0.0123, 0],  # its error reply cost nothing
        "local/llama-small": [1, 120, 30, 150, 0.0, 0],  # free
        "oa/mystery": [1, 40, 10, 50, None, 1],  # unknown: blank, never $0
    }
    charts = admin.charts()
    assert charts["Cost by model (USD)"].set_index("model")["cost (USD)"].to_dict()["oa/gpt-4o"] == 0.0123
    assert charts["Tokens by model"].set_index("model")["tokens"].to_dict() == {
        "oa/gpt-4o": 150,
        "local/llama-small": 150,
        "oa/mystery": 50,
    }

    expected = {
        "provider": {"oa": [2, 140, 60, 200, 0.0123, 1], "local": [1, 120, 30, 150, 0.0, 0]},
        "workspace": {"W1": [2, 220, 80, 300, 0.0123, 0], "G1": [1, 40, 10, 50, None, 1]},
        "channel": {"C1": [2, 220, 80, 300, 0.0123, 0], "C2": [1, 40, 10, 50, None, 1]},
        "user": {"U1": [1, 100, 50, 150, 0.0123, 0], "U2": [1, 120, 30, 150, 0.0, 0], "U3": [1, 40, 10, 50, None, 1]},
    }
    for group, table in expected.items():
        admin.choose("Break down by", group).run()
        assert admin.table_with("prompt tokens").columns[0] == group
        assert rows(admin, "prompt tokens") == table, group
        assert f"Tokens by {group}" in admin.charts()

    assert rows(admin, "where") == {  # the costliest threads
        "How do I rotate keys?": ["slack W1/C1", 2, 300, 0.0123, 0],
        "Summarise this": ["discord G1/C2", 1, 50, None, 1],
    }


def test_the_csv_download_is_the_shown_table(replies: None) -> None:
    admin = AdminApp.signed_in().open("usage").choose("Break down by", "workspace").run()
    (button,) = admin.at.get("download_button")
    assert button.proto.label == "Download CSV" and button.proto.url.endswith(".csv")
    today = local_today()
    shown = breakdown_table("workspace", today - timedelta(days=29), today)
    assert shown.equals(admin.table_with("prompt tokens"))
    assert csv_text(shown).splitlines() == [
        "workspace,replies,prompt tokens,completion tokens,tokens,cost (USD),unknown-price replies",
        "W1,2,220,80,300,0.0123,0",
        "G1,1,40,10,50,,1",  # unknown cost: empty, not 0
    ]


def test_a_date_range_without_replies(replies: None) -> None:
    admin = AdminApp.signed_in().open("usage")
    yesterday = local_today() - timedelta(days=1)
    admin.at.date_input[0].set_value((yesterday - timedelta(days=6), yesterday))
    admin.run()
    assert admin.infos == [f"No replies from {yesterday - timedelta(days=6)} to {yesterday}."]
    assert (admin.metric("Cost"), admin.metric("Replies")) == ("$0", "0") and admin.charts() == {}

    admin.at.date_input[0].set_value((yesterday, local_today()))
    admin.run()
    assert admin.charts()["Cost (USD)"]["day"].tolist() == [yesterday.isoformat(), local_today().isoformat()]
    assert admin.metric("Replies") == "3"


def test_spend_reads_on_sqlite_and_postgresql_in_the_configured_time_zone(
    any_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_TIMEZONE", "Pacific/Kiritimati")  # UTC+14: its day is rarely UTC's
    get_settings.cache_clear()
    turn(SLACK, "a", TurnResult("oa/gpt-4o", "oa", "ok", "x", prompt_tokens=10, completion_tokens=5, cost_usd=0.01))
    turn(DISCORD, "b", TurnResult("oa/gpt-4o", "oa", "ok", "y", prompt_tokens=1, completion_tokens=1, cost_usd=0.2))
    turn(DISCORD, "c", TurnResult("oa/mystery", "oa", "ok", "z", prompt_tokens=4, cost_usd=None))

    now = spend_now()
    assert now.day_start.utcoffset() == timedelta(0) and now.day_start.hour == 10  # local midnight, in UTC
    assert (now.today.replies, now.today.tokens, now.today.unknown_cost) == (3, 21, 1)
    assert now.today.cost_usd == pytest.approx(0.21) and now.month == now.today

    today = local_today()
    threads = costliest_threads(*day_range(today, today))
    assert [(t.thread, t.replies, t.tokens, t.unknown_cost) for t in threads] == [("T-2", 2, 6, 1), ("T-1", 1, 15, 0)]
    assert costliest_threads(*day_range(today - timedelta(days=3), today - timedelta(days=1))) == []
    assert [t.thread for t in costliest_threads(*day_range(today, today), limit=1)] == ["T-2"]
