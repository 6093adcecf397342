"""`switchboard up` (what `make run` calls) starts the admin and the scheduler on embedded defaults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import httpx

from bot.scheduler import build_scheduler
from core.jobs import Leadership
from core.providers.store import add_provider, get_provider
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.helpers import closed_port


def test_up_without_bot_tokens_starts_admin_and_scheduler_and_says_how_to_enable_the_rest(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("up", "--dry-run", "--json")
    plan = json.loads(out.stdout)
    assert set(plan["start"]) == {"web", "scheduler"}
    assert "SLACK_BOT_TOKEN" in plan["skipped"]["slack"] and "DISCORD_BOT_TOKEN" in plan["skipped"]["discord"]
    with_slack = json.loads(cli("up", "--dry-run", "--json", env={"SLACK_BOT_TOKEN": "xoxb-1-2-3"}).stdout)
    assert "slack" in with_slack["start"]


def test_scheduler_runs_each_job_on_its_configured_interval(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.settings import get_settings

    monkeypatch.setenv("SWITCHBOARD_REGISTRY_REFRESH_MINUTES", "7")
    get_settings.cache_clear()
    sched = build_scheduler(Leadership())
    jobs = {j.id: j for j in sched.get_jobs()}
    assert jobs["refresh_registry"].trigger.interval.total_seconds() == 7 * 60
    assert "check_health" in jobs and "file_retention" in jobs
    monkeypatch.setenv("SWITCHBOARD_FILE_RETENTION_DAYS", "0")  # files kept for good: no job
    get_settings.cache_clear()
    assert "file_retention" not in {j.id for j in build_scheduler(Leadership()).get_jobs()}


def test_switchboard_up_serves_the_admin_and_refreshes_the_registry(sb_env) -> None:  # type: ignore[no-untyped-def]
    port = closed_port()
    with FakeOpenAI(models=["gpt-4o"], api_key=None) as fake:
        add_provider("box", "openai_compatible", base_url=fake.url + "/v1")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(sb_env, SWITCHBOARD_ADMIN_PORT=str(port), PATH=os.path.dirname(sys.executable) + ":" + env["PATH"])
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "up"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            health = None
            refreshed = None
            while time.monotonic() < deadline and not (health and refreshed):
                time.sleep(0.5)
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                        health = r.read().decode()
                except OSError:
                    pass
                view = get_provider("box")
                refreshed = view.last_refresh_at if view else None
            assert health == "ok"
            assert refreshed is not None  # the scheduler process ran the registry job
            assert fake.calls("/v1/models")
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            output, _ = proc.communicate(timeout=30)
    assert "Skipping slack" in output and "Skipping discord" in output
    assert "Traceback" not in output


def start_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    full.update(env, PATH=os.path.dirname(sys.executable) + ":" + os.environ["PATH"])
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def answers(url: str, deadline_s: float = 60) -> str | None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=2).text
        except httpx.HTTPError:
            time.sleep(0.5)
    return None


def test_the_web_process_serves_the_admin_on_the_port_a_platform_assigns(sb_env) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from tests.stsession import first_page

    port = closed_port()
    proc = start_cli(["admin"], {"PORT": str(port), "SWITCHBOARD_ADMIN_ADDRESS": "127.0.0.1"})
    try:
        assert answers(f"http://127.0.0.1:{port}/_stcore/health") == "ok"
        assert "Switchboard admin" in asyncio.run(first_page(port)).texts
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert "Traceback" not in output


def test_a_platform_port_binds_all_interfaces_unless_the_admin_address_is_set(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.settings import Settings

    assert Settings().admin_listen() == ("127.0.0.1", 8501)
    monkeypatch.setenv("PORT", "5000")
    assert Settings().admin_listen() == ("0.0.0.0", 5000)  # noqa: S104 (where the platform's router reaches it)
    monkeypatch.setenv("SWITCHBOARD_ADMIN_ADDRESS", "127.0.0.2")
    assert Settings().admin_listen() == ("127.0.0.2", 5000)
    monkeypatch.setenv("SWITCHBOARD_ADMIN_PORT", "8600")
    assert Settings().admin_listen() == ("127.0.0.2", 8600)


def test_up_keeps_port_for_slack_and_the_admin_where_it_says(cli, sb_env) -> None:  # type: ignore[no-untyped-def]
    plan = json.loads(cli("up", "--dry-run", "--json", env={"PORT": "5999"}).stdout)
    assert plan["admin"] == "http://127.0.0.1:8501"  # make run's documented URL, PORT or not
    slack_port, admin_port = closed_port(), closed_port()
    with FakeSlack() as fake:
        env = {
            **sb_env,
            "PORT": str(slack_port),
            "SWITCHBOARD_ADMIN_PORT": str(admin_port),
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": fake.workspace().token,
            "SLACK_SIGNING_SECRET": "s" * 32,
            "SWITCHBOARD_SLACK_MODE": "http",
            "SWITCHBOARD_SLACK_HOST": "127.0.0.1",
        }
        proc = start_cli(["up"], env)
        try:
            assert answers(f"http://127.0.0.1:{slack_port}/healthz") == "ok"
            assert answers(f"http://127.0.0.1:{admin_port}/_stcore/health") == "ok"
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            output, _ = proc.communicate(timeout=30)
    assert f"Admin: http://127.0.0.1:{admin_port}" in output and "Traceback" not in output


def test_a_retired_setting_still_set_is_named_with_what_replaced_it(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli.subprocess("status", env={"SWITCHBOARD_TURN_WAIT_SECONDS": "300"})
    assert "SWITCHBOARD_TURN_WAIT_SECONDS is no longer used" in out.stderr
    assert "SWITCHBOARD_STALE_REPLY_MINUTES" in out.stderr
    assert "no longer used" not in cli.subprocess("status").stderr
