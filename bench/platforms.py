"""The Slack and Discord paths of `python -m bench`: the real bot process (`python -m bot.cli slack|discord`, as a
user runs it) against a loopback fake of the platform that lives in the bench's path process (bench/paths.py),
which also plays the people who write to the bot.

- Slack: a signed Events API request (an `app_mention`, signed with the v0 scheme as Slack signs it) to the bot in
  HTTP mode; the reply streams into the fake Slack. Every message starts a thread, in a channel of its own.
- Discord: a MESSAGE_CREATE mentioning the bot, sent by the fake gateway; the bot starts a thread on the message
  and streams its reply there through the fake REST API. Every concurrent thread has a channel of its own.

The fakes note, on the platform's side, when a watched reply first shows text and when it is complete (its
footer is there), by CLOCK_MONOTONIC, and every write to each message of the reply.

`BENCH_BOT_PROFILE=FILE` in the environment profiles the bot (see `Bot`), written to FILE when the bench stops it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.paths import Sample, text_of
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack, SlackSender

SECRET = "bench-signing-secret-6f1d2c0a9b8e7f65"
TIMEOUT_S = 120.0  # a reply not complete after this long counts as failed
WRITES = {"chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream"}


class Watch:
    """One reply the bench waits for. `saw` runs on the fake's thread, the future belongs to the bench's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[float] = loop.create_future()
        self.visible = 0.0
        self.writes: dict[str, list[float]] = {}  # message id -> CLOCK_MONOTONIC of each write to it

    def saw(self, message: str, at: float, text: str, complete: bool) -> None:
        self.writes.setdefault(message, []).append(at)
        if not self.visible and text.strip():
            self.visible = at
        if complete:
            self.loop.call_soon_threadsafe(self._complete, at)

    def _complete(self, at: float) -> None:
        if not self.future.done():
            self.future.set_result(at)


