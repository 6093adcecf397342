"""A plain install runs every Procfile process.

`make test` installs the dev extra, whose packages can hide a missing run dependency (playwright brought greenlet,
which the Slack process needs). So these tests build a fresh venv the way `make run` installs
(`uv pip install -c constraints.txt -e .`, no extras), start each Procfile process with that venv's `switchboard`
against the loopback fakes, wait until the process is observably ready (the admin serves its page, the
scheduler ran a job, Slack connected or answers its health check, Discord identified on the gateway), then stop
it with SIGTERM: exit 0, no traceback. A process that dies on startup (an ImportError, say) fails its test.

They take about a minute, so outside CI they run only with SWITCHBOARD_TEST_FRESH_INSTALL=1.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.providers.store import add_provider, get_provider
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.helpers import closed_port
from tests.slackkit import SECRET, FakeSlackSocket
from tests.stsession import first_page

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.fresh_install, pytest.mark.timeout(300)]
_NOT_INHERITED = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE")


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {name.strip(): cmd.strip() for name, sep, cmd in (line.partition(":") for line in lines) if sep}


def build_run_venv(where: Path) -> Path:
    """A venv with the run dependencies only, installed as `make run` installs them; returns its bin dir."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    python = where / "bin" / "python"
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(where)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(python)]
    else:  # the Makefile's fallback when uv cannot be had
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        install = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*install, "-c", "constraints.txt", "-e", "."], cwd=ROOT, check=True, timeout=600)
    return where / "bin"


@pytest.fixture(scope="module")
def fresh_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (os.environ.get("CI") or os.environ.get("SWITCHBOARD_TEST_FRESH_INSTALL")):
        pytest.skip("builds a venv (about a minute in all): runs under CI or with SWITCHBOARD_TEST_FRESH_INSTALL=1")
    assert set(procfile()) == {"web", "scheduler", "slack", "discord"}, "each Procfile process needs its test here"
    bindir = build_run_venv(tmp_path_factory.mktemp("run-venv"))
    dev_only = subprocess.run(
        [str(bindir / "python"), "-c", "import importlib.util as u; print(u.find_spec('pytest') is not None)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert dev_only.stdout.strip() == "False", "the fresh venv must hold the run dependencies only"
    return bindir


class Process:
    """One Procfile process started from the fresh venv; its output goes to a file read at the end."""

    def __init__(self, bindir: Path, name: str, env: dict[str, str], log: Path) -> None:
        command = procfile()[name].split()
        assert command[0] == "switchboard", command
        full = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
        full.update(env, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
        self.name, self.log = name, log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [str(bindir / "switchboard"), *command[1:]],
            env=full,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_ready(self, ready: Callable[[], Any], what: str, timeout: float = 90) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before {what}:\n{self.output()}")
            value = ready()
            if value:
                return value
            time.sleep(0.3)
        raise AssertionError(f"{self.name}: no {what} within {timeout} s:\n{self.output()}")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as Procfile runners stop processes; (exit code, everything it printed)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self._out.close()
        return code, self.output()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._out.close()


@pytest.fixture
def start(fresh_bin: Path, sb_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def run(name: str, **env: str) -> Process:
        proc = Process(fresh_bin, name, {**sb_env, **env}, tmp_path / f"{name}.log")
        started.append(proc)
        return proc

    yield run
    for proc in started:
        proc.kill()


def stopped_cleanly(proc: Process) -> str:
    code, output = proc.stop()
    assert code == 0, f"{proc.name} exited {code} on SIGTERM:\n{output}"
    assert "Traceback" not in output, output
    return output


def test_web_serves_the_admin_sign_in_page(start: Callable[..., Process]) -> None:
    port = closed_port()
    web = start("web", SWITCHBOARD_ADMIN_PORT=str(port), SWITCHBOARD_ADMIN_ADDRESS="127.0.0.1")

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok"
        except httpx.HTTPError:
            return False

    web.wait_ready(healthy, "health check")
    page = asyncio.run(first_page(port))
    assert "Switchboard admin" in page.texts and not page.exceptions, page
    stopped_cleanly(web)


def test_scheduler_runs_its_first_registry_refresh(start: Callable[..., Process]) -> None:
    with FakeOpenAI(models=["gpt-4o"], api_key=None) as fake:
        add_provider("box", "openai_compatible", base_url=fake.url + "/v1")
        scheduler = start("scheduler")

        def refreshed() -> bool:
            view = get_provider("box")
            return view is not None and view.last_refresh_at is not None

        scheduler.wait_ready(refreshed, "registry refresh")
        assert fake.calls("/v1/models")
        stopped_cleanly(scheduler)


def test_slack_socket_mode_connects(start: Callable[..., Process]) -> None:
    with FakeSlackSocket() as fake:
        slack = start(
            "slack",
            SLACK_API_URL=fake.api_url,
            SLACK_BOT_TOKEN=fake.workspace().token,
            SLACK_APP_TOKEN="xapp-1-A0APP000001-socket-token",
            SWITCHBOARD_SLACK_MODE="socket",
        )
        slack.wait_ready(lambda: fake.sockets, "Socket Mode connection")
        assert "Slack bot connected in Socket Mode" in stopped_cleanly(slack)


def test_slack_http_mode_answers_its_health_check(start: Callable[..., Process]) -> None:
    port = closed_port()
    with FakeSlack() as fake:
        slack = start(
            "slack",
            SLACK_API_URL=fake.api_url,
            SLACK_BOT_TOKEN=fake.workspace().token,
            SLACK_SIGNING_SECRET=SECRET,
            SWITCHBOARD_SLACK_MODE="http",
            SWITCHBOARD_SLACK_HOST="127.0.0.1",
            PORT=str(port),
        )

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok"
            except httpx.HTTPError:
                return False

        slack.wait_ready(healthy, "health check")
        assert "Application shutdown complete" in stopped_cleanly(slack)


def test_discord_identifies_on_the_gateway(start: Callable[..., Process]) -> None:
    with FakeDiscord() as fake:
        discord = start(
            "discord",
            DISCORD_BOT_TOKEN=fake.token,
            DISCORD_API_BASE=fake.api_base,
            DISCORD_GUILD_IDS=fake.guild["id"],
        )
        discord.wait_ready(lambda: "Discord bot ready" in discord.output(), "ready log line")
        assert any(s.connected for s in fake.sessions.values())
        assert "Discord bot stopped" in stopped_cleanly(discord)
