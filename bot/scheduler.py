"""The scheduler process: APScheduler's AsyncIOScheduler running core.jobs on configured intervals."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.alerting import notifiers
from core import jobs
from core.alerts import deliver_pending
from core.settings import get_settings

log = logging.getLogger("switchboard.scheduler")


def _guarded(
    name: str, job: Callable[[], Awaitable[None]], leadership: jobs.Leadership
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        if not leadership.is_leading():
            log.debug("job %s: another scheduler leads", name)
            return
        log.info("job %s runs", name)
        try:
            await job()
        except asyncio.CancelledError:  # the process is stopping: the job runs again at the next start
            log.info("job %s stopped with the scheduler", name)
        except Exception:
            log.exception("job %s failed", name)

    run.__name__ = name
    return run


def build_scheduler(leadership: jobs.Leadership) -> AsyncIOScheduler:
    """Every periodic job with its interval from settings; the first registry refresh runs at once. A job runs
    only while this process leads (see core.jobs.Leadership)."""
    sched = AsyncIOScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    now = datetime.now(UTC)
    plan = list(jobs.schedule())
    destinations = notifiers(get_settings())

    async def deliver_alerts() -> None:
        report = await deliver_pending(destinations)
        if report.delivered or report.failed:
            log.info("alerts: %d delivered, %d to retry", report.delivered, report.failed)

    plan.append(jobs.Job("deliver_alerts", deliver_alerts, 30, first_after_s=5))

    async def check_mcp_servers() -> None:
        from core.tools.health import check_all

        await check_all()

    minutes = get_settings().mcp_check_minutes
    if minutes > 0:
        plan.append(jobs.Job("check_mcp_servers", check_mcp_servers, minutes * 60, first_after_s=40))

    for job in plan:
        sched.add_job(
            _guarded(job.name, job.body, leadership),
            "interval",
            seconds=job.every_s,
            id=job.name,
            name=job.name,
            next_run_time=now + timedelta(seconds=job.first_after_s),
        )
    return sched


async def _main() -> None:
    from core.runtime import connect_database

    connect_database()
    leadership = jobs.Leadership()
    await leadership.renew()  # before the first jobs are due: they run here only if this process leads
    sched = build_scheduler(leadership)
    sched.start()
    log.info("scheduler started: %s", ", ".join(j.id for j in sched.get_jobs()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    keeping = asyncio.create_task(leadership.keep(stop))
    await stop.wait()
    sched.shutdown(wait=False)
    await keeping


def run() -> None:
    asyncio.run(_main())
