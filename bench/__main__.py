"""Every path a chat message can take, side by side, against raw `litellm.acompletion` on the same loopback server.

    make bench                 # or: python -m bench --paths raw router core slack discord --concurrency 1 50 200

Paths (bench/paths.py, each in a process of its own; the fake OpenAI in another, bench/server.py):
- raw: `litellm.acompletion(..., stream=True)`, read to the end of the stream as litellm documents it;
- router: a bare litellm Router, set up and read like ours;
- core: `core.chat.handle`, everything a chat message goes through (storage, routing, the Router, cost), SQLite;
- slack: a signed Events API request into the real `switchboard slack` in HTTP mode, the reply streamed into a
  fake Slack (bench/platforms.py);
- discord: a gateway MESSAGE_CREATE from a fake Discord into the real `switchboard discord`, the reply streamed
  through the fake's REST API.

Rounds alternate (raw, router, core, slack, discord, raw, ...) at each level of concurrency, so drift of this VM
hits every path alike.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PATHS = ("raw", "router", "core", "slack", "discord")
IN_PROCESS = {"raw", "router", "core"}
RAW_READS = {"end": "to its end", "usage": "up to the usage chunk, like the core"}
WARM = {"raw": 20, "router": 20, "core": 20, "slack": 10, "discord": 10}
FIRST_TEXT_TARGET_MS = 250.0
MAX_UPDATES_PER_S = 1.0

Result = dict[str, Any]


# ---------------------------------------------------------------- the path processes


class Runner:
    """One `python -m bench.paths PATH` process, asked one command at a time."""

    def __init__(self, name: str, args: argparse.Namespace, url: str, home: Path, env: dict[str, str]) -> None:
        self.name = name
        home.mkdir(parents=True, exist_ok=True)
        self.log_path = home / "runner.log"
        command = [sys.executable, "-m", "bench.paths", name, "--openai", url, "--raw-read", args.raw_read]
        command += ["--slack-streaming", args.slack_streaming]
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, cwd=home, env=env
            )
        self.pid = 0

    def answer(self) -> Result:
        from bench.paths import ANSWER

        assert self.proc.stdout is not None
        while line := self.proc.stdout.readline():
            if line.startswith(ANSWER):
                return dict(json.loads(line[len(ANSWER) :]))
        tail = self.log_path.read_text()[-4000:]
        raise RuntimeError(f"the {self.name} path stopped; its log ends with:\n{tail}")

    def ask(self, **cmd: Any) -> Result:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self.answer()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask(cmd="quit")
                self.proc.wait(90)
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)


def _copy_database(template: Path, target: Path) -> None:
    src, dst = sqlite3.connect(template), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _run(runner: Runner, provider: int, **cmd: Any) -> Result:
    """One run, with the CPU that the fake provider and (for Slack and Discord) the fake platform used meanwhile."""
    from bench.paths import cpu_seconds

    before = cpu_seconds(provider), cpu_seconds(runner.proc.pid)
    result = runner.ask(cmd="run", **cmd)
    result["provider_cpu_seconds"] = cpu_seconds(provider) - before[0]
    result["harness_cpu_seconds"] = cpu_seconds(runner.proc.pid) - before[1]
    return result


def measure(args: argparse.Namespace, url: str, tmp: Path, template: Path, provider: int) -> list[Result]:
    runners: dict[str, Runner] = {}
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base["PYTHONPATH"] = str(ROOT) + os.pathsep + base.get("PYTHONPATH", "")
    if args.profile_bots:
        args.profile_bots.mkdir(parents=True, exist_ok=True)
    try:
        for name in args.paths:
            home = tmp / name
            home.mkdir()
            _copy_database(template, home / "switchboard.db")
            env = base | {"SWITCHBOARD_DATA_DIR": str(home), "DATABASE_URL": f"sqlite:///{home / 'switchboard.db'}"}
            if args.profile_bots and name in ("slack", "discord"):
                suffix = "txt" if args.profiler == "py-spy" else "prof"
                env["BENCH_BOT_PROFILE"] = str((args.profile_bots / f"{name}.{suffix}").resolve())
                env["BENCH_BOT_PROFILER"] = args.profiler
            runners[name] = Runner(name, args, url, home, env)
        for runner in runners.values():
            runner.pid = int(runner.answer()["pid"])
        _log(f"paths ready: {', '.join(f'{n} (pid {r.pid})' for n, r in runners.items())}")
        for name, runner in runners.items():  # imports, connection pools, the database's pages, the bots' caches
            warm = runner.ask(cmd="run", level=5, messages=WARM[name], tag="warm")
            if warm["errors"]:
                raise RuntimeError(f"the {name} path failed while warming up: {warm['errors'][:3]}")
            if name in IN_PROCESS and args.python_gc == "tuned":
                runner.ask(cmd="tune_gc")
        results: list[Result] = []
        for level, messages, rounds in zip(args.concurrency, args.messages, args.rounds, strict=True):
            for r in range(rounds):
                for name, runner in runners.items():
                    result = _run(runner, provider, level=level, messages=messages, tag=f"c{level}r{r}", round=r)
                    results.append(result)
                    _log(
                        f"{name:8} {level:4} threads, round {r + 1}/{rounds}: {messages / result['seconds']:6.1f} "
                        f"msgs/s, p50 {_pct(result['latencies'], 50):7.1f} ms"
                        + (f", {len(result['errors'])} failed" if result["errors"] else "")
                    )
        if args.steady_rate > 0:
            for name, runner in runners.items():
                result = _run(runner, provider, level=0, rate=args.steady_rate, messages=args.steady_messages, tag="s")
                results.append(result)
                _log(
                    f"{name:8} a message every {1 / args.steady_rate:.2f} s: p50 {_pct(result['latencies'], 50):7.1f} "
                    f"ms, first text p95 {_pct(result['first_visible'], 95):7.1f} ms"
                )
        return results
    finally:
        for runner in runners.values():
            runner.close()


_started = time.monotonic()


def _log(text: str) -> None:
    sys.stderr.write(f"[{time.monotonic() - _started:6.0f} s] {text}\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- summaries


def _pct(values: list[float], q: float, scale: float = 1000.0) -> float:
    """The q-th percentile (nearest rank) of `values`, times `scale` (seconds to ms by default); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))] * scale


