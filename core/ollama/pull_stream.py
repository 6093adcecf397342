"""Turning Ollama's pull stream into progress people can read: per layer and overall bytes, percent, speed
and ETA. Bytes a layer already had (on disk, or resumed from a partial) count as done but not as speed."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import replace
from typing import Any

from core.ollama.pull_jobs import JobView, LayerProgress

SPEED_WINDOW_S = 5.0


def describe_status(status: str) -> str:
    """Ollama's status line, as a short phrase for the job's detail."""
    if status.startswith("pulling ") and status != "pulling manifest":
        return f"downloading {status.removeprefix('pulling ')}"
    return {"pulling manifest": "fetching the manifest", "success": "finishing"}.get(status, status)


class Progress:
    """Progress of one pull, fed with the stream's events."""

    def __init__(self, expected_total: int | None = None) -> None:
        self.expected_total = expected_total or 0
        self.layers: dict[str, dict[str, int]] = {}
        self.status = "starting"
        self.succeeded = False
        self._downloaded = 0
        self._samples: deque[tuple[float, int]] = deque()

    def feed(self, status: str | None, digest: str | None, total: int | None, completed: int | None) -> None:
        self.status = status or self.status
        if self.status == "success":
            self.succeeded = True
        if not digest:
            return
        layer = self.layers.get(digest)
        done = int(completed or 0)
        if layer is None:
            # The first report of a layer may jump straight to bytes it already had: not downloaded now.
            self.layers[digest] = {"n": len(self.layers), "total": int(total or 0), "completed": done}
        else:
            self._downloaded += max(0, done - layer["completed"])
            layer["completed"] = max(layer["completed"], done)
            layer["total"] = int(total or layer["total"])
        now = time.monotonic()
        self._samples.append((now, self._downloaded))
        while self._samples and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.popleft()

    @property
    def total(self) -> int:
        seen = sum(layer["total"] for layer in self.layers.values())
        # Layers show up one at a time: until the last one appears, the expected size is the better total.
        return seen if self.succeeded else max(seen, self.expected_total)

    @property
    def completed(self) -> int:
        return sum(min(layer["completed"], layer["total"] or layer["completed"]) for layer in self.layers.values())

    @property
    def speed_bps(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 - t0 >= 0.2 else None

    @property
    def eta_s(self) -> float | None:
        speed = self.speed_bps
        if not speed or not self.total:
            return None
        return max(0.0, (self.total - self.completed) / speed)

    def unfinished(self) -> list[str]:
        """Digests of layers that started but did not finish: the ones that may have partial files."""
        return [d for d, layer in self.layers.items() if layer["completed"] < layer["total"] or not layer["total"]]

    def values(self) -> dict[str, Any]:
        """The job columns this progress sets."""
        return {
            "detail": describe_status(self.status),
            "total_bytes": self.total,
            "completed_bytes": self.completed,
            "layers": {d: dict(v) for d, v in self.layers.items()},
            "speed_bps": self.speed_bps,
            "eta_s": self.eta_s,
        }

    def apply(self, job: JobView) -> JobView:
        """`job` as it stands now in this process, without a database round trip."""
        ordered = sorted(self.layers.items(), key=lambda kv: kv[1]["n"])
        return replace(
            job,
            status="running",
            detail=describe_status(self.status),
            total_bytes=self.total,
            completed_bytes=self.completed,
            layers=tuple(LayerProgress(d, v["total"], v["completed"]) for d, v in ordered),
            speed_bps=self.speed_bps,
            eta_s=self.eta_s,
        )
