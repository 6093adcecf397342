"""The bodies of scheduled jobs, and which scheduler runs them. The scheduler process (bot/scheduler.py) decides
when they run; of several scheduler processes on one database, only the one holding the lease does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core import ollama
from core.models import stats, sync, versions
from core.providers.store import list_providers, test_provider
from core.settings import get_settings
from core.storage import leases

log = logging.getLogger(__name__)


async def refresh_registry() -> None:
    """Rediscover every provider's models; log what failed, never raise."""
    results = await sync.refresh()
    for r in results:
        if r.ok:
            log.info(
                "registry: %s ok, %d models (%d new, %d now unavailable) in %.2fs",
                r.provider,
                r.models,
                r.added,
                r.unavailable,
                r.seconds,
            )
        else:
            log.warning("registry: %s failed: %s", r.provider, r.message)
    # what the refresh found gone, and retirement dates litellm knows, for the models configuration relies on
    await asyncio.to_thread(versions.check_model_versions)


async def check_health() -> None:
    """Connection-test every enabled provider concurrently and record the outcome."""
    providers = [p.name for p in list_providers() if p.enabled]
    results = await asyncio.gather(*(test_provider(name) for name in providers), return_exceptions=True)
    for name, result in zip(providers, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("health: %s check crashed: %s", name, type(result).__name__)
        elif not result.ok:
            log.warning("health: %s failing: %s", name, result.message)


async def budget_upkeep() -> None:
    """Release reservations of crashed processes, and open the new period of every budget (so it shows 0)."""
    from core.budgets import ledger, rates
    from core.budgets.store import list_budgets

    released = await asyncio.to_thread(ledger.expire_stale)
    if released:
        log.warning("budgets: released %d reservations whose process stopped", released)
    budgets = [b for b in await asyncio.to_thread(list_budgets) if b.enabled]
    await asyncio.to_thread(ledger.current, budgets, tz=get_settings().timezone)
    await asyncio.to_thread(rates.prune)  # rate limits' past minutes: nothing reads them again


async def conversation_upkeep() -> None:
    """Settle replies left pending by a dead process (charged, thread told), and roll the models' latency stats."""
    from core.threads.recovery import recover_stale_replies

    stale = await asyncio.to_thread(recover_stale_replies)
    if stale:
        log.warning("conversations: %d replies were interrupted by a stopped process", stale)
    await asyncio.to_thread(stats.update_stats)


async def file_retention() -> None:
    """Forget files posted longer ago than SWITCHBOARD_FILE_RETENTION_DAYS (their names stay in the history)."""
    from core.attachments import expire

    forgotten = await asyncio.to_thread(expire)
    if forgotten:
        log.info("files: %d posted more than %s days ago were forgotten", forgotten, get_settings().file_retention_days)


@dataclass(frozen=True)
class Job:
    """A periodic job: its body, how often it runs and how long after start it first runs."""

    name: str
    body: Callable[[], Awaitable[None]]
    every_s: float
    first_after_s: float = 0.0


def schedule() -> list[Job]:
    """Every periodic job, intervals from settings."""
    s = get_settings()
    upkeep = max(5.0, min(60.0, s.stale_reply_minutes * 60 / 3))
    jobs = [
        Job("refresh_registry", refresh_registry, s.registry_refresh_minutes * 60),
        Job("check_health", check_health, s.health_check_minutes * 60, first_after_s=30),
        Job("ollama_reap_stale_pulls", ollama.reap_stale_pulls, 60, first_after_s=10),
        Job("budget_upkeep", budget_upkeep, max(5.0, min(60.0, s.reservation_ttl_s / 4)), first_after_s=5),
        # a reply is stale once unrenewed for stale_reply_minutes: look a few times within that, at most every minute
        Job("conversation_upkeep", conversation_upkeep, upkeep, first_after_s=min(20.0, upkeep)),
    ]
    if s.file_retention_days > 0:
        jobs.append(Job("file_retention", file_retention, 3600, first_after_s=60))
    if s.ollama_update_check_hours > 0:
        every = s.ollama_update_check_hours * 3600
        jobs.append(Job("ollama_check_updates", ollama.check_updates_and_alert, every, first_after_s=300))
        jobs.append(Job("ollama_refresh_library", ollama.refresh_library, every, first_after_s=120))
    return jobs


LEASE = "scheduler"


class Leadership:
    """Whether this scheduler process leads (runs the jobs) or stands by, renewed every third of the lease.

    It counts itself the leader only until 80% of its lease has passed since the renewal began, so a leader that
    stalls stops before another can take over; a leader that dies is replaced once its lease expires.
    """

    def __init__(self, ttl_s: float | None = None) -> None:
        self.ttl_s = ttl_s or get_settings().scheduler_lease_s
        self.me = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.leading: bool | None = None  # unknown until the first renewal, which says which it is
        self._until = 0.0  # monotonic time until which this process may act as the leader

    def is_leading(self) -> bool:
        return time.monotonic() < self._until

    async def renew(self) -> bool:
        started = time.monotonic()
        try:
            held = await asyncio.to_thread(leases.hold, LEASE, self.me, self.ttl_s)
        except Exception:
            log.exception("scheduler lease: could not renew; standing by")
            held = False
        self._until = started + self.ttl_s * 0.8 if held else 0.0
        if held != self.leading:
            if held:
                log.info("scheduler %s leads: it runs the jobs", self.me)
            else:
                lease = await asyncio.to_thread(leases.current, LEASE)
                log.info("scheduler %s stands by: %s leads", self.me, lease.holder if lease else "nobody")
        self.leading = held
        return held

    async def keep(self, stop: asyncio.Event) -> None:
        """Renew until `stop` is set, then give the lease up (a standby takes over at its next try)."""
        while not stop.is_set():
            await self.renew()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ttl_s / 3)
        if self.leading:
            await asyncio.to_thread(leases.let_go, LEASE, self.me)
