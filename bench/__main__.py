"""Our full message path against raw `litellm.acompletion`, side by side on the same loopback server.

    make bench                       # or: python -m bench --messages 200 --concurrency 1 50

Both paths stream the same reply from the same fake server (its own process). The core path is everything a
chat message goes through: idempotent storage of the message, model resolution, the Router, context building,
usage and cost, and storing the reply, on SQLite. Runs alternate (raw, core, raw, core, ...) so drift hits both.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


RAW_READS = {"end": "to its end", "usage": "up to the usage chunk, like the core"}


@dataclass
class Run:
    path: str
    concurrency: int
    messages: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float = 0.0  # process CPU (all threads) during the run
    round: int = 0

    @property
    def per_message_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def throughput(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds / self.messages * 1000


async def _drive(n: int, concurrency: int, one: object) -> tuple[float, list[float], float]:
    latencies: list[float] = []
    counter = itertools.count()

    async def worker() -> None:
        while (i := next(counter)) < n:
            t0 = time.perf_counter()
            await one(i)  # type: ignore[operator]
            latencies.append(time.perf_counter() - t0)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, time.process_time() - cpu


async def _read(response: object, stop_at_usage: bool) -> None:
    """Read a litellm stream to its end, or, as core.providers.llm.Gateway.stream does, up to the usage chunk."""
    try:
        async for chunk in response:  # type: ignore[attr-defined]
            if stop_at_usage and getattr(chunk, "usage", None) is not None:
                break
    finally:
        await response.aclose()  # type: ignore[attr-defined]


def make_raw(url: str, stop_at_usage: bool = False):  # type: ignore[no-untyped-def]
    import litellm

    async def one(i: int) -> None:
        response = await litellm.acompletion(
            model="openai/bench-model",
            api_base=url + "/v1",
            api_key="sk-bench",
            messages=[{"role": "user", "content": f"benchmark message {i}"}],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=1024,
        )
        await _read(response, stop_at_usage)

    return one


def make_router(url: str):  # type: ignore[no-untyped-def]
    """A bare litellm Router with one deployment, set up and read like ours: retry policy, no cooldowns, callbacks
    off, and reading stops at the usage chunk (see core.providers.llm.Gateway.stream)."""
    import litellm
    from litellm.types.router import RetryPolicy

    router = litellm.Router(
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
    router.discard()

    async def one(i: int) -> None:
        response = await router.acompletion(
            model="m",
            messages=[{"role": "user", "content": f"benchmark message {i}"}],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=1024,
        )
        await _read(response, stop_at_usage=True)

    return one


def make_core(run_id: str):  # type: ignore[no-untyped-def]
    from core.chat import handle
    from core.types import Done, IncomingMessage

    async def one(i: int) -> None:
        msg = IncomingMessage(
            platform="bench",
            workspace="W",
            channel="C",
            thread=f"{run_id}-{i}",
            user="U",
            text=f"benchmark message {i}",
            event_id=f"{run_id}-{i}",
        )
        done = False
        async for event in handle(msg):
            done = done or isinstance(event, Done)
        if not done:
            raise RuntimeError("the core path did not finish a reply")

    return one


def setup_core(url: str) -> None:
    from core.models.sync import refresh
    from core.providers.store import add_provider

    add_provider("bench", "openai_compatible", base_url=url + "/v1")
    asyncio.run(refresh())


async def measure(
    url: str, messages: int, levels: list[int], rounds: int, python_gc: str, raw_read: str = "end"
) -> list[Run]:
    raw, router, core = make_raw(url, stop_at_usage=raw_read == "usage"), make_router(url), make_core
    runs: list[Run] = []
    # warm every path (imports, connection pools, router, SQLite pages)
    await _drive(20, 5, raw)
    await _drive(20, 5, router)
    await _drive(20, 5, core("warm"))
    if python_gc == "tuned":  # the bots' process setup (core.runtime), for every path alike
        from core.runtime import tune_gc

        tune_gc()
    for level in levels:
        for r in range(rounds):
            for name in ("raw", "router", "core"):
                fn = {"raw": raw, "router": router}.get(name) or core(f"c{level}-{r}")
                seconds, lat, cpu = await _drive(messages, level, fn)
                runs.append(Run(name, level, messages, seconds, lat, cpu, r))
    return runs


def summarise(runs: list[Run], levels: list[int]) -> list[dict[str, float]]:
    rows = []
    for level in levels:

        def median(path: str, attr: str, level: int = level) -> float:
            return statistics.median(getattr(r, attr) for r in runs if r.path == path and r.concurrency == level)

        def paired(path: str, base: str, level: int = level) -> float:
            """Median over rounds of path's throughput / base's in the same round (drift cancels out)."""
            by_round = {(r.path, r.round): r.throughput for r in runs if r.concurrency == level}
            rounds = sorted({r.round for r in runs if r.concurrency == level})
            return statistics.median(by_round[(path, i)] / by_round[(base, i)] for i in rounds)

        raw_ms, router_ms, core_ms = (median(p, "per_message_ms") for p in ("raw", "router", "core"))
        raw_tp, router_tp, core_tp = (median(p, "throughput") for p in ("raw", "router", "core"))
        raw_cpu, router_cpu, core_cpu = (median(p, "cpu_ms") for p in ("raw", "router", "core"))
        rows.append(
            {
                "concurrency": level,
                "raw_ms": raw_ms,
                "router_ms": router_ms,
                "core_ms": core_ms,
                "ratio": core_ms / raw_ms,
                "raw_tp": raw_tp,
                "router_tp": router_tp,
                "core_tp": core_tp,
                "tp_share": paired("core", "raw"),
                "router_share": paired("router", "raw"),
                "core_vs_router": paired("core", "router"),
                "raw_cpu": raw_cpu,
                "router_cpu": router_cpu,
                "core_cpu": core_cpu,
            }
        )
    return rows


def write_report(rows: list[dict[str, float]], args: argparse.Namespace, command: str) -> str:
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
    table = "\n".join(lines)
    meta = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {args.messages} messages per run, {args.rounds} alternating rounds "
        f"per level; fake server: first token after {args.ttft * 1000:.0f} ms, {args.tokens} tokens "
        f"{args.token_delay * 1000:.0f} ms apart; SQLite (WAL); Python GC: {args.python_gc}; raw stream read "
        f"{RAW_READS[args.raw_read]}. Shares are medians of the per-round ratios."
    )
    return f"{meta}\n\nCommand: `{command}`\n\n{table}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200, help="messages per run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per path and level")
    parser.add_argument("--ttft", type=float, default=0.05, help="fake time to first token, seconds")
    parser.add_argument("--token-delay", type=float, default=0.005, help="fake delay between tokens, seconds")
    parser.add_argument("--tokens", type=int, default=30, help="tokens per reply")
    parser.add_argument(
        "--python-gc",
        choices=["tuned", "default", "compare"],
        default="tuned",
        help="tuned: the bots' collector settings (core.runtime), for all paths; default: Python's; "
        "compare: raw and core each under both, alternating (first --concurrency level only)",
    )
    parser.add_argument(
        "--raw-read",
        choices=sorted(RAW_READS),
        default="end",
        help="end: read the raw stream to its end, as litellm documents (the baseline of the targets); usage: stop "
        "at the usage chunk, as the core does (written to its own section of the markdown file)",
    )
    parser.add_argument(
        "--write",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="markdown file whose results section is replaced ('-' to skip)",
    )
    args = parser.parse_args()
    command = "python -m bench " + " ".join(sys.argv[1:]) if sys.argv[1:] else "make bench"

    tmp = tempfile.mkdtemp(prefix="sb-bench-")
    os.environ.update(
        SWITCHBOARD_DATA_DIR=tmp,
        DATABASE_URL=f"sqlite:///{tmp}/bench.db",
        SWITCHBOARD_SECRET_KEY="YmVuY2htYXJrLWtleS1iZW5jaG1hcmsta2V5LWJlbmM=",
        SWITCHBOARD_SECRET_BACKEND="encrypted",
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
        runs = asyncio.run(measure(url, args.messages, args.concurrency, args.rounds, args.python_gc, args.raw_read))
    finally:
        server.terminate()
        server.wait(10)
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    raw_file = ROOT / "bench" / "results" / f"runs-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    raw_file.write_text(json.dumps([{**r.__dict__, "latencies": r.latencies} for r in runs]))
    rows = summarise(runs, args.concurrency)
    report = write_report(rows, args, command)
    print(report)
    if str(args.write) != "-":
        update_doc(args.write, report, "bench" if args.raw_read == "end" else "bench-raw-usage")


def gc_report(url: str, args: argparse.Namespace, command: str) -> None:
    from bench import collector

    async def run() -> list[dict[str, float | str]]:
        raw = make_raw(url)
        await _drive(20, 5, raw)
        await _drive(20, 5, make_core("warm"))
        paths = {"raw": lambda _key: raw, "core": lambda key: make_core(f"gc-{key}")}
        return await collector.compare(paths, _drive, args.messages, args.concurrency[0], args.rounds)

    rows = asyncio.run(run())
    meta = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.concurrency[0]} concurrent threads, {args.messages} messages per run, "
        f"{args.rounds} rounds alternating Python's collector settings and the bots' in one process."
    )
    report = collector.report(rows, meta, command)
    print(report)
    if str(args.write) != "-":
        update_doc(args.write, report, "gc")


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
