"""Keeping models current: starting updates (re-pulls) for one model or all, and the scheduled jobs (reap pulls
whose process died, check for updates and tell admins, refresh the library catalog)."""

from __future__ import annotations

import asyncio
import logging

from core.alerts import raise_alert
from core.ollama.catalog_refresh import refresh_catalog
from core.ollama.explain import explain
from core.ollama.pull_jobs import reap_stale
from core.ollama.pulls import PullStart, start_pull
from core.ollama.servers import OllamaError, get_server, servers
from core.ollama.updates import check_updates
from core.settings import get_settings

log = logging.getLogger(__name__)


async def start_updates(
    models: list[str] | None = None, provider: str | None = None, *, requested_by: str | None = None
) -> list[PullStart]:
    """Queue a re-pull of each model (all installed ones when `models` is None). Only changed layers download;
    the concurrent-pull limit queues the rest."""
    server = await asyncio.to_thread(get_server, provider)
    if models is None:
        client = server.client(timeout=get_settings().provider_timeout_s)
        try:
            models = sorted(m.model or "" for m in (await client.list()).models)
        except Exception as exc:
            raise OllamaError(explain(exc, server)) from None
        finally:
            await client.close()
    # force: an update replaces layers in place, and refusing it for want of a margin would leave it stale
    return [await start_pull(m, server.name, action="update", requested_by=requested_by, force=True) for m in models]


async def reap_stale_pulls() -> None:
    """Scheduled: pulls whose process stopped heartbeating are marked failed (they resume when pulled again)."""
    for job in await asyncio.to_thread(reap_stale):
        log.warning("ollama: pull job %s (%s on %s) lost its process: %s", job.id, job.model, job.provider, job.status)


async def check_updates_and_alert() -> None:
    """Scheduled: check every server's models against the registry; tell admins once per new version."""
    if not get_settings().network_checks:
        return
    for server in await asyncio.to_thread(servers, enabled_only=True):
        try:
            results = await check_updates(server.name)
        except OllamaError as exc:
            log.info("ollama: update check of %s skipped: %s", server.name, exc)
            continue
        for r in results:
            if r.state == "update_available":
                await asyncio.to_thread(
                    raise_alert,
                    "ollama_update",
                    f"ollama-update:{server.name}:{r.model}:{r.remote_digest}",
                    f"A newer version of {r.model} is available on Ollama '{server.name}'. "
                    f"Update it with `switchboard ollama update {r.model} --provider {server.name}`.",
                    severity="info",
                    provider=server.name,
                )
            elif r.state == "unknown":
                log.info("ollama: update check of %s on %s: %s", r.model, server.name, r.detail)


async def refresh_library() -> None:
    """Scheduled: best-effort refresh of the library catalog from ollama.com."""
    outcome = await refresh_catalog()
    (log.info if outcome.ok else log.debug)("ollama library: %s", outcome.message)
