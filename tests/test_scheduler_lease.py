"""Two scheduler processes on one database run each job once: one leads, the other stands by and takes over
when the leader is killed (core.jobs.Leadership over core.storage.leases). Real processes, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core.jobs import LEASE
from core.models.sync import refresh
from core.providers.store import add_provider
from core.storage.leases import current
from tests.conftest import ROOT, run_cli
from tests.fakes.openai import FakeOpenAI

LEASE_S = 3.0
RUNS = "job refresh_registry runs"


def _scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "scheduler"],
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _until(what: str, check: Callable[[], bool], seconds: float = 60) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"gave up waiting: {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def _holder() -> str:
    lease = current(LEASE)
    return lease.holder if lease else ""


async def test_two_schedulers_run_each_job_once_and_the_lead_moves_when_the_leader_dies(
    any_db: str, sb_env: dict[str, str], tmp_path: Path
) -> None:
    with FakeOpenAI(models=["llama"], api_key=None) as fake:
        add_provider("box", "openai_compatible", base_url=fake.url + "/v1")
        await refresh()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | sb_env
        env |= {"SWITCHBOARD_REGISTRY_REFRESH_MINUTES": "0.02", "SWITCHBOARD_SCHEDULER_LEASE_SECONDS": str(LEASE_S)}
        first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
        first = _scheduler(env, first_log)
        second: subprocess.Popen[str] | None = None
        try:
            _until("the first scheduler leads", lambda: f":{first.pid}:" in _holder())
            led = run_cli("status", env=sb_env)  # what an operator's probe sees
            assert led.returncode == 0, led.stdout + led.stderr
            assert f":{first.pid}:" in led.stdout and "PROBLEM" not in led.stdout
            second = _scheduler(env, second_log)
            _until("the second stands by", lambda: "stands by" in second_log.read_text())
            _until("the leader runs the job twice", lambda: first_log.read_text().count(RUNS) >= 2)
            time.sleep(2 * 1.2)  # two more intervals: the standby still runs nothing
            assert RUNS not in second_log.read_text()

            os.kill(first.pid, signal.SIGKILL)  # no clean shutdown: its lease has to expire
            first.wait(timeout=10)
            took = _until("the standby takes the lead", lambda: f":{second.pid}:" in _holder())
            assert took <= LEASE_S + LEASE_S / 3 + 2.0
            _until("the new leader runs the job", lambda: RUNS in second_log.read_text())
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGINT)
                    proc.wait(timeout=30)
    before = second_log.read_text().split("leads: it runs the jobs", 1)[0]
    assert RUNS not in before  # the second scheduler ran nothing while the first led
    gone = run_cli("status", "--json", env=sb_env)  # both stopped: the probe fails, and says why
    assert gone.returncode == 1
    (scheduler,) = [c for c in json.loads(gone.stdout) if c["check"] == "scheduler"]
    assert not scheduler["ok"] and "no scheduler leads" in scheduler["detail"]
    assert "Traceback" not in first_log.read_text() + second_log.read_text()
    assert second is not None and second.returncode == 0  # stopped cleanly, giving the lease up
    lease = current(LEASE)
    assert lease is not None and lease.expires_at.timestamp() <= time.time()