def _of(results: list[Result], path: str, level: int) -> list[Result]:
    return [r for r in results if r["path"] == path and r["level"] == level]


def _pooled(results: list[Result], path: str, level: int, key: str) -> list[float]:
    return [v for r in _of(results, path, level) for v in r[key]]


def _throughput(r: Result) -> float:
    return float(r["messages"] - len(r["errors"])) / float(r["seconds"])


def _share(results: list[Result], path: str, base: str, level: int) -> float:
    """Median over rounds of path's throughput / base's in the same round (drift cancels out)."""
    ours = {r["round"]: _throughput(r) for r in _of(results, path, level)}
    theirs = {r["round"]: _throughput(r) for r in _of(results, base, level)}
    rounds = sorted(ours.keys() & theirs.keys())
    return statistics.median(ours[i] / theirs[i] for i in rounds) if rounds else float("nan")


def core_rows(results: list[Result], levels: list[int]) -> list[dict[str, float]]:
    """The core-vs-raw table (medians over rounds of each run's median latency, as it always was)."""
    rows = []
    for level in levels:

        def median(path: str, of: Any, level: int = level) -> float:
            return statistics.median(of(r) for r in _of(results, path, level))

        ms = {p: median(p, lambda r: statistics.median(r["latencies"]) * 1000) for p in ("raw", "router", "core")}
        tp = {p: median(p, _throughput) for p in ("raw", "router", "core")}
        cpu = {p: median(p, lambda r: r["cpu_seconds"] / r["messages"] * 1000) for p in ("raw", "router", "core")}
        rows.append(
            {
                "concurrency": level,
                "raw_ms": ms["raw"],
                "router_ms": ms["router"],
                "core_ms": ms["core"],
                "ratio": ms["core"] / ms["raw"],
                "raw_tp": tp["raw"],
                "router_tp": tp["router"],
                "core_tp": tp["core"],
                "tp_share": _share(results, "core", "raw", level),
                "router_share": _share(results, "router", "raw", level),
                "core_vs_router": _share(results, "core", "router", level),
                "raw_cpu": cpu["raw"],
                "router_cpu": cpu["router"],
                "core_cpu": cpu["core"],
            }
        )
    return rows


