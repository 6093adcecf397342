"""One path of `python -m bench`, in a process of its own, driven by the bench over stdin and stdout.

    python -m bench.paths PATH --openai URL [--python-gc tuned|default] [--raw-read end|usage]
                                            [--slack-streaming update|native|auto]

PATH is one of:
- raw: `litellm.acompletion(..., stream=True)` in this process;
- router: a bare litellm Router in this process, configured and read like ours;
- core: `core.chat.handle` in this process (everything a chat message goes through, on SQLite);
- slack, discord (bench/platforms.py): the real bot, `python -m bot.cli slack|discord`, in a child process,
  talking to a fake Slack or Discord that lives in this process, which also plays the people.

A process per path keeps each path's memory its own (peak RSS is the path's) and its CPU countable: this
process's for raw, router and core; the bot process's for Slack and Discord (/proc/PID/stat, all threads).

Commands, one JSON object a line on stdin: `{"cmd": "run", "level": 50, "messages": 200, "tag": "c50r0"}`
(`level` concurrent threads, each sending its next message when its previous reply is complete; with `"rate": R`
instead, a message every 1/R seconds whatever is still in flight), `{"cmd":
"tune_gc"}`, `{"cmd": "quit"}`. Answers are stdout lines that start with `@@bench ` followed by JSON; the first
says the path is ready. Each message's text carries `bench-key:KEY`, by which the fake OpenAI (bench/server.py)
records when it wrote the message's first and last token.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol

ANSWER = "@@bench "


@dataclass
class Sample:
    key: str
    latency: float  # seconds from sending the message to its reply being complete
    visible: float  # CLOCK_MONOTONIC when the reply's first text could be seen (0: never)
    done: float  # CLOCK_MONOTONIC when the reply was complete


class Path(Protocol):
    pid: int  # the process whose CPU and memory are this path's

    async def start(self) -> None: ...

    async def one(self, key: str, worker: int) -> Sample: ...

    def run_stats(self, samples: list[Sample]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


def text_of(key: str) -> str:
    return f"benchmark message bench-key:{key}"


# ---------------------------------------------------------------- /proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of `pid` so far (utime and stime of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


# ---------------------------------------------------------------- the in-process paths


class _InProcess:
    pid = os.getpid()

    async def start(self) -> None:
        return None

    def run_stats(self, samples: list[Sample]) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        return None


async def _read(response: Any, stop_at_usage: bool, started: float, key: str) -> Sample:
    """Read a litellm stream to its end, or, as core.providers.llm.Gateway.stream does, up to the usage chunk."""
    visible = 0.0
    try:
        async for chunk in response:
            if not visible and chunk.choices and chunk.choices[0].delta.content:
                visible = time.monotonic()
            if stop_at_usage and getattr(chunk, "usage", None) is not None:
                break
    finally:
        await response.aclose()
    done = time.monotonic()
    return Sample(key, done - started, visible, done)


class Raw(_InProcess):
    def __init__(self, url: str, stop_at_usage: bool) -> None:
        self.url, self.stop_at_usage = url, stop_at_usage

    async def one(self, key: str, worker: int) -> Sample:
        import litellm

        started = time.monotonic()
        response = await litellm.acompletion(
            model="openai/bench-model",
            api_base=self.url + "/v1",
            api_key="sk-bench",
            messages=[{"role": "user", "content": text_of(key)}],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=1024,
        )
        return await _read(response, self.stop_at_usage, started, key)


class Router(_InProcess):
    """A bare litellm Router with one deployment, set up and read like ours: retry policy, no cooldowns,
    callbacks off, and reading stops at the usage chunk (see core.providers.llm.Gateway.stream)."""

    def __init__(self, url: str) -> None:
        import litellm
        from litellm.types.router import RetryPolicy

        self.router = litellm.Router(
            model_list=[
                {
                    "model_name": "m",
                    "litellm_params": {"model": "openai/bench-model", "api_base": url + "/v1", "api_key": "sk-bench"},
                    "model_info": {"id": "m"},
                }
            ],
            retry_policy=RetryPolicy(RateLimitErrorRetries=1, TimeoutErrorRetries=1, InternalServerErrorRetries=1),
            num_retries=1,
            disable_cooldowns=True,
        )
        self.router.discard()

    async def one(self, key: str, worker: int) -> Sample:
        started = time.monotonic()
        response = await self.router.acompletion(
            model="m",
            messages=[{"role": "user", "content": text_of(key)}],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=1024,
        )
        return await _read(response, True, started, key)


class Core(_InProcess):
    """`core.chat.handle`: every message starts a thread of its own (the same request size as the raw call)."""

    async def one(self, key: str, worker: int) -> Sample:
        from core.chat import handle
        from core.types import Delta, Done, IncomingMessage

        msg = IncomingMessage(
            platform="bench", workspace="W", channel="C", thread=key, user="U", text=text_of(key), event_id=key
        )
        started, visible, done = time.monotonic(), 0.0, False
        async for event in handle(msg):
            if not visible and isinstance(event, Delta) and event.text:
                visible = time.monotonic()
            done = done or isinstance(event, Done)
        if not done:
            raise RuntimeError("the core path did not finish a reply")
        end = time.monotonic()
        return Sample(key, end - started, visible, end)


# ---------------------------------------------------------------- running


async def drive(path: Path, messages: int, level: int, tag: str) -> tuple[float, list[Sample], list[str]]:
    """`level` threads, each sending its next message once its previous reply is complete, `messages` in all."""
    samples: list[Sample] = []
    errors: list[str] = []
    counter = itertools.count()

    async def thread(worker: int) -> None:
        while (i := next(counter)) < messages:
            try:
                samples.append(await path.one(f"{tag}.{i}", worker))
            except Exception as exc:  # counted and shown, the run goes on
                errors.append(f"{type(exc).__name__}: {exc}"[:300])

    started = time.monotonic()
    await asyncio.gather(*(thread(w) for w in range(level)))
    return time.monotonic() - started, samples, errors


async def steady(path: Path, messages: int, rate: float, tag: str) -> tuple[float, list[Sample], list[str]]:
    """A message every 1/`rate` seconds, whether or not earlier replies are complete (an open loop)."""
    samples: list[Sample] = []
    errors: list[str] = []

    async def send(i: int) -> None:
        try:
            samples.append(await path.one(f"{tag}.{i}", i))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:300])

    started = time.monotonic()
    sent = []
    for i in range(messages):
        await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
        sent.append(asyncio.create_task(send(i)))
    await asyncio.gather(*sent)
    return time.monotonic() - started, samples, errors


def token_times(url: str, prefix: str) -> dict[str, list[float]]:
    with urllib.request.urlopen(f"{url}/bench/tokens?prefix={prefix}", timeout=30) as resp:
        return dict(json.loads(resp.read()))


async def run(path: Path, name: str, url: str, cmd: dict[str, Any]) -> dict[str, Any]:
    tag = f"{name}.{cmd['tag']}"
    cpu = cpu_seconds(path.pid)
    if cmd.get("rate"):
        seconds, samples, errors = await steady(path, int(cmd["messages"]), float(cmd["rate"]), tag)
    else:
        seconds, samples, errors = await drive(path, int(cmd["messages"]), int(cmd["level"]), tag)
    cpu = cpu_seconds(path.pid) - cpu
    await asyncio.sleep(0.2)  # the fake provider records a stream's times once it has written its end
    times = token_times(url, tag + ".")
    first_visible = [s.visible - times[s.key][0] for s in samples if s.visible and s.key in times]
    after_last = [s.done - times[s.key][1] for s in samples if s.key in times]
    return {
        "path": name,
        "level": cmd["level"],
        "rate": cmd.get("rate", 0),
        "round": cmd.get("round", 0),
        "messages": cmd["messages"],
        "seconds": seconds,
        "latencies": [s.latency for s in samples],
        "first_visible": first_visible,
        "after_last": after_last,
        "cpu_seconds": cpu,
        "errors": errors,
        "peak_rss_mb": peak_rss_mb(path.pid),
        **path.run_stats(samples),
    }


def emit(data: dict[str, Any]) -> None:
    sys.stdout.write(ANSWER + json.dumps(data) + "\n")
    sys.stdout.flush()


async def serve(path: Path, name: str, url: str) -> None:
    await path.start()
    emit({"ready": True, "pid": path.pid, "runner_pid": os.getpid()})
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            cmd = json.loads(line)
            if cmd["cmd"] == "run":
                emit(await run(path, name, url, cmd))
            elif cmd["cmd"] == "tune_gc":  # the bots' collector settings (core.runtime); the bots set their own
                from core.runtime import tune_gc

                tune_gc()
                emit({"ok": True})
            elif cmd["cmd"] == "quit":
                break
    finally:
        await path.close()
    emit({"closed": True})


def make(name: str, args: argparse.Namespace) -> Path:
    if name == "raw":
        return Raw(args.openai, stop_at_usage=args.raw_read == "usage")
    if name == "router":
        return Router(args.openai)
    if name == "core":
        return Core()
    from bench import platforms

    if name == "slack":
        return platforms.SlackPath(streaming=args.slack_streaming)
    if name == "discord":
        return platforms.DiscordPath()
    raise SystemExit(f"unknown path {name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", choices=["raw", "router", "core", "slack", "discord"])
    parser.add_argument("--openai", required=True, help="the fake OpenAI's URL (bench/server.py)")
    parser.add_argument("--raw-read", choices=["end", "usage"], default="end")
    parser.add_argument("--slack-streaming", choices=["update", "native", "auto"], default="update")
    args = parser.parse_args()
    asyncio.run(serve(make(args.path, args), args.path, args.openai))


if __name__ == "__main__":
    main()
