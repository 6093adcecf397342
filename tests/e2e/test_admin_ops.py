"""End to end, in a real headless Chromium against the real `switchboard admin`: the operations pages. An admin
acknowledges one alert and resolves another on the Overview (who and when shown), sets the Slack and Discord alert
channels on Budgets & alerts and sends a test alert that the loopback fake Slack and fake Discord receive, reads
the budget table, filters the Performance page's request log, opens a request in full and follows it to its
thread, and sees charts draw points for a one-point series; every page at 1400 and 800 px wide, with a screenshot
each under test-artifacts/screenshots/ops/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.alerts import get_alert, raise_alert, recent_alerts, stored_destinations
from core.budgets import add_budget
from core.providers.store import add_provider, mark_unhealthy
from core.types import TurnResult
from tests.adminkit import PASSWORD
from tests.conftest import Cli
from tests.e2e.browserkit import SCREENSHOTS, AdminServer, TallShots, chromium, require_chromium
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.test_admin_browse import turn

WAIT_MS = 15_000
SHOTS = SCREENSHOTS / "ops"
WIDTHS = (1400, 800)
CHANNEL = "C0OPSALERTS"
# Metric figures whose text is wider than their box (shown as "$0.0…"): none may be.
CUT_FIGURES = """[...document.querySelectorAll('[data-testid=stMetricValue] div, [data-testid=stMetricValue]')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""


def go(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible(timeout=WAIT_MS)
    settle(page)


def settle(page: Page) -> None:
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=WAIT_MS)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=WAIT_MS)
    page.wait_for_timeout(300)


def seed() -> tuple[int, int]:
    """Replies for the charts and the log (one hour bucket: a one-point series), a budget, and two alerts."""
    where = ("slack", "W-OPS", "C-OPS", "T-OPS")
    ok = TurnResult(
        "oa/gpt-4o", "oa", "ok", "x", prompt_tokens=100, completion_tokens=20, cost_usd=0.0123, latency_ms=800,
        ttft_ms=150,
    )  # fmt: skip
    turn(where, "hello", ok)
    turn(where, "again", ok)
    failed = TurnResult("oa/gpt-4o-mini", "oa", "error", error="OpenAI answered 429: rate limited.", latency_ms=40)
    turn(where, "and now?", failed)
    add_budget("global", "month", 25, thresholds=[50, 80, 100])
    raise_alert("budget", "budget:ops:50", "The monthly budget for everything crossed 50%: $12.50 of $25.00 spent.")
    add_provider("oa", "openai", base_url="http://127.0.0.1:9/v1", api_key="sk-test-ops-0000000000")
    problem = "OpenAI rejected the API key (401): check the key on the Providers page, then test the connection again."
    mark_unhealthy("oa", problem)
    raise_alert("health", "health:gone:ops", "Provider 'gone' is failing: timed out.", provider="gone")  # removed
    found = {a.text.split(" ")[0]: a.id for a in recent_alerts()}  # "The monthly budget…", "Provider 'oa'…"
    oa = next(a.id for a in recent_alerts(kind="health") if "'oa'" in a.text)  # raised by mark_unhealthy
    return found["The"], oa


def overview(page: Page, shots: TallShots, budget_alert: int, health_alert: int) -> None:
    expect(page.get_by_text("2 open, 2 not acknowledged yet.")).to_be_visible(timeout=WAIT_MS)  # not 'gone''s
    health = page.get_by_test_id("stTable").filter(has_text="latency")
    expect(health).to_contain_text("then test the connection again.")  # the problem in full
    chart = page.get_by_test_id("stVegaLiteChart").first
    expect(chart).to_be_visible()
    card = page.locator(f".st-key-alert-card-{budget_alert}")
    card.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text(f"Alert #{budget_alert} acknowledged.")).to_be_visible(timeout=WAIT_MS)
    expect(card.get_by_text(re.compile(r"Acknowledged by admin at 20\d\d-"))).to_be_visible()
    stored = get_alert(budget_alert)
    assert stored is not None and stored.acknowledged_by == "admin:admin" and stored.open
    settle(page)

    card = page.locator(f".st-key-alert-card-{health_alert}")
    card.get_by_placeholder("What was done (optional)").fill("Rotated the key")
    card.get_by_placeholder("What was done (optional)").press("Enter")
    settle(page)
    card.get_by_role("button", name="Resolve").click()
    expect(page.get_by_text(f"Alert #{health_alert} resolved.")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(f".st-key-alert-card-{health_alert}")).to_have_count(0)
    page.get_by_text("Recently resolved (2)").click()
    expect(page.get_by_test_id("stTable").filter(has_text="its provider was removed")).to_contain_text("Switchboard")
    closed = page.get_by_test_id("stTable").filter(has_text="Rotated the key")
    expect(closed).to_contain_text(re.compile(r"admin at 20\d\d-"))
    stored = get_alert(health_alert)
    assert stored is not None and stored.resolved_by == "admin:admin" and stored.resolution == "Rotated the key"
    settle(page)