def core_table(rows: list[dict[str, float]]) -> str:
    lines = [
        "| concurrent threads | raw acompletion ms/msg | bare Router ms/msg | core ms/msg | core / raw per msg "
        "| raw msgs/s | Router msgs/s | core msgs/s | core throughput vs raw | Router vs raw | core vs Router "
        "| CPU ms/msg raw / Router / core |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['concurrency']:.0f} | {r['raw_ms']:.1f} | {r['router_ms']:.1f} | {r['core_ms']:.1f} "
            f"| {r['ratio']:.3f}x | {r['raw_tp']:.1f} | {r['router_tp']:.1f} | {r['core_tp']:.1f} "
            f"| {r['tp_share'] * 100:.1f}% | {r['router_share'] * 100:.1f}% | {r['core_vs_router'] * 100:.1f}% "
            f"| {r['raw_cpu']:.1f} / {r['router_cpu']:.1f} / {r['core_cpu']:.1f} |"
        )
    return "\n".join(lines)


def _threads(n: int) -> str:
    return f"{n} thread" if n == 1 else f"{n} threads"


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.0f}"  # NaN: nothing measured


def path_rows(results: list[Result], paths: list[str], levels: list[int]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        peak_rss = max((r["peak_rss_mb"] for r in results if r["path"] == path), default=0.0)
        for level in levels:
            runs = _of(results, path, level)
            if not runs:
                continue
            lat = _pooled(results, path, level, "latencies")
            raw = _pooled(results, "raw", level, "latencies")
            rows.append(
                {
                    "path": path,
                    "level": level,
                    "p50": _pct(lat, 50),
                    "p95": _pct(lat, 95),
                    "added_p50": _pct(lat, 50) - _pct(raw, 50),
                    "added_p95": _pct(lat, 95) - _pct(raw, 95),
                    "tp": statistics.median(_throughput(r) for r in runs),
                    "tp_share": _share(results, path, "raw", level),
                    "cpu_ms": statistics.median(r["cpu_seconds"] / r["messages"] * 1000 for r in runs),
                    "rss": peak_rss,
                    "first_p50": _pct(_pooled(results, path, level, "first_visible"), 50),
                    "first_p95": _pct(_pooled(results, path, level, "first_visible"), 95),
                    "last_p50": _pct(_pooled(results, path, level, "after_last"), 50),
                    "last_p95": _pct(_pooled(results, path, level, "after_last"), 95),
                    "writes": statistics.mean(r.get("writes_per_message", 0.0) for r in runs),
                    "peak_ups": max(r.get("peak_updates_per_s", 0.0) for r in runs),
                    "failed": sum(len(r["errors"]) for r in runs),
                    "sent": sum(r["messages"] for r in runs),
                    "http_429": sum(r.get("http_429", 0) for r in runs),
                }
            )
    return rows


def paths_tables(rows: list[dict[str, Any]]) -> str:
    one = [
        "| path | concurrent threads | ms/msg p50 | p95 | added over raw p50 | p95 | msgs/s | throughput vs raw "
        "| CPU ms/msg | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    two = [
        "| path | concurrent threads | first text after the provider's first token, ms p50 | p95 "
        "| reply complete after its last token, ms p50 | p95 | writes per message | most updates/s of one message "
        "| failed / sent | 429s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        raw, platform_path = r["path"] == "raw", r["path"] in ("slack", "discord")
        added = ("-", "-", "-") if raw else (f"{r['added_p50']:+.0f}", f"{r['added_p95']:+.0f}", f"{r['tp_share']:.1%}")
        one.append(
            f"| {r['path']} | {r['level']} | {_ms(r['p50'])} | {_ms(r['p95'])} | {added[0]} | {added[1]} "
            f"| {r['tp']:.1f} | {added[2]} | {r['cpu_ms']:.1f} | {r['rss']:.0f} |"
        )
        writes = (f"{r['writes']:.2f}", f"{r['peak_ups']:.2f}", str(r["http_429"])) if platform_path else ("-",) * 3
        two.append(
            f"| {r['path']} | {r['level']} | {_ms(r['first_p50'])} | {_ms(r['first_p95'])} "
            f"| {_ms(r['last_p50'])} | {_ms(r['last_p95'])} | {writes[0]} | {writes[1]} "
            f"| {r['failed']} / {r['sent']} | {writes[2]} |"
        )
    return "\n".join(one) + "\n\n" + "\n".join(two)


def cores_table(results: list[Result], paths: list[str], levels: list[int]) -> str:
    """How busy each process was during the runs of the Slack and Discord paths (medians over rounds)."""
    lines = [
        "| path | concurrent threads | the bot | the fake OpenAI | the fake platform and its people "
        "| in all, cores (of 2) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for path in (p for p in paths if p in ("slack", "discord")):
        for level in levels:
            runs = _of(results, path, level)
            if not runs or "provider_cpu_seconds" not in runs[0]:
                continue
            bot, provider, harness = (
                statistics.median(r[key] / r["seconds"] for r in runs)
                for key in ("cpu_seconds", "provider_cpu_seconds", "harness_cpu_seconds")
            )
            lines.append(
                f"| {path} | {level} | {bot:.0%} | {provider:.0%} | {harness:.0%} | {bot + provider + harness:.2f} |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def steady_rows(results: list[Result], paths: list[str]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        for r in (r for r in results if r["path"] == path and r.get("rate")):
            rows.append(
                {
                    "path": path,
                    "rate": r["rate"],
                    "p50": _pct(r["latencies"], 50),
                    "p95": _pct(r["latencies"], 95),
                    "first_p50": _pct(r["first_visible"], 50),
                    "first_p95": _pct(r["first_visible"], 95),
                    "busy": r["cpu_seconds"] / r["seconds"],
                    "cpu_ms": r["cpu_seconds"] / r["messages"] * 1000,
                    "peak_ups": r.get("peak_updates_per_s", 0.0),
                    "platform": path in ("slack", "discord"),
                    "failed": len(r["errors"]),
                    "sent": r["messages"],
                }
            )
    return rows


def steady_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| path | messages a second | ms/msg p50 | p95 | first text after the provider's first token, ms p50 | p95 "
        "| CPU busy (of one core) | CPU ms/msg | most updates/s of one message | failed / sent |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ups = f"{r['peak_ups']:.2f}" if r["platform"] else "-"
        lines.append(
            f"| {r['path']} | {r['rate']:g} | {_ms(r['p50'])} | {_ms(r['p95'])} | {_ms(r['first_p50'])} "
            f"| {_ms(r['first_p95'])} | {r['busy']:.0%} | {r['cpu_ms']:.1f} | {ups} | {r['failed']} / {r['sent']} |"
        )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]], steady: list[dict[str, Any]], core: list[dict[str, float]] | None) -> str:
    lines = ["| target | measured in this run | met |", "| --- | --- | --- |"]
    for r in (r for r in steady if r["path"] == "slack"):
        ok = r["first_p95"] <= FIRST_TEXT_TARGET_MS
        lines.append(
            f"| Slack: first text ≤ {FIRST_TEXT_TARGET_MS:.0f} ms after the provider's first token, a message every "
            f"{1 / r['rate']:.2f} s | p50 {_ms(r['first_p50'])} ms, p95 {_ms(r['first_p95'])} ms "
            f"| {'yes' if ok else 'no'} (p95) |"
        )
    slack = [r for r in rows if r["path"] == "slack"]
    for r in slack:
        ok = r["first_p95"] <= FIRST_TEXT_TARGET_MS
        raw = next((x for x in rows if x["path"] == "raw" and x["level"] == r["level"]), None)
        baseline = f" (raw litellm here: p50 {_ms(raw['first_p50'])}, p95 {_ms(raw['first_p95'])})" if raw else ""
        lines.append(
            f"| Slack: first text ≤ {FIRST_TEXT_TARGET_MS:.0f} ms after the provider's first token, "
            f"{_threads(r['level'])} | p50 {_ms(r['first_p50'])} ms, p95 {_ms(r['first_p95'])} ms{baseline} "
            f"| {'yes' if ok else 'no'} (p95) |"
        )
    if slack:
        peak = max([r["peak_ups"] for r in slack] + [r["peak_ups"] for r in steady if r["path"] == "slack"])
        lines.append(
            f"| Slack: ≤ {MAX_UPDATES_PER_S:.0f} update/s per message | at most {peak:.2f}/s (1 / the shortest gap "
            f"between two writes of one message, every run) | {'yes' if peak <= MAX_UPDATES_PER_S else 'no'} |"
        )
    for row in core or []:
        if row["concurrency"] == 1:
            ok = row["ratio"] <= 1.10
            lines.append(f"| core ≤ 1.10x raw per message (1 thread) | {row['ratio']:.3f}x | {'yes' if ok else 'no'} |")
        if row["concurrency"] == 50:
            ok = row["tp_share"] >= 0.90
            lines.append(
                f"| core ≥ 90% of raw throughput (50 threads) | {row['tp_share'] * 100:.1f}% "
                f"| {'yes' if ok else 'no'} |"
            )
    return "\n".join(lines)


def _meta(args: argparse.Namespace, levels: str, when: datetime) -> str:
    load = getattr(args, "load", None)
    return (
        f"Run {when:%Y-%m-%d %H:%M UTC} on {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {levels}; fake server: first token after {args.ttft * 1000:.0f} ms, "
        f"{args.tokens} tokens {args.token_delay * 1000:.0f} ms apart; SQLite (WAL); Python GC: {args.python_gc}; "
        f"raw stream read {RAW_READS[args.raw_read]}."
        + (f" Load average (1 min) {args.load[0]:.1f} at the start, {args.load[1]:.1f} at the end." if load else "")
    )


def report(results: list[Result], args: argparse.Namespace, command: str, when: datetime) -> dict[str, str]:
    """The markdown blocks this run fills, by name."""
    levels = ", ".join(
        f"{_threads(c)}: {m} messages x {n} rounds"
        for c, m, n in zip(args.concurrency, args.messages, args.rounds, strict=True)
    )
    blocks: dict[str, str] = {}
    core = None
    if set(args.paths) >= IN_PROCESS:
        core = core_rows(results, args.concurrency)
        meta = _meta(args, levels, when) + " Shares are medians of the per-round ratios."
        blocks["bench" if args.raw_read == "end" else "bench-raw-usage"] = (
            f"{meta}\n\nCommand: `{command}`\n\n{core_table(core)}\n"
        )
    if args.raw_read == "end" and "raw" in args.paths:
        rows = path_rows(results, args.paths, args.concurrency)
        meta = (
            _meta(args, levels, when) + f" Slack streaming: {args.slack_streaming}. Percentiles pool every round's "
            "messages; throughput shares are medians of the per-round ratios."
        )
        steady = steady_rows(results, args.paths)
        tables = paths_tables(rows) + (f"\n\n{steady_table(steady)}" if steady else "")
        cores = cores_table(results, args.paths, args.concurrency)
        tables += f"\n\nCPU busy during the Slack and Discord runs, as a share of one core:\n\n{cores}" if cores else ""
        blocks["paths"] = f"{meta}\n\nCommand: `{command}`\n\n{tables}\n\n{targets(rows, steady, core)}\n"
    return blocks


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--paths", nargs="+", choices=PATHS, help="default: all (raw, router and core with --raw-read usage)"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument(
        "--messages", type=int, nargs="+", default=[30, 200, 400], help="messages per run: one, or one per level"
    )
    parser.add_argument(
        "--rounds", type=int, nargs="+", default=[3, 3, 2], help="alternating runs per path: one, or one per level"
    )
    parser.add_argument(
        "--steady-rate",
        type=float,
        default=5.0,
        help="after the levels, messages a second sent whether or not earlier replies are complete (0: none)",
    )
    parser.add_argument("--steady-messages", type=int, default=100, help="messages of that steady run")
    parser.add_argument("--ttft", type=float, default=0.05, help="fake time to first token, seconds")
    parser.add_argument("--token-delay", type=float, default=0.005, help="fake delay between tokens, seconds")
    parser.add_argument("--tokens", type=int, default=30, help="tokens per reply")
    parser.add_argument(
        "--python-gc",
        choices=["tuned", "default", "compare"],
        default="tuned",
        help="tuned: the bots' collector settings (core.runtime) in the raw, Router and core processes too; "
        "default: Python's there (the bots always tune theirs); compare: raw and core each under both, "
        "alternating in this process (first --concurrency level only)",
    )
    parser.add_argument(
        "--raw-read",
        choices=sorted(RAW_READS),
        default="end",
        help="end: read the raw stream to its end, as litellm documents (the baseline of the targets); usage: stop "
        "at the usage chunk, as the core does (written to its own section of the markdown file)",
    )
    parser.add_argument(
        "--slack-streaming",
        choices=["update", "native", "auto"],
        default="update",
        help="how the Slack bot streams (SWITCHBOARD_SLACK_STREAMING): update (post, then chat.update), native "
        "(chat.startStream/appendStream), auto (native when the app has the assistant:write scope, as the fake's has)",
    )
    parser.add_argument(
        "--profile-bots",
        type=Path,
        metavar="DIR",
        help="profile the Slack and Discord bots into DIR (summarise with python -m bench.profiles DIR/slack.prof)",
    )
    parser.add_argument(
        "--profiler",
        choices=["cprofile", "py-spy"],
        default="cprofile",
        help="cprofile: the bot's event-loop thread, in the process; py-spy: the thread holding the GIL, sampled "
        "from outside (BENCH_PY_SPY names the py-spy command)",
    )
    parser.add_argument(
        "--write",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="markdown file whose results sections are replaced ('-' to skip)",
    )
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="write the sections of a run kept under bench/results, run nothing"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the fake server and the paths still stop
    if args.report:
        rewrite(args.report, args.write)
        return
    if args.paths is None:
        args.paths = list(PATHS) if args.raw_read == "end" else ["raw", "router", "core"]
    args.paths = [p for p in PATHS if p in args.paths]
    for name in ("messages", "rounds"):
        values = getattr(args, name)
        if len(values) == 1:
            setattr(args, name, values * len(args.concurrency))
        elif len(values) != len(args.concurrency):
            parser.error(f"--{name}: give one value, or one per --concurrency level")
    command = "python -m bench " + " ".join(sys.argv[1:]) if sys.argv[1:] else "make bench"

    tmp = Path(tempfile.mkdtemp(prefix="sb-bench-"))
    template = tmp / "template.db"
    os.environ.update(
        SWITCHBOARD_DATA_DIR=str(tmp),
        DATABASE_URL=f"sqlite:///{template}",
        SWITCHBOARD_SECRET_KEY="YmVuY2htYXJrLWtleS1iZW5jaG1hcmsta2V5LWJlbmM=",
        SWITCHBOARD_SECRET_BACKEND="encrypted",
        SWITCHBOARD_NETWORK_CHECKS="false",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.server", str(args.ttft), str(args.token_delay), str(args.tokens)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        setup_core(url)
        if args.python_gc == "compare":
            gc_report(url, args, command)
            return
        _log(f"bench in {tmp}; fake OpenAI at {url}")
        load = os.getloadavg()[0]
        results = measure(args, url, tmp, template, server.pid)
        args.load = [load, os.getloadavg()[0]]
    finally:
        server.terminate()
        server.wait(10)
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    when = datetime.now(UTC)
    raw_file = ROOT / "bench" / "results" / f"runs-{when:%Y%m%d-%H%M%S}.json"
    settings = {k: v for k, v in vars(args).items() if k not in ("write", "report", "profile_bots")}
    raw_file.write_text(json.dumps({"command": command, "when": when.isoformat(), "args": settings, "runs": results}))
    _log(f"every run's figures are in {raw_file}")
    write_blocks(results, args, command, when)


def write_blocks(results: list[Result], args: argparse.Namespace, command: str, when: datetime) -> None:
    for name, text in report(results, args, command, when).items():
        print(f"<!-- {name} -->\n{text}")
        if str(args.write) != "-":
            update_doc(args.write, text, name)


def rewrite(saved: Path, write: Path) -> None:
    """The markdown blocks of a run kept under bench/results, with the command that ran it."""
    data = json.loads(saved.read_text())
    args = argparse.Namespace(**data["args"], write=write)
    write_blocks(data["runs"], args, data["command"], datetime.fromisoformat(data["when"]))


def setup_core(url: str) -> None:
    from core.models.sync import refresh
    from core.providers.store import add_provider

    add_provider("bench", "openai_compatible", base_url=url + "/v1")
    asyncio.run(refresh())


async def _drive(n: int, concurrency: int, one: Any) -> tuple[float, list[float], float]:
    latencies: list[float] = []
    counter = itertools.count()

    async def worker() -> None:
        while (i := next(counter)) < n:
            t0 = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - t0)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, time.process_time() - cpu


