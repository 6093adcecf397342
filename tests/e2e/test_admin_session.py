"""End to end, in a real headless Chromium against the real admin process: a first run led in by what the admin
prints (no docs, no extra command), then a sign-in that survives a reload, a new tab and a bookmarked page, ends
in every tab at sign-out (and the stolen cookie with it), and asks to sign in again after it idled out. No
"Deploy" button or Streamlit menu, and no "Page not found" pop-up anywhere. Screenshots land in
test-artifacts/screenshots/session/.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from core import admins
from tests.adminkit import PASSWORD, USERNAME
from tests.conftest import Cli
from tests.e2e.browserkit import SCREENSHOTS, AdminServer, chromium, require_chromium
from tests.helpers import closed_port

WAIT_MS = 30_000  # two shared cores: a first page run can take seconds
LINK = re.compile(r"(http://\S+)\?setup=([\w-]+)")
IDLE = "Your session ended after 0.1 minutes without activity. Sign in again."
SIGNED_OUT = "You were signed out: in another tab or window, or on the server. Sign in again."


class Shots:
    """Numbered screenshots of this file's tests, in their own folder (the page tour clears the parent's)."""

    def __init__(self, test: str) -> None:
        self.folder = SCREENSHOTS / "session"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prefix = test
        for old in self.folder.glob(f"{test}-*.png"):
            old.unlink()
        self.n = 0

    def shot(self, page: Page, name: str) -> Path:
        size = page.viewport_size or {"width": 1400, "height": 900}
        page.mouse.move(size["width"] - 5, size["height"] - 5)  # no hover highlight where the last click was
        page.wait_for_timeout(400)  # let the last delta paint
        self.n += 1
        path = self.folder / f"{self.prefix}-{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@dataclass
class Running:
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: re.Pattern[str], timeout_s: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = pattern.search(self.output())
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"{pattern.pattern!r} never appeared in:\n{self.output()[-3000:]}")


@contextmanager
def switchboard_up(env: dict[str, str], cwd: Path) -> Iterator[Running]:
    """`switchboard up` as `make run` starts it, in a terminal of its own; stopped with Ctrl+C (SIGINT to its
    process group, as a terminal sends it), which must stop everything cleanly."""
    port = closed_port()
    full = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    full.update(
        env,
        SWITCHBOARD_ADMIN_PORT=str(port),
        STREAMLIT_SERVER_FILE_WATCHER_TYPE="none",
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
    )
    log = cwd / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "up"], env=full, cwd=cwd, stdout=out, stderr=out, start_new_session=True
        )
    running = Running(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"`switchboard up` exited: {running.output()[-3000:]}"
            try:
                if httpx.get(f"{running.url}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError(f"the admin did not come up: {running.output()[-3000:]}")
        yield running
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"Ctrl+C did not stop `switchboard up`: {running.output()[-3000:]}") from None


def session_cookie(browser: BrowserContext, url: str, timeout_s: float = 30) -> dict[str, object]:
    """The admin's session cookie once the page has fetched it (it does so in the background after sign-in)."""
    port = url.rsplit(":", 1)[1]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for cookie in browser.cookies(url):
            if cookie["name"] == f"switchboard_admin_{port}":
                return dict(cookie)
        time.sleep(0.2)
    raise AssertionError(f"no session cookie: {browser.cookies(url)}")


def no_streamlit_chrome(page: Page) -> None:
    for test_id in ("stAppDeployButton", "stMainMenu", "stToolbarActions"):
        expect(page.get_by_test_id(test_id)).to_have_count(0)
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)


def no_page_not_found(page: Page) -> None:
    page.wait_for_timeout(1000)  # the pop-up comes with the page's first run, if at all
    expect(page.get_by_text("Page not found")).to_have_count(0)


def login_form(page: Page) -> None:
    expect(page.get_by_role("heading", name="Switchboard admin")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)  # no page but the login form
    expect(page.get_by_test_id("stSidebar")).to_be_hidden()  # not even an empty sidebar
    expect(page.get_by_test_id("stExpandSidebarButton")).to_be_hidden()


def signed_in_on(page: Page, title: str) -> None:
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("stSidebar")).to_contain_text(f"Signed in as {USERNAME}", timeout=WAIT_MS)


def sign_in(page: Page, password: str = PASSWORD) -> None:
    page.get_by_label("Username", exact=True).fill(USERNAME)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.browser
