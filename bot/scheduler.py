"""The scheduler process: APScheduler's AsyncIOScheduler running core.jobs on configured intervals."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from core import jobs

log = logging.getLogger("switchboard.scheduler")


def _guarded(name: str, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("job %s failed", name)

    run.__name__ = name
    return run


def build_scheduler() -> AsyncIOScheduler:
    """Every periodic job with its interval from settings; the first registry refresh runs at once."""
    sched = AsyncIOScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    now = datetime.now(UTC)
    for job in jobs.schedule():
        sched.add_job(
            _guarded(job.name, job.body),
            "interval",
            seconds=job.every_s,
            id=job.name,
            next_run_time=now + timedelta(seconds=job.first_after_s),
        )
    return sched


async def _main() -> None:
    from core.db import get_engine

    get_engine()
    sched = build_scheduler()
    sched.start()
    log.info("scheduler started: %s", ", ".join(j.id for j in sched.get_jobs()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    sched.shutdown(wait=False)


def run() -> None:
    asyncio.run(_main())
