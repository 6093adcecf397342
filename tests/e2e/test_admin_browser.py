"""End to end, in a real headless Chromium: an admin signs in to the real `switchboard admin`, adds a provider
that points at a loopback fake OpenAI, tests its connection, installs a model from a fake Ollama and watches
the progress bar reach 100%, adds a budget through its form, reads the usage charts and downloads their CSV for
replies stored meanwhile, then visits every page. Screenshots land in test-artifacts/screenshots/.

Each step is a function of `Session`; STEPS is the order.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from admin.nav import PAGES
from core.budgets import list_budgets
from core.ollama import list_jobs
from core.providers.store import get_provider
from core.types import TurnResult
from tests.adminkit import PASSWORD
from tests.conftest import Cli
from tests.e2e.browserkit import AdminServer, Screens, chromium, require_chromium
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI
from tests.ollamakit import local_ollama
from tests.test_admin_browse import turn

__all__ = ["local_ollama"]  # the fixture, imported for pytest

OPENAI_KEY = "sk-test-e2e-key-7890"
WAIT_MS = 15_000


@dataclass
class Session:
    page: Page
    screens: Screens
    openai: FakeOpenAI
    ollama: FakeOllama

    def go(self, title: str) -> None:
        """Click a page in the sidebar (in-app navigation keeps the signed-in session)."""
        self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        expect(self.page.get_by_role("heading", name=title, exact=True).first).to_be_visible(timeout=WAIT_MS)

    def idle(self) -> None:
        """Wait until the app's script is not running: a click while it reruns is sent with the widget values
        the page showed before that rerun (a fresh provider pick could still be the old one)."""
        expect(self.page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=WAIT_MS)

    def settle(self) -> None:
        """Wait until the page finished drawing (no script running, no placeholders), for a useful picture."""
        expect(self.page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=WAIT_MS)
        self.page.wait_for_timeout(500)

    def fill(self, label: str, value: str) -> None:
        field = self.page.get_by_label(label, exact=True).first
        field.fill(value)
        field.press("Enter")  # Streamlit commits a text input on Enter (or blur)


def sign_in(s: Session) -> None:
    page = s.page
    expect(page.get_by_role("heading", name="Switchboard admin")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)  # no page but the login form
    s.screens.shot("login")
    page.get_by_label("Password", exact=True).fill("wrong password here")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Wrong username or password.")).to_be_visible(timeout=WAIT_MS)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=WAIT_MS)
    s.screens.shot("overview")


def add_a_provider(s: Session) -> None:
    s.go("Providers")
    form = s.page.get_by_test_id("stForm").filter(has_text="Add a provider")
    form.get_by_label("Name", exact=True).fill("fakeai")
    form.get_by_label("Base URL", exact=True).fill(f"{s.openai.url}/v1")
    form.get_by_label("API key", exact=True).fill(OPENAI_KEY)
    form.get_by_role("button", name="Add provider").click()
    expect(s.page.get_by_text("Added provider 'fakeai' (OpenAI); 2 models listed.")).to_be_visible(timeout=WAIT_MS)
    stored = get_provider("fakeai")
    assert stored is not None and stored.base_url == f"{s.openai.url}/v1" and stored.key_hint.endswith("7890")
    s.screens.shot("provider-added")


def check_the_connection(s: Session) -> None:
    s.idle()
    expect(s.page.get_by_role("combobox", name="Provider")).to_have_value("fakeai")  # the one just added
    s.page.get_by_role("button", name="Test connection").click()
    result = s.page.get_by_text(re.compile(r"fakeai: Connected to OpenAI in \d+ ms: 2 chat models\."))
    expect(result).to_be_visible(timeout=WAIT_MS)
    expect(s.page.get_by_test_id("stMetric").filter(has_text="Connection latency")).to_contain_text(" ms")
    assert s.openai.calls("/v1/models")[-1].headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    s.screens.shot("connection-tested")


def pull_a_model(s: Session) -> None:
    s.go("Ollama")
    s.fill("Search the library", "qwen2.5")
    picked = s.page.get_by_role("combobox", name="Model to install")
    expect(picked).to_have_value(re.compile(r"^qwen2\.5:0\.5b \("), timeout=WAIT_MS)
    s.page.get_by_role("button", name="Install", exact=True).click()
    bar = s.page.get_by_test_id("stProgress").filter(has_text="qwen2.5:0.5b").first
    expect(bar).to_contain_text("%", timeout=WAIT_MS)
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (seen and "100%" in seen[-1]):
        text = bar.inner_text()
        if not seen or text != seen[-1]:
            seen.append(text)
            if len(seen) == 2:
                s.screens.shot("pull-in-progress", bar)
        time.sleep(0.1)
    assert seen and "100%" in seen[-1], seen
    assert len(seen) >= 3, f"the progress bar did not move live: {seen}"
    # bytes and percent on the way, of the download's real size (the catalog only estimates 400 MB)
    assert any(re.search(r"of 397\.8 MB \((\d|[1-9]\d)%\)", t) for t in seen), seen
    installed = re.compile(r"qwen2\.5:0\.5b: 100% · Installed qwen2\.5:0\.5b \([\d.]+ MB\) in ")
    expect(s.page.get_by_test_id("stProgress").filter(has_text=installed)).to_be_visible(timeout=WAIT_MS)
    (job,) = list_jobs()
    assert job.status == "done" and job.model == "qwen2.5:0.5b"
    table = s.page.get_by_test_id("stDataFrame").first
    expect(table).to_contain_text("qwen2.5:0.5b", timeout=WAIT_MS)  # the page refreshed when the job ended
    s.screens.shot("pull-done", bar)


def create_budget(s: Session) -> None:
    s.go("Budgets & alerts")
    form = s.page.get_by_test_id("stForm").filter(has_text="New budget")
    form.get_by_role("combobox", name="Scope", exact=True).click()
    s.page.get_by_role("option", name="A workspace").click()
    form.get_by_label("Scope id or name", exact=True).fill("T-E2E")
    form.get_by_label("Limit", exact=True).fill("0")
    form.get_by_role("button", name="Add budget").click()
    expect(s.page.get_by_text("A limit of 0 would block every paid request.")).to_be_visible(timeout=WAIT_MS)
    assert list_budgets() == []
    form.get_by_label("Limit", exact=True).fill("25")
    form.get_by_role("button", name="Add budget").click()
    added = "Added the monthly budget for workspace T-E2E: $25.00 per month, hard stop, alerts at 50%, 80%, 100%."
    expect(s.page.get_by_text(added)).to_be_visible(timeout=WAIT_MS)
    (budget,) = list_budgets()
    assert (budget.scope, budget.period, budget.limit, budget.hard) == ("workspace:T-E2E", "month", 25.0, True)
    table = s.page.get_by_test_id("stDataFrame").filter(has_text="in flight").first
    expect(table).to_contain_text("Monthly budget for workspace T-E2E", timeout=WAIT_MS)
    expect(table).to_contain_text("$25.00")
    s.screens.shot("budget-created", table)


def see_usage_charts(s: Session) -> None:
    paid = TurnResult("fakeai/gpt-4o", "fakeai", "ok", "Ok.", prompt_tokens=1200, completion_tokens=300, cost_usd=0.75)
    turn(("slack", "W-E2E", "C-E2E", "T-E2E"), "Plan the launch", paid)
    unpriced = TurnResult("fakeai/mystery", "fakeai", "ok", "Hm.", prompt_tokens=40, completion_tokens=2, cost_usd=None)
    turn(("slack", "W-E2E", "C-E2E", "T-E2E"), "And this?", unpriced)
    s.go("Usage")
    s.settle()
    expect(s.page.get_by_test_id("stVegaLiteChart").first).to_be_visible(timeout=WAIT_MS)
    expect(s.page.get_by_test_id("stMetric").filter(has_text="Cost")).to_contain_text("$0.75")
    expect(s.page.get_by_text("1 reply of unknown price (fakeai/mystery (1))")).to_be_visible()
    table = s.page.get_by_test_id("stDataFrame").filter(has_text="fakeai/gpt-4o").first
    expect(table).to_contain_text("1200", timeout=WAIT_MS)
    expect(table).to_contain_text("1500")
    with s.page.expect_download() as download:
        s.page.get_by_role("button", name="Download CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines == [
        "model,replies,prompt tokens,completion tokens,tokens,cost (USD),unknown-price replies",
        "fakeai/gpt-4o,1,1200,300,1500,0.75,0",
        "fakeai/mystery,1,40,2,42,,1",
    ], lines
    s.screens.shot("usage", table)


def tour_every_page(s: Session) -> None:
    for spec in PAGES:
        s.go(spec.title)
        s.settle()
        s.screens.shot(f"page-{spec.url_path}")


STEPS: list[Callable[[Session], None]] = [
    sign_in,
    add_a_provider,
    check_the_connection,
    pull_a_model,
    create_budget,
    see_usage_charts,
    tour_every_page,
]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=OPENAI_KEY) as fake:
        yield fake


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_admin_in_a_real_browser(
    cli: Cli, sb_env: dict[str, str], tmp_path: Path, fake_openai: FakeOpenAI, local_ollama: FakeOllama
) -> None:
    require_chromium()
    local_ollama.tick_s, local_ollama.bytes_per_tick = 0.05, 5_000_000  # ~4 s for qwen2.5:0.5b
    made = cli.subprocess("admin", "set-password", input=f"{PASSWORD}\n")
    assert made.returncode == 0, made.stderr

    with AdminServer(sb_env, tmp_path, tmp_path / "admin.log") as server, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(server.url)
        session = Session(page, Screens(page), fake_openai, local_ollama)
        for step in STEPS:
            step(session)
