"""Following and steering pulls from anywhere: watch a job's progress from the database, cancel it from any
process, run a pull here or in the background, and sync entry points for the admin app."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from core.ollama.names import parse_name
from core.ollama.pull_jobs import STALE_AFTER, JobView, finish, get_job, list_jobs, request_cancel
from core.ollama.pulls import OnUpdate, PullStart, cleanup_text, run_job, start_pull
from core.ollama.servers import OllamaError, get_server
from core.storage.tables import utcnow

T = TypeVar("T")


async def watch_job(job_id: int, every_s: float = 0.5) -> AsyncIterator[JobView]:
    """The job each time its progress changes, read from the database, until it ends."""
    last: tuple[Any, ...] | None = None
    while True:
        job = await asyncio.to_thread(get_job, job_id)
        if job is None:
            return
        key = (job.status, job.detail, job.completed_bytes, job.total_bytes, job.cancel_requested, job.error)
        if key != last:
            last = key
            yield job
        if not job.active:
            return
        await asyncio.sleep(every_s)


def find_job(ref: int | str, provider: str | None = None) -> JobView:
    """A job by id, or the active pull of a model name."""
    if isinstance(ref, int) or str(ref).isdigit():
        job = get_job(int(ref))
        if job is None:
            raise OllamaError(f"There is no pull job {ref}. `switchboard ollama jobs` lists them.")
        return job
    name = parse_name(str(ref))
    candidates = [j for j in list_jobs(active_only=True, provider=provider) if name and j.model == name.display]
    if not candidates:
        raise OllamaError(f"Nothing is pulling '{ref}' right now. `switchboard ollama jobs` lists recent pulls.")
    if len(candidates) > 1:
        raise OllamaError(f"'{ref}' is being pulled on several servers: say which with --provider NAME.")
    return candidates[0]


async def cancel_pull(ref: int | str, provider: str | None = None, wait_s: float = 10.0) -> JobView:
    """Ask the job's owner (any process) to cancel and wait for it to finish; if the owner is gone, finish the
    job here, partial download included."""
    job = await asyncio.to_thread(find_job, ref, provider)
    view = await asyncio.to_thread(request_cancel, job.id)
    if view is None or not view.active:
        return view or job
    if not _owner_gone(view):
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_s):
                async for _ in watch_job(job.id, every_s=0.2):
                    pass
        view = await asyncio.to_thread(get_job, job.id)
        assert view is not None
    if not (view.active and _owner_gone(view)):
        return view
    server = await asyncio.to_thread(get_server, view.provider)
    unfinished = [layer.digest for layer in view.layers if layer.completed < layer.total]
    detail = await cleanup_text(server, unfinished, None, "Cancelled (its process had stopped)")
    finished = await asyncio.to_thread(finish, view.id, "cancelled", detail, None)
    assert finished is not None
    return finished


def _owner_gone(job: JobView) -> bool:
    return utcnow() - job.updated_at > STALE_AFTER


# ---------------------------------------------------------------- entry points


async def pull_model(
    model: str,
    provider: str | None = None,
    *,
    action: str = "pull",
    requested_by: str | None = None,
    force: bool = False,
    on_update: OnUpdate | None = None,
    cancel_on_interrupt: bool = False,
) -> tuple[PullStart, JobView]:
    """Queue and run a pull here; if the same pull is already under way elsewhere, follow it instead."""
    start = await start_pull(model, provider, action=action, requested_by=requested_by, force=force)
    if start.created:
        return start, await run_job(start.job.id, on_update=on_update, cancel_on_interrupt=cancel_on_interrupt)
    final = start.job
    async for final in watch_job(start.job.id):
        if on_update is not None:
            on_update(final)
    return start, final


_background: set[asyncio.Task[JobView]] = set()


def run_in_background(job_id: int) -> asyncio.Task[JobView]:
    """Run a queued job as a task of the running loop (e.g. a bot's), kept alive until it ends."""
    task = asyncio.create_task(run_job(job_id))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code (the admin app): in this thread, or a worker if a loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def start_pull_in_thread(
    model: str,
    provider: str | None = None,
    *,
    action: str = "pull",
    requested_by: str | None = None,
    force: bool = False,
) -> PullStart:
    """For sync callers (the admin page): queue a pull and run it on a daemon thread; read progress with
    `get_job` / `list_jobs`."""
    start = run_sync(start_pull(model, provider, action=action, requested_by=requested_by, force=force))
    if start.created:
        job_id = start.job.id
        threading.Thread(target=lambda: asyncio.run(run_job(job_id)), name=f"ollama-pull-{job_id}", daemon=True).start()
    return start
