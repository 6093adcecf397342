"""A burst of Slack replies with the fake Slack enforcing Slack's published rate limits (bot/slack/pacing.py).

    python -m bench.burst [--threads 100] [--channels 10] [--streaming auto]

The real `switchboard slack` (HTTP mode, SQLite), once warm, gets `--threads` mentions within one second, spread over
`--channels` channels of one workspace, each starting a thread. The fake provider streams each answer over about
three seconds, so replies overlap and want progress edits. The fake Slack answers 429 beyond the published
limits (tests/fakes/slack/web_api.py `enforce_documented_limits`). Reported: 429s (the target is none), answers
complete, lost or duplicated, time from the mention to the first text and to the whole answer, how the replies
were written (Slack streams, posts, edits), and the fastest updates of one message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.__main__ import ROOT, setup_core, update_doc
from bench.paths import Sample
from bench.platforms import SlackPath, write_stats


async def burst(path: SlackPath, threads: int, channels: int) -> tuple[list[Sample], list[str], float]:
    names = [f"C0BURST{n:05d}" for n in range(channels)]
    for name in names:
        path.fake.add_channel(name, name.lower())
    errors: list[str] = []

    async def mention(i: int) -> Sample | None:
        await asyncio.sleep(i / threads)  # all within one second
        try:
            return await path.one(f"burst.{i}", i, channel=names[i % channels])
        except Exception as exc:  # counted and shown
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
            return None

    started = time.monotonic()
    samples = [s for s in await asyncio.gather(*(mention(i) for i in range(threads))) if s is not None]
    return samples, errors, time.monotonic() - started


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    path = SlackPath(streaming=args.streaming, paced=True)
    await path.start()
    try:
        # A first message warms the bot (litellm's import finishes, connections open) and is not counted.
        await path.one("burst.warm", 0)
        path.run_stats([])
        path.threads.clear()
        await asyncio.sleep(61)  # its calls leave Slack's one-minute windows, as in a workspace that was quiet
        samples, errors, seconds = await burst(path, args.threads, args.channels)
        await asyncio.sleep(2.0)  # time for a duplicate answer to show, if there were one
        watches = list(path.pending.values())
        with path.fake._state:
            answers = {
                key: sum(1 for m in path.fake.bot_messages(channel, ts) if m.ts != ts and "tokens" in str(m.blocks))
                for key, (channel, ts) in path.threads.items()
            }
        stats = path.run_stats(samples)
    finally:
        await path.close()
    first = [s.visible - (s.done - s.latency) for s in samples if s.visible]
    return {
        "threads": args.threads,
        "channels": args.channels,
        "streaming": args.streaming,
        "seconds": seconds,
        "complete": len(samples),
        "errors": errors,
        "duplicated": sum(1 for n in answers.values() if n > 1),
        "first_ms": [v * 1000 for v in first],
        "done_s": [s.latency for s in samples],
        **stats,
        **write_stats(watches),
    }


def _spread(values: list[float], form: str, unit: str) -> str:
    figures = (_pct(values, 0.5), _pct(values, 0.95), max(values, default=0))
    return " / ".join(form.format(v) for v in figures) + f" {unit}"


def report(r: dict[str, Any], command: str) -> str:
    calls = r["calls"]
    meta = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {r['threads']} mentions within one second over {r['channels']} channels of "
        f"one workspace; SWITCHBOARD_SLACK_STREAMING={r['streaming']}; each answer streams 60 tokens 50 ms apart."
    )
    rows = [
        ("Slack 429s", f"{r['http_429']}"),
        ("answers complete", f"{r['complete']} of {r['threads']} ({len(r['errors'])} failed, {r['duplicated']} twice)"),
        ("mention to first text, p50 / p95 / max", _spread(r["first_ms"], "{:.0f}", "ms")),
        ("mention to whole answer, p50 / p95 / max", _spread(r["done_s"], "{:.1f}", "s")),
        ("whole burst answered in", f"{r['seconds']:.1f} s"),
        (
            "Slack streams started / stopped",
            f"{calls.get('chat.startStream', 0)} / {calls.get('chat.stopStream', 0)}",
        ),
        ("chat.appendStream calls", f"{calls.get('chat.appendStream', 0)}"),
        ("chat.postMessage / chat.update calls", f"{calls.get('chat.postMessage', 0)} / {calls.get('chat.update', 0)}"),
        ("writes per message (mean)", f"{r['writes_per_message']:.1f}"),
        ("fastest updates of one message", f"{r['peak_updates_per_s']:.2f} per second"),
    ]
    table = "| | |\n| --- | --- |\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    shown = "\n".join(f"- {e}" for e in r["errors"][:5])
    return f"{meta}\n\nCommand: `{command}`\n\n{table}\n" + (f"\nFailures:\n{shown}\n" if shown else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--streaming", choices=["update", "native", "auto"], default="auto")
    parser.add_argument("--write", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args()
    command = "python -m bench.burst " + " ".join(sys.argv[1:]) if sys.argv[1:] else "python -m bench.burst"

    tmp = Path(tempfile.mkdtemp(prefix="sb-burst-"))
    os.environ.update(
        SWITCHBOARD_DATA_DIR=str(tmp),
        DATABASE_URL=f"sqlite:///{tmp}/burst.db",
        SWITCHBOARD_SECRET_KEY="YmVuY2htYXJrLWtleS1iZW5jaG1hcmsta2V5LWJlbmM=",
        SWITCHBOARD_SECRET_BACKEND="encrypted",
        SWITCHBOARD_NETWORK_CHECKS="false",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.server", "0.05", "0.05", "60"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    cwd = os.getcwd()
    try:
        assert server.stdout is not None
        setup_core(server.stdout.readline().strip())
        os.chdir(tmp)  # the bot's log goes next to its database
        result = asyncio.run(measure(args))
    finally:
        os.chdir(cwd)
        server.terminate()
        server.wait(10)
    text = report(result, command)
    print(text)
    if result["http_429"] or result["errors"]:
        print(f"the bot's log: {tmp}/slack-bot.log", file=sys.stderr)
    if str(args.write) != "-":
        update_doc(args.write, text, "burst")


if __name__ == "__main__":
    main()
