"""The real admin app in a subprocess (`switchboard admin`) and Debian's Chromium driven by Playwright.

with AdminServer(env, cwd, log) as server, chromium() as browser:
    page = browser.new_page()
    page.goto(server.url)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, sync_playwright

from tests.helpers import closed_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    """Skip without Chromium, except under CI, where the browser test must run."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing under CI: install Debian's chromium package (.ci/run does).")
        pytest.skip(f"the browser test needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")


class AdminServer:
    """`switchboard admin` on a free loopback port, with the test's settings; stopped on exit."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.port = closed_port()
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env.update(
            env,
            SWITCHBOARD_ADMIN_PORT=str(self.port),
            SWITCHBOARD_ADMIN_ADDRESS="127.0.0.1",
            STREAMLIT_SERVER_FILE_WATCHER_TYPE="none",
        )
        self.cwd, self.log = cwd, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AdminServer:
        out = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "admin"], env=self.env, cwd=self.cwd, stdout=out, stderr=out
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"`switchboard admin` exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/_stcore/health", timeout=1).text == "ok":
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the admin did not come up on {self.url}: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@contextmanager
def chromium(viewport: tuple[int, int] = (1400, 1200)) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile (removed afterwards)."""
    profile = tempfile.mkdtemp(prefix="sb-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": viewport[0], "height": viewport[1]},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class TallShots:
    """Numbered whole-page screenshots in `folder` (emptied first). Streamlit scrolls inside its main area, so for
    each shot the window is made as tall as that area (at most `max_height`), then put back."""

    def __init__(self, page: Page, folder: Path, max_height: int) -> None:
        self.page, self.folder, self.max_height, self.n = page, folder, max_height, 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()

    def shot(self, name: str) -> Path:
        self.page.mouse.move(0, 0)
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        size = self.page.viewport_size or {"width": 1400, "height": 1000}
        tall = self.page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
        self.page.set_viewport_size({"width": size["width"], "height": min(max(int(tall), 600), self.max_height)})
        self.page.wait_for_timeout(400)
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(size)
        return path


class Screens:
    """Numbered screenshots under test-artifacts/screenshots/ (git-ignored), kept for people to look at."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.n = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for old in SCREENSHOTS.glob("*.png"):
            old.unlink()

    def shot(self, name: str, focus: Locator | None = None) -> Path:
        """Save a picture of the page, scrolled to `focus` if given."""
        if focus is not None:
            focus.scroll_into_view_if_needed()
        self.n += 1
        path = SCREENSHOTS / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path