def gc_report(url: str, args: argparse.Namespace, command: str) -> None:
    """Python's collector settings against the bots', alternating in this one process (bench/collector.py)."""
    from bench import collector
    from bench.paths import Core, Raw

    raw, core = Raw(url, stop_at_usage=False), Core()

    def driven(path: Raw | Core, prefix: str) -> Any:
        return lambda i: path.one(f"{prefix}.{i}", 0)

    async def run() -> list[dict[str, float | str]]:
        await _drive(20, 5, driven(raw, "gc-warm-raw"))
        await _drive(20, 5, driven(core, "gc-warm-core"))
        paths = {"raw": lambda key: driven(raw, f"gc-raw-{key}"), "core": lambda key: driven(core, f"gc-core-{key}")}
        return await collector.compare(paths, _drive, args.messages[0], args.concurrency[0], args.rounds[0])

    rows = asyncio.run(run())
    meta = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.concurrency[0]} concurrent threads, {args.messages[0]} messages per "
        f"run, {args.rounds[0]} rounds alternating Python's collector settings and the bots' in one process."
    )
    text = collector.report(rows, meta, command)
    print(text)
    if str(args.write) != "-":
        update_doc(args.write, text, "gc")


def update_doc(path: Path, report: str, block: str = "bench") -> None:
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{report}{end}{tail}")


if __name__ == "__main__":
    main()