def write_stats(watches: list[Watch]) -> dict[str, Any]:
    """Per message of a reply: how many writes, and how fast they came (1 / the shortest gap between two)."""
    counts, peaks, means = [], [], []
    for watch in watches:
        for times in watch.writes.values():
            counts.append(len(times))
            if len(times) > 1:
                gaps = [b - a for a, b in itertools.pairwise(times)]
                peaks.append(1 / max(min(gaps), 1e-6))
                means.append((len(times) - 1) / max(times[-1] - times[0], 1e-6))
    return {
        "writes_per_message": sum(counts) / len(counts) if counts else 0.0,
        "peak_updates_per_s": max(peaks, default=0.0),
        "mean_updates_per_s": sum(means) / len(means) if means else 0.0,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bot:
    """`python -m bot.cli KIND` in a child process, its output in a log file next to the database.

    BENCH_BOT_PROFILE=FILE profiles it: under cProfile (its event loop's thread), or with BENCH_BOT_PROFILER=py-spy
    under py-spy (whichever thread holds the GIL, sampled from outside; BENCH_PY_SPY is the py-spy command). `python -m
    bench.profiles FILE` summarises either.
    """

    def __init__(self, kind: str, env: dict[str, str]) -> None:
        full = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | env
        command = [sys.executable, "-m", "bot.cli", kind]
        profile = os.environ.get("BENCH_BOT_PROFILE")
        sampled = bool(profile) and os.environ.get("BENCH_BOT_PROFILER") == "py-spy"
        if profile and sampled:
            spy = os.environ.get("BENCH_PY_SPY", "py-spy")
            # --gil: the thread holding the GIL, so where Python's CPU goes; --nonblocking: the bot is not paused
            options = ["--format", "raw", "--rate", "250", "--gil", "--nonblocking", "--full-filenames", "-o", profile]
            command = [spy, "record", *options, "--", *command]
        elif profile:
            command[1:1] = ["-m", "cProfile", "-o", profile]
        self.log = Path(os.getcwd()) / f"{kind}-bot.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(command, env=full, stdout=out, stderr=subprocess.STDOUT, text=True)
        self.pid = _child_of(self.proc.pid) if sampled else self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def failed(self, what: str) -> RuntimeError:
        tail = self.log.read_text()[-3000:] if self.log.exists() else ""
        return RuntimeError(f"{what}; the bot's log ends with:\n{tail}")

    async def stop(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)  # the bot itself, also under py-spy (which then writes its profile)
            try:
                await asyncio.to_thread(self.proc.wait, 60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 10)


def _child_of(pid: int) -> int:
    """The process `pid` started (py-spy's bot)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError("py-spy did not start the bot")


async def _until(ready: Any, bot: Bot, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not await ready():
        if not bot.alive():
            raise bot.failed(f"the bot exited before {what}")
        if time.monotonic() > deadline:
            raise bot.failed(f"no {what} within {timeout:.0f} s")
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------- Slack


def _slack_footer(blocks: list[dict[str, Any]] | None) -> bool:
    """The context block under a finished reply (bot/slack/render.py footer_block); notices alone are not it."""
    for block in blocks or []:
        if block.get("type") == "context":
            elements = block.get("elements") or []
            if elements and not str(elements[0].get("text", "")).startswith(":information_source:"):
                return True
    return False


class BenchSlack(FakeSlack):
    """FakeSlack that tells the bench what happens to the replies it watches."""

    def __init__(self) -> None:
        super().__init__()
        self.watches: dict[tuple[str, str], Watch] = {}  # (channel, thread ts) -> the reply in that thread

    def _handle(self, call: Any, ws: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
        status, headers, body = super()._handle(call, ws)
        if status == 200 and body.get("ok") and call.method in WRITES:
            with self._state:
                msg = self._messages.get(str(body.get("channel")), {}).get(str(body.get("ts")))
                watch = self.watches.get((msg.channel, msg.thread_ts or "")) if msg is not None else None
                if msg is not None and watch is not None:
                    watch.saw(msg.ts, call.at, msg.text, _slack_footer(msg.blocks))
        return status, headers, body


class SlackPath:
    def __init__(self, streaming: str, *, paced: bool = False) -> None:
        """`paced`: the fake enforces Slack's published rate limits and the bot keeps to them (bench/burst.py)."""
        self.streaming = streaming
        self.paced = paced
        self.fake = BenchSlack()
        self.channel_ids = itertools.count()
        self.retries = 0  # events sent again after a failed request, as Slack does
        self.pending: dict[str, Watch] = {}
        self.threads: dict[str, tuple[str, str]] = {}  # message key -> (channel, thread ts)
        self.pid = 0
        self._calls_seen = 0

    async def start(self) -> None:
        self.fake.start()
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self.sender = SlackSender(self.url, SECRET, fake=self.fake)
        env = {
            "SLACK_API_URL": self.fake.api_url,
            "SLACK_BOT_TOKEN": self.fake.workspace().token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SWITCHBOARD_SLACK_MODE": "http",
            "SWITCHBOARD_SLACK_HOST": "127.0.0.1",
            "PORT": str(port),
            "SWITCHBOARD_SLACK_STREAMING": self.streaming,
        }
        if self.paced:
            self.fake.enforce_documented_limits()
        else:
            # The bot's own pacing to Slack's per-workspace limits would make this one workspace's limit the
            # figure (about a reply a second); here it is lifted, so the figures are the bot's own cost.
            env["SWITCHBOARD_SLACK_UPDATES_PER_MINUTE"] = "1000000"
        self.bot = Bot("slack", env)
        self.pid = self.bot.pid
        # Idle connections are dropped before uvicorn's keep-alive timeout (5 s) could close one under a request.
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400, keepalive_expiry=2.0)
        self.http = httpx.AsyncClient(timeout=30, limits=limits)

        async def healthy() -> bool:
            try:
                return (await self.http.get(f"http://127.0.0.1:{port}/healthz")).text == "ok"
            except httpx.HTTPError:
                return False

        await _until(healthy, self.bot, "health check")

    def _channel(self) -> str:
        """A new channel: Slack allows about one post a second per channel, which the bot keeps to, and that is
        not the figure here (a busy channel's threads share it)."""
        channel = f"C0BENCH{next(self.channel_ids):06d}"
        self.fake.add_channel(channel, channel.lower())
        return channel

    async def one(self, key: str, worker: int, channel: str | None = None) -> Sample:
        channel = channel or self._channel()
        event = self.sender.app_mention(text_of(key), channel=channel)
        self.threads[key] = (channel, event["ts"])
        watch = Watch(asyncio.get_running_loop())
        with self.fake._state:
            self.fake.watches[(channel, event["ts"])] = watch
        self.pending[key] = watch
        body = json.dumps(self.sender.envelope(event))
        started = time.monotonic()
        await self._deliver(body)
        done = await asyncio.wait_for(asyncio.shield(watch.future), TIMEOUT_S)
        return Sample(key, done - started, watch.visible, done)

    async def _deliver(self, body: str) -> None:
        """POST the event as Slack does: signed, and sent again (marked as a retry) when the request failed."""
        for attempt in range(3):
            retry = {"retry_num": attempt, "retry_reason": "http_error"} if attempt else {}
            headers = self.sender.signed_headers(body, "application/json", **retry)
            try:
                resp = await self.http.post(self.url, content=body.encode(), headers=headers)
            except httpx.TransportError:
                self.retries += 1
                continue
            if resp.status_code == 200:
                return
            raise RuntimeError(f"the bot answered {resp.status_code}: {resp.text[:200]}")
        raise RuntimeError("the bot did not take the event in three tries")

    def run_stats(self, samples: list[Sample]) -> dict[str, Any]:
        watches, self.pending = list(self.pending.values()), {}
        retries, self.retries = self.retries, 0
        with self.fake._state:
            self.fake.watches.clear()
            calls, self.fake.api_calls[:] = list(self.fake.api_calls), []
        with self.fake._lock:
            self.fake.requests.clear()
        methods: dict[str, int] = {}
        for call in calls:
            methods[call.method] = methods.get(call.method, 0) + 1
        return {
            **write_stats(watches),
            "calls": methods,
            "http_429": sum(1 for c in calls if c.status == 429),
            "failed_calls": sum(1 for c in calls if c.status == 200 and not (c.response or {}).get("ok", True)),
            "event_retries": retries,
        }

    async def close(self) -> None:
        await self.bot.stop()
        await self.http.aclose()
        self.fake.stop()


