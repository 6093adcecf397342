"""The content pages in a real headless Chromium against the real `switchboard admin`: Providers (a failed
connection test warns, a validation error keeps the form), Models (enable/disable and prices edited in the
table and stored), Ollama (any name:tag installed with live progress, a name the library lacks refused, a
failed pull dismissed), Conversations (a transcript read and exported as Markdown and JSON), and each of these
pages at 1400 and 800 px wide, a screenshot each in test-artifacts/screenshots/.

One browser, one admin server; each step is a function of `Session`, STEPS is the order.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlmodel import select

from core import attachments
from core.admins import set_password
from core.models.registry import get_model
from core.models.sync import refresh
from core.ollama import list_jobs
from core.providers.store import add_provider, get_provider
from core.storage.db import session
from core.storage.tables import Message
from core.types import IncomingFile, TurnResult
from tests.adminkit import PASSWORD, USERNAME
from tests.e2e.browserkit import SCREENSHOTS, AdminServer, Screens, chromium, require_chromium
from tests.fakes.ollama import FakeOllama, LibraryModel
from tests.fakes.openai import FakeOpenAI
from tests.fileskit import pdf, png
from tests.ollamakit import local_ollama
from tests.test_admin_browse import turn

__all__ = ["local_ollama"]  # the fixture, imported for pytest

KEY = "sk-test-content-4321"
WAIT_MS = 15_000
ROW_PX, HEADER_PX = 35, 35  # Streamlit's data editor: fixed row and header heights
MODEL_PX, ENABLED_PX, PRICE_PX = 220, 95, 120  # admin/views/models.py fixes these column widths
ENABLED_X, INPUT_X = MODEL_PX + ENABLED_PX // 2, MODEL_PX + ENABLED_PX + PRICE_PX // 2
TAG = "smollm2:135m-instruct-q4_K_M"  # not in the shipped catalog: typed by name


class ContentScreens(Screens):
    """Screens in test-artifacts/screenshots/content/, so the page tour's own pictures (one folder up) stay."""

    def __init__(self, page: Page) -> None:
        self.page, self.n = page, 0
        self.folder = SCREENSHOTS / "content"
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()

    def shot(self, name: str, focus: Locator | None = None) -> Path:
        if focus is not None:
            focus.scroll_into_view_if_needed()
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@dataclass
class Session:
    page: Page
    screens: Screens
    ollama: FakeOllama

    def go(self, title: str) -> None:
        self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        expect(self.page.get_by_role("heading", name=title, exact=True).first).to_be_visible(timeout=WAIT_MS)
        self.idle()

    def idle(self) -> None:
        expect(self.page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=WAIT_MS)

    def settle(self) -> None:
        self.idle()
        expect(self.page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=WAIT_MS)
        self.page.mouse.move(0, 0)
        self.page.wait_for_timeout(300)

    def alert(self, kind: str, text: str | re.Pattern[str]) -> Locator:
        """A visible st.success / st.warning / st.error / st.info holding `text`."""
        return self.page.get_by_test_id(f"stAlertContent{kind.capitalize()}").filter(has_text=text).first


def sign_in(s: Session) -> None:
    page = s.page
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=WAIT_MS)


def provider_add_warns_and_keeps_the_form(s: Session) -> None:
    s.go("Providers")
    form = s.page.get_by_test_id("stForm").filter(has_text="Add a provider")
    form.get_by_role("combobox", name="Kind").click()
    s.page.get_by_role("option", name="openai_compatible", exact=True).click()
    form.get_by_label("Name", exact=True).fill("bad name!")
    form.get_by_label("Base URL", exact=True).fill("http://127.0.0.1:9/v1")
    form.get_by_role("button", name="Add provider").click()
    expect(s.alert("error", "bad name!")).to_be_visible(timeout=WAIT_MS)
    s.idle()
    # what the user typed is still there, Kind included
    expect(form.get_by_label("Name", exact=True)).to_have_value("bad name!")
    expect(form.get_by_label("Base URL", exact=True)).to_have_value("http://127.0.0.1:9/v1")
    expect(form.get_by_role("combobox", name="Kind")).to_have_value("openai_compatible")
    assert get_provider("bad name!") is None
    s.screens.shot("providers-validation-kept", form)

    form.get_by_label("Name", exact=True).fill("gpu-box")
    form.get_by_role("button", name="Add provider").click()
    warning = s.alert("warning", "Added provider 'gpu-box'")
    expect(warning).to_contain_text("but the connection test failed", timeout=30_000)
    expect(s.page.get_by_test_id("stAlertContentSuccess")).to_have_count(0)
    assert get_provider("gpu-box") is not None  # added all the same: it may come up later
    s.idle()
    expect(form.get_by_label("Name", exact=True)).to_have_value("")  # a successful add empties the form
    s.screens.shot("providers-unreachable-warning", warning)


