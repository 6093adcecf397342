"""`!install MODEL`: admins install an Ollama model from a thread, with progress posted there.

Progress arrives as `Reply(kind="progress", data=PullProgress(job))` events of the same `job.id`, at most one a
second, so an adapter can keep editing one message; the final Reply says how it ended.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from core.commands.base import Context, command
from core.formatting import pull_progress
from core.ollama import JobView, OllamaError, run_in_background, start_pull, watch_job
from core.types import Choice, Event, PullProgress, Reply

PROGRESS_EVERY_S = 1.0  # chat platforms allow about one edit a second per message


def parse_args(args: str) -> tuple[str | None, str | None, bool]:
    """(model, provider, force) from `MODEL [provider:NAME | --provider NAME] [--force]`."""
    model = provider = None
    force = False
    words = iter(args.split())
    for word in words:
        low = word.lower()
        if low == "--force":
            force = True
        elif low in ("--provider", "-p"):
            provider = next(words, None)
        elif low.startswith(("provider:", "--provider=")):
            provider = word.split(":", 1)[1] if low.startswith("provider:") else word.split("=", 1)[1]
        elif model is None:
            model = word
        else:
            return None, None, False
    return model, provider, force


def progress_text(job: JobView) -> str:
    return f"Installing **{job.model}** on '{job.provider}': {pull_progress(job, bar=True)}"


@command(
    "install",
    "!install MODEL [provider:NAME] [--force]",
    "Install an Ollama model (e.g. `!install llama3.2:1b`), with progress posted here. Admins only.",
    admin_only=True,
)
async def install_command(ctx: Context, args: str) -> AsyncIterator[Event]:
    model, provider, force = parse_args(args)
    if not model:
        yield Reply(
            "Usage: `!install MODEL [provider:NAME] [--force]`, e.g. `!install llama3.2:1b`. "
            "Browse models with `switchboard ollama library`.",
            kind="error",
            ephemeral=True,
        )
        return
    who = f"{ctx.msg.platform}:{ctx.msg.user}"
    try:
        start = await start_pull(model, provider, requested_by=who, force=force)
    except OllamaError as exc:
        yield Reply(str(exc), kind="error")
        return
    job = start.job
    if start.created:
        run_in_background(job.id)  # the pull outlives this reply: other processes can watch or cancel it
    intro = progress_text(job)
    if not start.created:
        intro += " (already under way: following it)"
    for warning in start.warnings:
        intro += f"\n⚠️ {warning}"
    yield Reply(intro, kind="progress", data=PullProgress(job))
    last_sent = time.monotonic()
    async for current in watch_job(job.id, every_s=0.5):
        job = current
        if job.active and time.monotonic() - last_sent >= PROGRESS_EVERY_S:
            last_sent = time.monotonic()
            yield Reply(progress_text(job), kind="progress", data=PullProgress(job))
    yield _final(job)


def _final(job: JobView) -> Reply:
    name = f"{job.provider}/{job.model}"
    if job.status == "done":
        return Reply(
            f"✅ {job.detail} Use it in a thread with `!model {name}`.",
            kind="info",
            data=PullProgress(job),
            choices=(Choice(f"Use {job.model} here", f"!model {name}", style="primary"),),
        )
    if job.status == "cancelled":
        return Reply(f"Installing {job.model} was cancelled. {job.detail}", kind="info", data=PullProgress(job))
    return Reply(f"Installing {job.model} failed: {job.error or job.detail}", kind="error", data=PullProgress(job))
