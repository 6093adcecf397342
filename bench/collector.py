"""`python -m bench --python-gc compare`: the same path under Python's default collector settings and under the
bots' (core.runtime.tune_gc), alternating in one process so that machine drift hits both alike."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from core.runtime import tune_gc

DEFAULT_THRESHOLD = (700, 10, 10)  # CPython's


class GcClock:
    """CPU seconds spent inside collections, via gc.callbacks."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds += time.process_time() - self._started


def _apply(setting: str) -> None:
    if setting == "tuned":
        tune_gc()
    else:
        gc.unfreeze()
        gc.set_threshold(*DEFAULT_THRESHOLD)


async def compare(
    paths: dict[str, Callable[[str], Callable[[int], Awaitable[None]]]],
    drive: Callable[..., Awaitable[tuple[float, list[float], float]]],
    messages: int,
    level: int,
    rounds: int,
) -> list[dict[str, float | str]]:
    """Per path: median CPU and GC ms per message under each setting, and the median paired CPU ratio."""
    clock = GcClock()
    gc.callbacks.append(clock)
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for r in range(rounds):
            for name, make in paths.items():
                for setting in ("default", "tuned"):
                    _apply(setting)
                    clock.seconds = 0.0
                    _, _, cpu = await drive(messages, level, make(f"{r}-{setting}"))
                    samples.setdefault((name, setting), []).append(
                        (cpu / messages * 1000, clock.seconds / messages * 1000)
                    )
    finally:
        gc.callbacks.remove(clock)
        _apply("default")
    rows: list[dict[str, float | str]] = []
    for name in paths:
        default, tuned = samples[(name, "default")], samples[(name, "tuned")]
        rows.append(
            {
                "path": name,
                "cpu_default": statistics.median(c for c, _ in default),
                "cpu_tuned": statistics.median(c for c, _ in tuned),
                "gc_default": statistics.median(g for _, g in default),
                "gc_tuned": statistics.median(g for _, g in tuned),
                "ratio": statistics.median(t[0] / d[0] for d, t in zip(default, tuned, strict=True)),
            }
        )
    return rows


def report(rows: list[dict[str, float | str]], meta: str, command: str) -> str:
    lines = [
        "| path | CPU ms/msg, Python's GC | CPU ms/msg, tuned | tuned / default (paired) "
        "| in collections ms/msg, Python's GC | in collections ms/msg, tuned |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['path']} | {r['cpu_default']:.1f} | {r['cpu_tuned']:.1f} | {r['ratio']:.3f}x "
            f"| {r['gc_default']:.2f} | {r['gc_tuned']:.2f} |"
        )
    return f"{meta}\n\nCommand: `{command}`\n\n" + "\n".join(lines) + "\n"
