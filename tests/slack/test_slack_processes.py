"""`switchboard slack` as operators run it: Socket Mode in one command, HTTP mode under uvicorn; both stop
cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.chatkit import CLOUD_KEY, World, make_world
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, SlackSender
from tests.helpers import closed_port
from tests.slackkit import CHANNEL, SECRET, FakeSlackSocket, footer_of, wait_for


@pytest.fixture
async def world() -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


@asynccontextmanager
async def switchboard_slack(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    full = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    full.update(env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "slack",
        env=full,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def stop(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    return proc.returncode or 0, err.decode()


async def test_socket_mode_runs_from_one_command(world: World, sb_env: dict[str, str]) -> None:
    with FakeSlackSocket() as fake:
        env = {
            **sb_env,
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": fake.workspace().token,
            "SLACK_APP_TOKEN": "xapp-1-A0APP000001-socket-token",
            "SWITCHBOARD_SLACK_MODE": "socket",
        }
        async with switchboard_slack(env) as proc:
            await wait_for(lambda: fake.sockets or proc.returncode is not None, timeout=40, what="a connection")
            assert proc.returncode is None
            sender = SlackSender("unused", SECRET, fake=fake)
            event = sender.app_mention("hello over the socket")
            envelope_id = fake.deliver(sender.envelope(event))
            await wait_for(lambda: envelope_id in fake.acks, what="the ack")
            reply = await wait_for(lambda: [m for m in fake.bot_messages(CHANNEL, event["ts"]) if footer_of(m)])
            code, err = await stop(proc)
    assert reply[0].text == "echo: hello over the socket" and reply[0].thread_ts == event["ts"]
    assert code == 0 and "Traceback" not in err


async def test_http_mode_serves_signed_events_and_health_checks(world: World, sb_env: dict[str, str]) -> None:
    port = closed_port()
    with FakeSlack() as fake:
        env = {
            **sb_env,
            "SLACK_API_URL": fake.api_url,
            "SLACK_BOT_TOKEN": fake.workspace().token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SWITCHBOARD_SLACK_MODE": "http",
            "SWITCHBOARD_SLACK_HOST": "127.0.0.1",
            "PORT": str(port),
        }
        async with switchboard_slack(env) as proc:

            def healthy() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).text == "ok"
                except httpx.HTTPError:
                    return proc.returncode is not None

            await wait_for(healthy, timeout=40, what="the health check")
            assert proc.returncode is None
            sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET, fake=fake)
            event = sender.app_mention("hello over http")
            assert (await sender.send_event(event)).status == 200
            reply = await wait_for(lambda: [m for m in fake.bot_messages(CHANNEL, event["ts"]) if footer_of(m)])
            code, err = await stop(proc)
    assert reply[0].text == "echo: hello over http"
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says how it ended
    assert code in (0, -signal.SIGTERM) and "Application shutdown complete" in err and "Traceback" not in err