def _cell(grid: Locator, row: int, x: int) -> None:
    grid.click(position={"x": x, "y": HEADER_PX + ROW_PX * row + ROW_PX // 2})


def _search(s: Session, text: str) -> None:
    """Type into the Models page's search box. Right after a rerun the page's previous tabs can linger a moment
    beside the new ones, each with a Search box: wait until one is left."""
    box = s.page.get_by_test_id("stTextInput").filter(has_text="Search").get_by_role("textbox")
    expect(box).to_have_count(1, timeout=WAIT_MS)
    box.fill(text)
    box.press("Enter")


def models_edited_inline(s: Session) -> None:
    s.go("Models")
    _search(s, "gpt-4o-mini")
    expect(s.page.get_by_text("1 of ")).to_be_visible(timeout=WAIT_MS)
    s.settle()
    grid = s.page.get_by_test_id("stDataFrame").first
    # row 0 is oa/gpt-4o-mini: the model column first (pinned), then enabled, input, output
    _cell(grid, 0, ENABLED_X)  # untick Enabled
    expect(s.alert("success", "Saved oa/gpt-4o-mini: disabled.")).to_be_visible(timeout=WAIT_MS)
    model = get_model("oa/gpt-4o-mini")
    assert model is not None and not model.enabled
    s.settle()

    def type_price(value: str) -> None:
        grid.dblclick(position={"x": INPUT_X, "y": HEADER_PX + ROW_PX // 2})  # opens the cell's editor
        editor = s.page.locator("#portal input").first  # the grid draws its editor in a portal
        editor.fill(value)
        editor.press("Enter")

    type_price("-1")
    expect(s.alert("error", "The input price must be between 0 and 10000")).to_be_visible(timeout=WAIT_MS)
    s.settle()
    type_price("0.35")
    expect(s.alert("success", "Saved oa/gpt-4o-mini: price $0.35 in")).to_be_visible(timeout=WAIT_MS)
    model = get_model("oa/gpt-4o-mini")
    assert model is not None and model.input_usd_per_mtok == 0.35 and model.price_source == "override"
    s.settle()
    s.screens.shot("models-inline-edit", s.page.get_by_test_id("stDataFrame").first)
    _search(s, "")


def ollama_any_tag_and_a_failed_pull(s: Session) -> None:
    s.go("Ollama")
    field = s.page.get_by_label("Install any model by name", exact=True)
    field.fill(TAG)
    field.press("Enter")
    s.idle()
    s.page.get_by_role("button", name="Install by name").click()
    bar = s.page.get_by_test_id("stProgress").filter(has_text=TAG).first
    expect(bar).to_contain_text("%", timeout=WAIT_MS)
    expect(bar).to_contain_text(f"{TAG}: 100% · Installed {TAG}", timeout=WAIT_MS)
    assert [j.status for j in list_jobs() if j.model == TAG] == ["done"]

    s.idle()
    field.fill("nosuchmodel:7b")
    field.press("Enter")
    s.idle()
    s.page.get_by_role("button", name="Install by name").click()
    failed = s.alert("error", "nosuchmodel:7b")
    expect(failed).to_contain_text("There is no model called 'nosuchmodel:7b' in the Ollama library", timeout=WAIT_MS)
    expect(s.page.get_by_text(re.compile("switchboard ollama|--force"))).to_have_count(0)  # no CLI advice
    s.settle()
    s.screens.shot("ollama-failed-pull", failed)
    failed_row = s.page.get_by_test_id("stHorizontalBlock").filter(has=failed)
    failed_row.get_by_role("button", name="Dismiss").click()
    expect(s.page.get_by_test_id("stAlertContentError").filter(has_text="nosuchmodel")).to_have_count(0)
    assert [j.model for j in list_jobs()] == [TAG]


def transcript_opened_and_exported(s: Session) -> None:
    s.go("Conversations")
    expect(s.page.get_by_text("1 thread", exact=True)).to_be_visible(timeout=WAIT_MS)
    transcript = s.page.get_by_test_id("stChatMessage")
    expect(transcript.filter(has_text="What is a vector index?").first).to_be_visible(timeout=WAIT_MS)
    asked = transcript.filter(has_text="What is a vector index?").first
    expect(asked.get_by_test_id("stImage")).to_have_count(1)  # the diagram, as a thumbnail
    expect(asked).to_contain_text("diagram.png · image · ")
    expect(asked).to_contain_text("spec.pdf · PDF, 1 page · ")
    reply = transcript.filter(has_text="A map of embeddings.")
    expect(reply).to_contain_text("local/a · 1,200 in / 30 out tokens · $0.0021 · 850 ms, first token 120 ms")
    expect(reply).to_contain_text("fallback from oa/gpt-4o (rate limited (429))")
    files = {}
    for label in ("Export Markdown", "Export JSON"):
        with s.page.expect_download() as download:
            s.page.get_by_role("button", name=label).click()
        files[label] = Path(download.value.path()).read_text()
    md = files["Export Markdown"]
    assert md.startswith("# What is a vector index?\n") and "*local/a · 1,200 in / 30 out tokens" in md
    doc = json.loads(files["Export JSON"])
    assert doc["thread"]["title"] == "What is a vector index?"
    assert [m["role"] for m in doc["messages"]] == ["user", "assistant", "user", "assistant"]
    assert doc["messages"][-1]["fallback_from"] == "oa/gpt-4o"
    assert [(f["name"], f["kind"], f["kept"]) for f in doc["messages"][-2]["files"]] == [
        ("diagram.png", "image", True),
        ("spec.pdf", "document", True),
    ]
    assert "- Attached: diagram.png · image · " in md
    s.settle()
    s.screens.shot("conversations-transcript", reply)


def pages_at_two_widths(s: Session) -> None:
    for width in (1400, 800):
        s.page.set_viewport_size({"width": width, "height": 1000})
        for title in ("Providers", "Models", "Ollama", "Conversations"):
            s.go(title)
            s.settle()
            s.screens.shot(f"{title.lower()}-{width}")
            expect(s.page.get_by_text("$0.0…")).to_have_count(0)


@pytest.fixture
def fake_cloud() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=KEY) as fake:
        yield fake


def seed(cloud: FakeOpenAI) -> None:
    add_provider("oa", "openai", base_url=cloud.url + "/v1", api_key=KEY)
    asyncio.run(refresh())
    where = ("slack", "W-E2E", "C-E2E", "T-E2E")
    turn(where, "!model oa/gpt-4o", TurnResult("oa/gpt-4o", "oa", "ok", "Now using oa/gpt-4o."))
    turn(
        where,
        "What is a vector index?",
        TurnResult("local/a", "local", "ok", "A map of embeddings.", fallback_from="oa/gpt-4o",
                   fallback_reason="rate limited (429)", prompt_tokens=1200, completion_tokens=30, cost_usd=0.0021,
                   latency_ms=850, ttft_ms=120),
    )  # fmt: skip
    # the question came with a diagram and a spec, kept with it as the chat core keeps them
    with session() as s:
        asked = s.exec(select(Message).where(Message.content == "What is a vector index?")).one()
    files = (IncomingFile("diagram.png", "image/png", data=png(320, 200)), IncomingFile("spec.pdf", data=pdf("HNSW")))
    asyncio.run(attachments.take_in(files, asked.id or 0, asked.conversation_id))


STEPS: list[Callable[[Session], None]] = [
    sign_in,
    provider_add_warns_and_keeps_the_form,
    models_edited_inline,
    ollama_any_tag_and_a_failed_pull,
    transcript_opened_and_exported,
    pages_at_two_widths,
]


@pytest.mark.browser
@pytest.mark.timeout(90)
def test_content_pages_in_a_real_browser(
    sb_env: dict[str, str], tmp_path: Path, fake_cloud: FakeOpenAI, local_ollama: FakeOllama
) -> None:
    require_chromium()
    local_ollama.tick_s, local_ollama.bytes_per_tick = 0.05, 20_000_000
    local_ollama.library[TAG] = LibraryModel("llama", "135M", "Q4_K_M", 105_000_000, 8192, seed=TAG)
    set_password(USERNAME, PASSWORD)
    seed(fake_cloud)

    with AdminServer(sb_env, tmp_path, tmp_path / "admin.log") as server, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(server.url)
        session = Session(page, ContentScreens(page), local_ollama)
        for step in STEPS:
            try:
                step(session)
            except Exception:
                session.screens.shot(f"failed-in-{step.__name__}")
                raise