@pytest.mark.timeout(420)
def test_first_run_from_make_run_to_a_session_that_lasts_across_reloads_tabs_and_links(
    sb_env: dict[str, str], tmp_path: Path
) -> None:
    require_chromium()
    shots = Shots("first-run")
    with switchboard_up(sb_env, tmp_path) as up, chromium((1400, 900)) as browser:
        # What `make run` prints leads the way: the admin's URL, that a link follows, and the link itself.
        link = up.wait_for(LINK)
        printed = up.output()
        assert f"Admin: {up.url}" in printed and "Stop everything with Ctrl+C." in printed
        assert "No admin account yet: the admin (web) prints a one-time link below that creates one." in printed
        assert "No admin account exists yet. To create one, open this link (it works once, for 24 hours):" in printed
        assert link.group(1) == f"{up.url}/"
        assert not admins.has_admins()

        first = browser.new_page()
        first.set_default_timeout(WAIT_MS)
        first.goto(up.url)  # without the link: the page says where the link is
        expect(first.get_by_text("Open the one-time setup link the admin printed in the terminal")).to_be_visible(
            timeout=WAIT_MS
        )
        no_streamlit_chrome(first)
        shots.shot(first, "no-account-yet")

        first.goto(link.group(0))
        expect(first.get_by_role("heading", name="Welcome! Create the first admin account")).to_be_visible()
        expect(first).not_to_have_url(re.compile("setup="))  # the token left the address bar
        no_streamlit_chrome(first)
        shots.shot(first, "create-the-first-account")
        first.get_by_label("Password", exact=True).fill(PASSWORD)
        first.get_by_label("Repeat the password", exact=True).fill(PASSWORD + "!")
        first.get_by_role("button", name="Create account and sign in").click()
        expect(first.get_by_text("The two passwords differ: type the same password twice.")).to_be_visible()
        first.get_by_label("Password", exact=True).fill(PASSWORD)
        first.get_by_label("Repeat the password", exact=True).fill(PASSWORD)
        first.get_by_role("button", name="Create account and sign in").click()
        signed_in_on(first, "Overview")
        expect(first.get_by_text(f"Welcome, {USERNAME}. Next: add a provider under Providers")).to_be_visible()
        assert admins.admin_usernames() == [USERNAME] and admins.verify_login(USERNAME, PASSWORD)
        shots.shot(first, "signed-in-first-time")

        # The session lives in an HttpOnly cookie the page's scripts cannot read, stored only as a hash.
        cookie = session_cookie(browser, up.url)
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict", cookie
        assert "switchboard_admin" not in first.evaluate("document.cookie")
        token = str(cookie["value"])
        held = admins.session_by_token(token)
        assert held is not None and held.status() == "active" and held.username == USERNAME

        first.reload()  # F5
        signed_in_on(first, "Overview")
        no_page_not_found(first)
        shots.shot(first, "reloaded")

        second = browser.new_page()  # a new tab
        second.goto(up.url)
        signed_in_on(second, "Overview")

        third = browser.new_page()  # a bookmarked page
        third.goto(f"{up.url}/budgets")
        signed_in_on(third, "Budgets & alerts")
        no_page_not_found(third)
        no_streamlit_chrome(third)
        shots.shot(third, "bookmark-opens-budgets")

        spent = browser.new_page()  # the setup link again, signed in: just the app, the spent token gone
        spent.goto(link.group(0))
        signed_in_on(spent, "Overview")
        expect(spent).not_to_have_url(re.compile("setup="))
        spent.close()

        # Signing out in one tab ends the session in all of them, and the cookie with it.
        second.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
        login_form(second)
        shots.shot(second, "signed-out")
        ended = admins.session_by_token(token)
        assert ended is not None and ended.status() == "ended"
        first.get_by_test_id("stSidebarNav").get_by_role("link", name="Providers").click()
        login_form(first)
        expect(first.get_by_text(SIGNED_OUT)).to_be_visible()
        shots.shot(first, "other-tab-signed-out")
        third.reload()
        login_form(third)
        no_page_not_found(third)

        # A copy of the cookie taken before sign-out (a stolen one) opens nothing.
        browser.clear_cookies()
        browser.add_cookies([{"name": str(cookie["name"]), "value": token, "url": up.url}])
        thief = browser.new_page()
        thief.goto(f"{up.url}/providers")
        login_form(thief)
        thief.close()

        # A bookmarked page while signed out: the login form, then that page.
        third.goto(f"{up.url}/budgets")
        login_form(third)
        no_page_not_found(third)
        shots.shot(third, "bookmark-asks-to-sign-in")
        sign_in(third, "not the password")
        expect(third.get_by_text("Wrong username or password.")).to_be_visible()
        sign_in(third)
        signed_in_on(third, "Budgets & alerts")
        expect(third).to_have_url(f"{up.url}/budgets")
        no_page_not_found(third)
        shots.shot(third, "signed-in-on-the-bookmark")

    output = up.output()
    assert "Traceback" not in output, output[-3000:]
    assert link.group(2) not in output.replace(link.group(0), "", 1)  # printed once, in the link, logged nowhere


@pytest.mark.browser
@pytest.mark.timeout(300)
def test_an_idle_session_asks_to_sign_in_again(cli: Cli, sb_env: dict[str, str], tmp_path: Path) -> None:
    require_chromium()
    shots = Shots("idle")
    made = cli.subprocess("admin", "set-password", input=f"{PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    env = dict(sb_env, SWITCHBOARD_ADMIN_SESSION_MINUTES="0.1")  # 6 s without activity
    with AdminServer(env, tmp_path, tmp_path / "admin.log") as server, chromium((1400, 900)) as browser:
        log = (tmp_path / "admin.log").read_text()
        assert "?setup=" not in log  # an account exists: no first-run link
        page = browser.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{server.url}/usage")
        login_form(page)
        no_streamlit_chrome(page)
        sign_in(page)
        signed_in_on(page, "Usage")
        session_cookie(browser, server.url)
        page.reload()
        signed_in_on(page, "Usage")  # within the idle period, a reload keeps it

        page.wait_for_timeout(8_000)
        page.reload()
        login_form(page)
        expect(
            page.get_by_text("Your session ended after 0.1 minutes without activity. Sign in again.")
        ).to_be_visible()
        no_page_not_found(page)
        shots.shot(page, "ended-after-idling")

        sign_in(page)  # the form is on the page that was open, so it opens again
        signed_in_on(page, "Usage")
        page.wait_for_timeout(8_000)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Overview").click()  # a click, no reload
        login_form(page)
        expect(
            page.get_by_text("Your session ended after 0.1 minutes without activity. Sign in again.")
        ).to_be_visible()
        shots.shot(page, "ended-after-idling-in-the-tab")
    assert "Traceback" not in (tmp_path / "admin.log").read_text()
