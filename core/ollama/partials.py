"""Removing a cancelled pull's partial download. Ollama keeps `blobs/sha256-<hex>-partial` (data) and
`-partial-N` (resume points) so a later pull can resume; a cancel means "I don't want it", so we delete them,
which needs the models directory, i.e. a server on this machine."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.ollama.servers import Server, models_dir

SETTLE_S = 0.3  # the server writes its resume point after it notices we hung up: look again until quiet
MAX_WAIT_S = 3.0


@dataclass(frozen=True)
class PartialCleanup:
    removed_files: int
    removed_bytes: int  # on disk
    possible: bool  # False: the server is remote or its models directory is unknown
    where: str


def _files(blobs: Path, digests: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for digest in digests:
        stem = digest.replace(":", "-")
        if not stem.startswith("sha256-") or "/" in stem:
            continue
        found += [p for p in blobs.glob(f"{stem}-partial*") if p.is_file()]
    return found


async def remove_partials(server: Server, digests: Iterable[str]) -> PartialCleanup:
    """Delete the partial files of these layer digests, waiting briefly for the server to let go of them."""
    located = models_dir(server)
    if located is None:
        return PartialCleanup(0, 0, False, server.host)
    blobs = located[0] / "blobs"
    wanted = sorted(set(digests))
    removed = removed_bytes = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MAX_WAIT_S
    quiet_since: float | None = None
    while loop.time() < deadline:
        files = await asyncio.to_thread(_files, blobs, wanted)
        for path in files:
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                path.unlink()
                removed += 1
                removed_bytes += size
        now = loop.time()
        if files:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= SETTLE_S:
            break
        await asyncio.sleep(0.1)
    return PartialCleanup(removed, removed_bytes, True, str(blobs))