# ---------------------------------------------------------------- Discord


def _discord_footer(content: str) -> bool:
    """The footer line that ends a finished reply (bot/discord/render.py footer_line); notices are not it."""
    return any(line.startswith("-# ") and not line.startswith("-# ℹ️") for line in content.splitlines())


class BenchDiscord(FakeDiscord):
    """FakeDiscord that tells the bench what happens to the replies it watches."""

    def __init__(self) -> None:
        super().__init__()
        self.watches: dict[int, Watch] = {}  # thread id (Discord gives it the mention's id) -> the reply there

    def _observe(self, channel_id: int, message_id: int, content: str, at: float) -> None:
        watch = self.watches.get(channel_id)
        if watch is not None:
            watch.saw(str(message_id), at, content, _discord_footer(content))

    async def _do_send_message(self, call: Any) -> Any:
        at = time.monotonic()
        data = await super()._do_send_message(call)
        self._observe(int(call.params["channel_id"]), int(data["id"]), str(data.get("content") or ""), at)
        return data

    async def _edit(self, call: Any, msg: Any, body: dict[str, Any] | None, *, via: str | None = None) -> Any:
        at = time.monotonic()
        data = await super()._edit(call, msg, body, via=via)
        self._observe(msg.channel_id, msg.id, msg.content, at)
        return data


class DiscordPath:
    CHANNELS = 200

    def __init__(self) -> None:
        self.fake = BenchDiscord()
        self.pending: dict[str, Watch] = {}
        self.pid = 0

    async def start(self) -> None:
        fake = self.fake
        fake.start()
        self.channels = [fake.add_text_channel(fake.guild, f"bench-{n}") for n in range(self.CHANNELS)]
        env = {
            "DISCORD_BOT_TOKEN": fake.token,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GUILD_IDS": str(fake.guild["id"]),
        }
        self.bot = Bot("discord", env)
        self.pid = self.bot.pid

        async def connected() -> bool:
            return any(s.connected for s in fake.sessions.values())

        await _until(connected, self.bot, "gateway connection")
        await asyncio.sleep(3.0)  # the guild's channels reach the bot's cache (discord.py's guild_ready_timeout: 2 s)

    async def one(self, key: str, worker: int) -> Sample:
        fake = self.fake
        channel = self.channels[worker % self.CHANNELS]
        payload = fake.message_create(channel, fake.user, text_of(key), mentions=[fake.bot])
        watch = Watch(asyncio.get_running_loop())
        fake.watches[int(payload["id"])] = watch
        self.pending[key] = watch
        assert fake._loop is not None
        started = time.monotonic()
        sent = asyncio.run_coroutine_threadsafe(fake._dispatch("MESSAGE_CREATE", payload), fake._loop)
        if not await asyncio.wrap_future(sent):
            raise RuntimeError("no gateway session took the message")
        done = await asyncio.wait_for(asyncio.shield(watch.future), TIMEOUT_S)
        return Sample(key, done - started, watch.visible, done)

    def run_stats(self, samples: list[Sample]) -> dict[str, Any]:
        fake = self.fake
        watches, self.pending = list(self.pending.values()), {}
        with fake._mu:
            fake.watches.clear()
            calls, fake.api[:] = list(fake.api), []
            violations, fake.violations[:] = list(fake.violations), []
        with fake._lock:
            fake.requests.clear()
        actions: dict[str, int] = {}
        for call in calls:
            actions[call.action] = actions.get(call.action, 0) + 1
        return {
            **write_stats(watches),
            "calls": actions,
            "http_429": sum(1 for c in calls if c.status == 429),
            "violations": [f"{v.kind}: {v.detail}" for v in violations][:20],
            "violation_count": len(violations),
        }

    async def close(self) -> None:
        await self.bot.stop()
        self.fake.stop()
