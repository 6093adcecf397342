"""Installing and updating models: a pull is an OllamaJob row that the process running it keeps up to date
(throttled), that any process can watch or cancel, and that waits for one of N download slots.

    start = await start_pull("llama3.2:1b", "local")   # checks the name and the disk, queues the job
    final = await run_job(start.job.id)               # waits for a slot, streams, cleans up, refreshes /models
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ollama

from core import snapshot
from core.formatting import duration, size
from core.models import sync
from core.ollama.catalog import approx_size, unknown_model_text
from core.ollama.explain import explain
from core.ollama.names import parse_name
from core.ollama.partials import remove_partials
from core.ollama.pull_jobs import (
    JobView,
    active_job_for,
    cancel_requested,
    claim_slot,
    create_job,
    finish,
    get_job,
    list_jobs,
    save_progress,
)
from core.ollama.pull_stream import Progress
from core.ollama.servers import (
    DiskInfo,
    OllamaError,
    Server,
    disk_info,
    disk_note,
    get_server,
    models_dir,
)
from core.ollama.updates import ManifestUnavailable, fetch_manifest
from core.settings import get_settings

log = logging.getLogger(__name__)
OnUpdate = Callable[[JobView], None]

PROGRESS_EVERY_S = 0.5  # database writes of progress
CALLBACK_EVERY_S = 0.1  # in-process progress callbacks (terminal bar)
CANCEL_POLL_S = 0.25
HEARTBEAT_S = 2.0
SLOT_POLL_S = 0.5
GB = 1_000_000_000


@dataclass(frozen=True)
class PullStart:
    """A pull that was queued (or joined: the same model was already being pulled on that server)."""

    job: JobView
    created: bool
    warnings: tuple[str, ...]
    needed_bytes: int | None
    disk: DiskInfo | None


# ---------------------------------------------------------------- before the download


async def start_pull(
    model: str,
    provider: str | None = None,
    *,
    action: str = "pull",
    requested_by: str | None = None,
    force: bool = False,
) -> PullStart:
    """Check the name and the free disk space, then queue a pull job (or return the one under way)."""
    name = parse_name(model)
    if name is None:
        raise OllamaError(f"'{model}' is not a valid model name: use NAME or NAME:TAG, e.g. `llama3.2:1b`.")
    server = await asyncio.to_thread(get_server, provider)
    if not server.enabled:
        raise OllamaError(f"The Ollama provider '{server.name}' is disabled. Enable it first.")
    existing = await asyncio.to_thread(active_job_for, server.name, name.display)
    disk = await asyncio.to_thread(disk_info, server)
    if existing is not None:
        return PullStart(existing, False, (), None, disk)
    total, needed = await _sizes(server, name.display)
    warnings: list[str] = []
    problem = _space_problem(name.display, needed, disk)
    if problem and not force:
        raise OllamaError(problem + " Pass --force to try anyway.")
    if problem:
        warnings.append(problem)
    if disk is None:
        note = disk_note(server, None)
        warnings.append(f"{note[:1].upper()}{note[1:]}, so it was not checked.")
    job, created = await asyncio.to_thread(
        create_job,
        server.name,
        name.display,
        action=action,
        requested_by=requested_by,
        detail="queued",
        total_bytes=total or 0,
    )
    return PullStart(job, created, tuple(warnings), needed, disk)


async def _sizes(server: Server, model: str) -> tuple[int | None, int | None]:
    """(total, still to download). The total a progress bar shows comes from the registry manifest, else from
    the installed copy (an update), else from nothing: the pull's own layer totals fill it in. The catalog's
    size is a rough guess for a whole tag (often another quantization), so it serves only the disk check."""
    try:
        manifest = await fetch_manifest(model)
    except ManifestUnavailable as exc:
        if exc.missing:
            raise OllamaError(unknown_model_text(model)) from None
        installed = await _installed_size(server, model)
        return installed, installed or approx_size(model)
    present = await asyncio.to_thread(_blobs_present, server, [d for d, _ in manifest.layers])
    return manifest.total_bytes, sum(size for d, size in manifest.layers if d not in present)


async def _installed_size(server: Server, model: str) -> int | None:
    client = server.client()
    try:
        listing = await client.list()
    except Exception:  # best effort: without it the pull's own totals are used
        return None
    finally:
        await client.close()
    wanted = parse_name(model)
    for entry in listing.models:
        if wanted is not None and parse_name(str(entry.model)) == wanted and entry.size:
            return int(entry.size)
    return None


def _blobs_present(server: Server, digests: list[str]) -> set[str]:
    located = models_dir(server)
    if located is None:
        return set()
    blobs = located[0] / "blobs"
    return {d for d in digests if (blobs / d.replace(":", "-")).is_file()}


def _space_problem(model: str, needed: int | None, disk: DiskInfo | None) -> str | None:
    if disk is None:
        return None
    margin_gb = get_settings().ollama_disk_margin_gb
    if disk.free_bytes >= (needed or 0) + margin_gb * GB:
        return None
    how_much = f"about {size(needed)}" if needed else "an unknown amount"
    return (
        f"Not enough free disk space for {model}: it needs {how_much} plus a {margin_gb:g} GB safety margin, and only "
        f"{size(disk.free_bytes)} is free on {disk.path}. Remove models you no longer use "
        "(`switchboard ollama rm NAME`)."
    )


# ---------------------------------------------------------------- running a job


async def run_job(job_id: int, *, on_update: OnUpdate | None = None, cancel_on_interrupt: bool = False) -> JobView:
    """Run a queued job to its end in this process: wait for a slot, stream, clean up. Returns the final job.

    A cancel (from any process) stops the stream and removes the partial download. If this task itself is
    cancelled, the job counts as cancelled when `cancel_on_interrupt` (Ctrl-C in a terminal), else as
    interrupted, keeping the partial download so the next pull resumes.
    """
    job = await asyncio.to_thread(get_job, job_id)
    if job is None:
        raise OllamaError(f"There is no pull job {job_id}.")
    server = await asyncio.to_thread(get_server, job.provider)
    limit = get_settings().ollama_max_concurrent_pulls
    try:
        while True:
            state, _ = await asyncio.to_thread(claim_slot, job_id, limit)
            current = await asyncio.to_thread(get_job, job_id)
            if current is None:
                raise OllamaError(f"Pull job {job_id} disappeared.")
            if on_update is not None:
                on_update(current)
            if state == "claimed":
                break
            if state != "queued":
                return current
            await asyncio.sleep(SLOT_POLL_S)
    except asyncio.CancelledError:
        # Leaving the queue now, not when the reaper notices, so the jobs behind this one move up.
        status = "cancelled" if cancel_on_interrupt else "failed"
        await asyncio.to_thread(finish, job_id, status, "Stopped before the download started.", None)
        raise
    return await _pull(server, current, on_update, cancel_on_interrupt)


async def _pull(server: Server, job: JobView, on_update: OnUpdate | None, cancel_on_interrupt: bool) -> JobView:
    progress = Progress(job.total_bytes or None)
    started = time.monotonic()
    client = server.client()
    try:
        before = await _digest(client, job.model)
        cancelled_by_request = asyncio.Event()
        stream = asyncio.create_task(_consume(client, job, progress, on_update))
        monitor = asyncio.create_task(_monitor(job.id, stream, cancelled_by_request))
        try:
            await stream
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if cancelled_by_request.is_set() and not (task and task.cancelling()):
                return await _cancelled(server, job, progress, "Cancelled")
            if cancel_on_interrupt:
                await _cancelled(server, job, progress, "Cancelled from the terminal")
            else:
                why = "The process running this download stopped. Pull again: Ollama resumes where it stopped."
                await _finish(job, progress, "failed", "interrupted", why)
            raise
        except Exception as exc:
            return await _finish(job, progress, "failed", "failed", explain(exc, server, job.model))
        finally:
            monitor.cancel()
        if not progress.succeeded:
            why = f"The Ollama server at {server.host} ended the download before it finished. Pull again to resume."
            return await _finish(job, progress, "failed", "failed", why)
        after = await _digest(client, job.model)
        took = time.monotonic() - started
    finally:
        await client.close()
    await sync_registry(server)
    if before is not None and before == after:
        detail = f"{job.model} is already installed and up to date."
    elif job.action == "update":
        detail = f"Updated {job.model} to the newest version in {duration(took)}."
    else:
        detail = f"Installed {job.model} ({size(progress.total)}) in {duration(took)}."
    return await _finish(job, progress, "done", detail, None, completed_bytes=progress.total)


async def _consume(client: ollama.AsyncClient, job: JobView, progress: Progress, on_update: OnUpdate | None) -> None:
    last_save = last_callback = 0.0
    last_status = ""
    # aclosing: when this task is cancelled the HTTP stream must close now, so the server stops downloading.
    async with contextlib.aclosing(await client.pull(job.model, stream=True)) as events:  # type: ignore[type-var]
        async for event in events:
            progress.feed(event.status, event.digest, event.total, event.completed)
            now = time.monotonic()
            if now - last_save >= PROGRESS_EVERY_S or progress.status != last_status:
                last_save, last_status = now, progress.status
                await asyncio.to_thread(save_progress, job.id, progress.values())
            if on_update is not None and now - last_callback >= CALLBACK_EVERY_S:
                last_callback = now
                on_update(progress.apply(job))


async def _monitor(job_id: int, stream: asyncio.Task[None], flag: asyncio.Event) -> None:
    """Heartbeat for the reaper, and stop the stream when any process asks for a cancel."""
    last_beat = time.monotonic()
    while not stream.done():
        await asyncio.sleep(CANCEL_POLL_S)
        if time.monotonic() - last_beat >= HEARTBEAT_S:
            last_beat = time.monotonic()
            wanted = await asyncio.to_thread(save_progress, job_id, {})
        else:
            wanted = await asyncio.to_thread(cancel_requested, job_id)
        if wanted:
            flag.set()
            stream.cancel()
            return


async def _digest(client: ollama.AsyncClient, model: str) -> str | None:
    with contextlib.suppress(Exception):
        for entry in (await client.list()).models:
            if entry.model == model:
                return entry.digest
    return None


async def sync_registry(server: Server) -> None:
    """Make /models and `switchboard models` show the change now (other processes: via the config version)."""
    try:
        await sync.refresh_provider(server.name)
    except Exception:
        log.warning("registry refresh of %s after an Ollama change failed", server.name, exc_info=True)
    snapshot.invalidate()


async def _finish(
    job: JobView, progress: Progress, status: str, detail: str, error: str | None, **extra: Any
) -> JobView:
    values = progress.values()
    values.pop("detail")
    values.pop("speed_bps")
    values.pop("eta_s")
    values.update(extra)
    final = await asyncio.to_thread(finish, job.id, status, detail, error, **values)
    assert final is not None
    return final


async def _cancelled(server: Server, job: JobView, progress: Progress, what: str) -> JobView:
    others = await asyncio.to_thread(list_jobs, active_only=True, provider=server.name)
    shared = {layer.digest for other in others if other.id != job.id for layer in other.layers}
    digests = [d for d in progress.unfinished() if d not in shared]
    return await _finish(job, progress, "cancelled", await cleanup_text(server, digests, progress, what), None)


async def cleanup_text(server: Server, digests: list[str], progress: Progress | None, what: str) -> str:
    cleanup = await remove_partials(server, digests)
    partial = sum(layer["completed"] for d, layer in progress.layers.items() if d in digests) if progress else 0
    if not cleanup.possible and server.on_this_machine:
        return f"{what}. Set OLLAMA_MODELS so Switchboard can delete partial downloads; pulling again resumes this one."
    if not cleanup.possible:
        return (
            f"{what}. The partial download stays on {server.host}: Switchboard can't delete files on another "
            "machine. Pulling again resumes it."
        )
    if cleanup.removed_files:
        freed = f" ({size(partial)})" if partial else ""
        return f"{what}; the partial download{freed} was removed."
    return f"{what}; nothing was left on disk."