def budgets(page: Page, shots: TallShots, slack: FakeSlack, discord: FakeDiscord) -> None:
    table = page.get_by_test_id("stDataFrame").filter(has_text="in flight").first
    expect(table).to_contain_text("Monthly budget for everything", timeout=WAIT_MS)
    for header in ("spent", "limit", "period", "resets"):
        expect(table).to_contain_text(header)
    expect(table).to_contain_text("$25.00")

    form = page.get_by_test_id("stForm").filter(has_text="Slack channel")
    form.get_by_label("Slack channel", exact=True).fill(CHANNEL)
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Slack alerts go to {CHANNEL}.")).to_be_visible(timeout=WAIT_MS)
    assert stored_destinations() == {"Slack": CHANNEL}
    settle(page)
    channel = str(discord.channel["id"])
    form = page.get_by_test_id("stForm").filter(has_text="Discord channel")
    form.get_by_label("Discord channel", exact=True).fill(channel)
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Discord alerts go to {channel}.")).to_be_visible(timeout=WAIT_MS)
    assert stored_destinations() == {"Slack": CHANNEL, "Discord": channel}
    settle(page)
    page.get_by_role("button", name="Send a test alert").click()
    expect(page.get_by_text(f"Test alert sent to slack:{CHANNEL}.")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text(f"Test alert sent to discord:{channel}.")).to_be_visible(timeout=WAIT_MS)
    (sent,) = slack.messages(CHANNEL)
    assert "Test alert from the Switchboard admin" in sent.text
    (posted,) = discord.messages_in(int(channel))
    assert "Test alert from the Switchboard admin" in posted.content
    log = page.get_by_test_id("stTable").filter(has_text="delivery")
    expect(log).to_contain_text("then test the connection again.")  # in full, wrapped
    expect(log).to_contain_text("Rotated the key")


def performance(page: Page, shots: TallShots) -> None:
    charts = page.get_by_test_id("stVegaLiteChart")
    expect(charts).to_have_count(5, timeout=WAIT_MS)
    # each series has one point (one hour): the chart draws a symbol for it, not an empty line
    expect(charts.first.locator("canvas, svg").first).to_be_visible()
    log = page.get_by_test_id("stDataFrame").filter(has_text="first token").first
    expect(log).to_contain_text("oa/gpt-4o-mini", timeout=WAIT_MS)
    expect(log).to_contain_text("oa/gpt-4o")
    status = page.get_by_role("combobox", name="Status")
    status.click()
    status.press_sequentially("error")
    status.press("Enter")
    page.keyboard.press("Escape")
    settle(page)
    expect(page.get_by_text("1 request, 1 with an error.", exact=False)).to_be_visible(timeout=WAIT_MS)
    log = page.get_by_test_id("stDataFrame").filter(has_text="first token").first
    expect(log).to_contain_text("rate limited")
    expect(log).not_to_contain_text("$0.0123")

    # the row opens to the request in full, and from there to its thread
    log.click(position={"x": 18, "y": 35 + 35 // 2})  # the row's selection box, left of its first cell
    detail = page.locator(".st-key-request-detail")
    expect(detail).to_contain_text("OpenAI answered 429: rate limited.", timeout=WAIT_MS)
    expect(detail).to_contain_text("The message it answered")
    expect(detail).to_contain_text("and now?")
    settle(page)
    shots.shot("request-opened")
    detail.get_by_role("link", name=re.compile("Open its thread")).click()
    expect(page.get_by_role("heading", name="Conversations", exact=True)).to_be_visible(timeout=WAIT_MS)
    assert "thread=" in page.url
    transcript = page.get_by_test_id("stChatMessage")
    expect(transcript.filter(has_text="and now?").first).to_be_visible(timeout=WAIT_MS)
    expect(transcript.filter(has_text="rate limited").first).to_be_visible()
    settle(page)
    shots.shot("request-thread")


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_admin_operations_in_a_real_browser(cli: Cli, sb_env: dict[str, str], tmp_path: Path) -> None:
    require_chromium()
    made = cli.subprocess("admin", "set-password", input=f"{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    budget_alert, health_alert = seed()
    with FakeSlack() as slack, FakeDiscord() as discord:
        env = {
            **sb_env,
            "SLACK_BOT_TOKEN": slack.workspace().token,
            "SLACK_API_URL": slack.api_url,
            "DISCORD_BOT_TOKEN": discord.token,
            "DISCORD_API_BASE": discord.api_base,
        }
        with AdminServer(env, tmp_path, tmp_path / "admin.log") as server, chromium() as browser:
            page = browser.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(server.url)
            shots = TallShots(page, SHOTS, max_height=6000)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=WAIT_MS)
            settle(page)
            overview(page, shots, budget_alert, health_alert)
            go(page, "Budgets & alerts")
            budgets(page, shots, slack, discord)
            go(page, "Performance")
            performance(page, shots)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 1000})
                for title, slug in (
                    ("Overview", "overview"),
                    ("Budgets & alerts", "budgets"),
                    ("Performance", "performance"),
                ):
                    go(page, title)
                    text = page.get_by_test_id("stMain").inner_text()
                    assert "Traceback" not in text
                    cut = page.evaluate(CUT_FIGURES)
                    assert cut == [], f"figures cut off at {width} px on {title}: {cut}"
                    shots.shot(f"{slug}-{width}")
