"""End to end, in a real headless Chromium against the real `switchboard admin`: the Tools page and a transcript
with tool rounds. An admin reads the trust model, tries a remote server on a host nobody allowed (told why, with
what was typed kept), adds the loopback MCP fake as a stdio server, tests it and sees its tools and a tool's input
schema, marks close_ticket as asking the user first, and reads a thread whose reply used tools, each call opened
to its result, and exports it. Screenshots of each step, and of the pages at 1400 and 800 px, under
test-artifacts/screenshots/tools/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.tools.servers import get_server
from tests.adminkit import PASSWORD
from tests.conftest import Cli
from tests.e2e.browserkit import SCREENSHOTS, AdminServer, TallShots, chromium, require_chromium
from tests.e2e.test_admin_ops import CUT_FIGURES, WAIT_MS, go, settle
from tests.mcpkit import stdio_command
from tests.test_admin_tool_transcripts import SECRET, store_reply_with_tools

SHOTS = SCREENSHOTS / "tools"
WIDTHS = (1400, 800)
# Text wider than its box and cut off: tabs' and buttons' labels, expanders' summaries, and static tables (which
# wrap their cells, so one wider than the page is cut or scrolls).
CUT_LABELS = """[...document.querySelectorAll('[data-testid=stMain] button p, [data-testid=stMain] summary p')]
    .filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)"""
CUT_TABLES = """[...document.querySelectorAll('[data-testid=stTable], [data-testid=stTable] *')]
    .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX != 'visible')
    .map(e => e.innerText.slice(0, 60))"""


def refused_remote_server(page: Page, shots: TallShots) -> None:
    page.get_by_role("tab", name=re.compile("Remote")).click()
    form = page.get_by_test_id("stForm").filter(has_text="Header value")
    form.get_by_label("Name", exact=True).fill("docs")
    form.get_by_label("URL", exact=True).fill("https://mcp.example.com/mcp")
    form.get_by_label("Header value", exact=True).fill("Bearer s3cret-token-value")
    form.get_by_role("button", name="Add server").click()
    expect(page.get_by_text("Host 'mcp.example.com' is not in SWITCHBOARD_MCP_ALLOWED_HOSTS")).to_be_visible(
        timeout=WAIT_MS
    )
    settle(page)
    expect(form.get_by_label("Name", exact=True)).to_have_value("docs")  # nothing typed is lost
    expect(form.get_by_label("URL", exact=True)).to_have_value("https://mcp.example.com/mcp")
    assert get_server("docs") is None
    assert "s3cret-token-value" not in page.get_by_test_id("stMain").inner_text()
    shots.shot("remote-refused")


def add_and_test(page: Page, shots: TallShots) -> None:
    page.get_by_role("tab", name=re.compile("stdio")).click()
    form = page.get_by_test_id("stForm").filter(has_text="Command")
    form.get_by_label("Name", exact=True).fill("tickets")
    form.get_by_label("Command", exact=True).fill(stdio_command())
    form.get_by_role("button", name="Add server").click()
    expect(page.get_by_text("Added MCP server 'tickets' (everywhere).", exact=False)).to_be_visible(timeout=WAIT_MS)
    settle(page)
    expect(form.get_by_label("Name", exact=True)).to_have_value("")  # an add that worked empties the form
    table = page.get_by_test_id("stTable").filter(has_text="enabled in").first
    expect(table).to_contain_text("unchecked")
    expect(page.get_by_text("Not checked yet: test it to list its tools.")).to_be_visible()
    shots.shot("added")

    page.get_by_role("button", name="Test now").click()
    tested = re.compile(r"Tested just now: tickets answered in .* and lists .*lookup_ticket")
    expect(page.get_by_text(tested)).to_be_visible(timeout=30_000)
    settle(page)
    tools = page.get_by_test_id("stTable").filter(has_text="asks first").first
    expect(tools).to_contain_text("lookup_ticket")
    expect(tools).to_contain_text("close_ticket")
    stored = get_server("tickets")
    assert (
        stored is not None
        and stored.last_check_ok
        and {"lookup_ticket", "close_ticket"} <= {t.name for t in stored.tools}
    )
    schema = page.get_by_test_id("stExpander").filter(has_text="lookup_ticket").first
    schema.locator("summary").click()
    expect(schema.get_by_test_id("stJson")).to_contain_text("ticket_id", timeout=WAIT_MS)
    shots.shot("tested")


def ask_first(page: Page, shots: TallShots) -> None:
    form = page.get_by_test_id("stForm").filter(has_text="Ask the user before running")
    consent = form.get_by_role("combobox", name="Ask the user before running")
    consent.click()
    consent.press_sequentially("close_ticket")
    consent.press("Enter")
    page.keyboard.press("Escape")
    form.get_by_role("button", name="Save tools").click()
    expect(page.get_by_text("Saved the tools of 'tickets'.")).to_be_visible(timeout=WAIT_MS)
    settle(page)
    stored = get_server("tickets")
    assert stored is not None and stored.consent_tools == ("close_ticket",) and stored.allowed_tools is None
    expect(page.get_by_text(re.compile(r"^Up: checked .* tools offered\.$"))).to_be_visible()  # the test's note went
    servers = page.get_by_test_id("stTable").filter(has_text="enabled in").first
    expect(servers).to_contain_text(re.compile(r"(\d+) of \1 offered · 1 asks first"))
    shots.shot("consent-set")


def transcript(page: Page, shots: TallShots) -> None:
    expect(page.get_by_text("Ticket 42 is closed.")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text(re.compile(r"Tool round 1 · oa/gpt-4o · 100 in / 10 out tokens"))).to_be_visible()
    facts = re.compile(r"2 tool rounds, tools ran 2,400 ms · 600 in / 45 out tokens in all · \$0\.006")
    expect(page.get_by_text(facts)).to_be_visible()
    call = page.get_by_test_id("stExpander").filter(has_text="tickets.search").first
    expect(call.locator("summary")).to_contain_text("tickets.search(q=42, api_key=••••) · ok · 150 ms")
    call.locator("summary").click()
    expect(call.get_by_test_id("stCode").last).to_contain_text('"state": "closed"', timeout=WAIT_MS)
    slow = page.get_by_test_id("stExpander").filter(has_text="tickets.history").first
    slow.locator("summary").click()
    expect(slow).to_contain_text("The tool did not answer within 30 s.", timeout=WAIT_MS)
    assert SECRET not in page.get_by_test_id("stMain").inner_text()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export Markdown").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "- `tickets.search(q=42, api_key=••••)` · ok · 150 ms" in exported and SECRET not in exported
    assert "**Tool round 2 · oa/gpt-4o · 200 in / 15 out tokens" in exported
    settle(page)
    shots.shot("transcript")


@pytest.mark.browser
@pytest.mark.timeout(180)
def test_tools_page_and_a_transcript_with_tool_rounds_in_a_real_browser(
    cli: Cli, sb_env: dict[str, str], tmp_path: Path
) -> None:
    require_chromium()
    made = cli.subprocess("admin", "set-password", input=f"{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    store_reply_with_tools(("slack", "W-T", "C-T", "T-tools"))
    with AdminServer(sb_env, tmp_path, tmp_path / "admin.log") as server, chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(server.url)
        shots = TallShots(page, SHOTS, max_height=8000)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible(timeout=WAIT_MS)
        settle(page)
        go(page, "Tools")
        expect(page.get_by_text("SWITCHBOARD_MCP_ALLOWED_HOSTS (now: none yet)", exact=False)).to_be_visible()
        expect(page.get_by_text("never executed", exact=False)).to_be_visible()
        shots.shot("empty")
        refused_remote_server(page, shots)
        add_and_test(page, shots)
        ask_first(page, shots)
        go(page, "Conversations")
        transcript(page, shots)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 1000})
            for title, slug in (("Tools", "tools"), ("Conversations", "conversations"), ("Usage", "usage")):
                go(page, title)
                if title == "Conversations":
                    page.get_by_test_id("stExpander").filter(has_text="tickets.export").first.locator("summary").click()
                    settle(page)
                text = page.get_by_test_id("stMain").inner_text()
                assert "Traceback" not in text and SECRET not in text
                cut = page.evaluate(CUT_FIGURES) + page.evaluate(CUT_LABELS) + page.evaluate(CUT_TABLES)
                assert cut == [], f"text cut off at {width} px on {title}: {cut}"
                shots.shot(f"{slug}-{width}")
