"""`switchboard ollama list|library|pull|rm|update|jobs|watch|cancel`: manage local models on Ollama servers.

A thin layer over core.ollama: progress bars on stderr, tables or `--json` on stdout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from typing import Annotated, Any

import typer

from bot.cli.output import command, emit_json, fail, stdin_is_tty, table
from core.formatting import ago, pull_progress, size, transfer_rate

app = typer.Typer(help="Manage Ollama models: browse the library, install, update and remove.", no_args_is_help=True)

ProviderOpt = Annotated[
    str | None, typer.Option("--provider", "-p", help="Which Ollama provider (needed when there are several).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def job_dict(job: Any) -> dict[str, Any]:
    """A job for `--json`: every field plus percent."""
    return {**dataclasses.asdict(job), "percent": job.percent}


# ---------------------------------------------------------------- list


@app.command("list")
@command
def list_cmd(provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Installed models: size, family, parameters, quantization, modified, last used in a thread, loaded now."""
    from core.ollama import list_installed
    from core.ollama.servers import disk_note, get_server

    listings = asyncio.run(list_installed(provider))
    if as_json:
        emit_json(
            {
                "providers": [
                    {**dataclasses.asdict(s), "free_space": disk_note(get_server(s.provider), s.disk)} for s in listings
                ]
            }
        )
    for listing in listings:
        if as_json:
            break
        note = disk_note(get_server(listing.provider), listing.disk)
        typer.echo(f"Ollama '{listing.provider}' at {listing.url} — {note}")
        if not listing.reachable:
            typer.echo(f"  {listing.error}")
            continue
        if not listing.models:
            typer.echo("  No models installed. Browse with `switchboard ollama library`, install with `ollama pull`.")
            continue
        table(
            [
                (
                    m.name,
                    size(m.size_bytes),
                    m.family or "",
                    m.parameter_size or "",
                    m.quantization or "",
                    ago(m.modified_at),
                    ago(m.last_used_at),
                    "yes" if m.loaded else "",
                )
                for m in listing.models
            ],
            ["MODEL", "SIZE", "FAMILY", "PARAMS", "QUANT", "MODIFIED", "LAST USED", "LOADED"],
        )
        typer.echo(f"{len(listing.models)} models, {size(listing.total_bytes)} in all.")
    if any(not s.reachable for s in listings):
        raise typer.Exit(1)


# ---------------------------------------------------------------- library


@app.command("library")
@command
def library(
    search: Annotated[str | None, typer.Argument(help="Name or words from the description.")] = None,
    vision: Annotated[bool, typer.Option("--vision", help="Only models that understand images.")] = False,
    tools: Annotated[bool, typer.Option("--tools", help="Only models with tool calling.")] = False,
    thinking: Annotated[bool, typer.Option("--thinking", help="Only reasoning (thinking) models.")] = False,
    embedding: Annotated[bool, typer.Option("--embedding", help="Only embedding models.")] = False,
    max_size: Annotated[str | None, typer.Option("--max-size", help="Largest download, e.g. 5GB or 800MB.")] = None,
    installed: Annotated[
        bool | None, typer.Option("--installed/--not-installed", help="Only installed, or only not installed.")
    ] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Refresh the catalog from ollama.com first.")] = False,
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Browse the Ollama library catalog: search, filter by capability, size and installed state."""
    from core.ollama import browse_library, parse_size, refresh_catalog

    try:
        limit = parse_size(max_size) if max_size else None
    except ValueError as exc:
        fail(str(exc))
    refreshed = asyncio.run(refresh_catalog()) if refresh else None
    caps = tuple(
        c for c, on in (("vision", vision), ("tools", tools), ("thinking", thinking), ("embedding", embedding)) if on
    )
    view = asyncio.run(
        browse_library(search, capabilities=caps, max_size_bytes=limit, installed=installed, provider=provider)
    )
    notes = ([refreshed.message] if refreshed else []) + list(view.notes)
    if as_json:
        emit_json({**dataclasses.asdict(view), "notes": notes})
        return
    for note in notes:
        typer.echo(note)
    if not view.entries:
        typer.echo(
            "No library models match." + (" Try fewer filters." if caps or limit or installed is not None else "")
        )
        return
    rows = []
    for e in view.entries:
        tags = ", ".join(f"{t.tag}{'*' if t.installed else ''} {size(t.size_bytes)}" for t in e.tags)
        rows.append((e.name, ",".join(e.capabilities), tags, e.description[:70]))
    table(rows, ["MODEL", "CAPABILITIES", "TAGS (* installed) ~DOWNLOAD", "DESCRIPTION"])
    typer.echo("Install one with `switchboard ollama pull NAME:TAG`.")


# ---------------------------------------------------------------- progress display


class ProgressDisplay:
    """A terminal progress bar per layer and overall (rich, on stderr); plain lines when stderr is no TTY."""

    def __init__(self, label: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn

        self.console = Console(stderr=True)
        self.live = self.console.is_terminal
        self.label = label
        self._tasks: dict[str, Any] = {}
        self._last_line = 0.0
        self._last_detail = ""
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rate]}"),
            console=self.console,
            disable=not self.live,
        )

    def __enter__(self) -> ProgressDisplay:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, job: Any) -> None:
        if self.live:
            state = job.detail if job.active else job.status
            self._bar("overall", f"{self.label} ({state})", job.total_bytes, job.completed_bytes, transfer_rate(job))
            for layer in job.layers:
                self._bar(layer.digest, f"  layer {layer.digest[7:19]}", layer.total, layer.completed, "")
            return
        now = time.monotonic()
        if job.detail != self._last_detail or now - self._last_line >= 2.0:
            self._last_detail, self._last_line = job.detail, now
            typer.echo(f"{self.label}: {pull_progress(job)}", err=True)

    def _bar(self, key: str, description: str, total: int, completed: int, rate: str) -> None:
        if key not in self._tasks:
            self._tasks[key] = self.progress.add_task(description, total=total or None, rate=rate)
        self.progress.update(
            self._tasks[key], description=description, total=total or None, completed=completed, rate=rate
        )


def _report(job: Any, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        emit_json({**job_dict(job), **(extra or {})})
    elif job.status == "done":
        typer.echo(job.detail)
    elif job.status == "cancelled":
        typer.echo(job.detail, err=True)
    else:
        typer.echo(f"Error: {job.error or job.detail}", err=True)


# ---------------------------------------------------------------- pull


@app.command("pull")
@command
def pull(
    name: Annotated[str, typer.Argument(help="Model to install, e.g. llama3.2:1b.")],
    provider: ProviderOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Pull even when the disk check says no.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Install a model, with progress per layer and overall. Ctrl-C cancels and removes the partial download."""
    from core.ollama import get_job, run_job, start_pull, watch_job

    start = asyncio.run(start_pull(name, provider, requested_by="cli", force=force))
    for warning in start.warnings:
        typer.echo(f"Warning: {warning}", err=True)
    if not start.created:
        typer.echo(f"{start.job.model} is already being pulled (job {start.job.id}): following it.", err=True)
    display = None if as_json else ProgressDisplay(start.job.model)

    async def go() -> Any:
        if start.created:
            update = display.update if display else None
            done = await run_job(start.job.id, on_update=update, cancel_on_interrupt=True)
            if display:
                display.update(done)
            return done
        final = start.job
        async for final in watch_job(start.job.id):
            if display:
                display.update(final)
        return final

    try:
        if display:
            with display:
                final = asyncio.run(go())
        else:
            final = asyncio.run(go())
    except KeyboardInterrupt:
        final = get_job(start.job.id)
        if final is not None:
            _report(final, as_json)
        raise typer.Exit(130) from None
    _report(final, as_json, {"warnings": list(start.warnings)})
    if final.status != "done":
        raise typer.Exit(1)


@app.command("watch")
@command
def watch(
    job: Annotated[str | None, typer.Argument(help="Job id or model name (default: the only active pull).")] = None,
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Follow a pull started anywhere (another terminal, the admin page, a chat `!install`)."""
    from core.ollama import find_job, list_jobs, watch_job

    if job is None:
        active = list_jobs(active_only=True, provider=provider)
        if len(active) != 1:
            fail("Nothing is being pulled right now." if not active else "Several pulls are running: give a job id.")
        target = active[0]
    else:
        target = find_job(job, provider)
    display = None if as_json else ProgressDisplay(target.model)

    async def go() -> Any:
        final = target
        async for final in watch_job(target.id):
            if as_json:  # one JSON object per change (NDJSON), for scripts that follow along
                typer.echo(json.dumps(job_dict(final), default=str))
            elif display:
                display.update(final)
        return final

    if display:
        with display:
            final = asyncio.run(go())
    else:
        final = asyncio.run(go())
    if not as_json:
        _report(final, False)
    if final.status != "done":
        raise typer.Exit(1)


@app.command("cancel")
@command
def cancel(
    job: Annotated[str, typer.Argument(help="Job id or model name.")],
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a pull (from any process); its partial download is removed."""
    from core.ollama import cancel_pull

    final = asyncio.run(cancel_pull(job, provider))
    if as_json:
        emit_json(job_dict(final))
    elif final.status == "cancelled":
        typer.echo(final.detail)
    elif final.active:
        typer.echo(f"Asked job {final.id} to stop; it has not finished yet ({final.detail}).")
    else:
        typer.echo(f"Job {final.id} had already ended: {final.status} ({final.error or final.detail}).")


@app.command("jobs")
@command
def jobs(
    active: Annotated[bool, typer.Option("--active", help="Only queued and running pulls.")] = False,
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recent pulls with their progress, newest first."""
    from core.ollama import list_jobs

    found = list_jobs(active_only=active, provider=provider)
    if as_json:
        emit_json([job_dict(j) for j in found])
        return
    if not found:
        typer.echo("No pulls yet.")
        return
    table(
        [
            (
                j.id,
                j.provider,
                j.model,
                j.action,
                j.status,
                f"{j.percent:.0f}%" if j.percent is not None else "",
                transfer_rate(j),
                (j.error or j.detail)[:80],
            )
            for j in found
        ],
        ["ID", "PROVIDER", "MODEL", "ACTION", "STATUS", "DONE", "SPEED", "DETAIL"],
    )


# ---------------------------------------------------------------- remove and update


@app.command("rm")
@command
def rm(
    name: Annotated[str, typer.Argument(help="Installed model to remove.")],
    provider: ProviderOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Remove an installed model (asks first). Threads using it are asked to pick another model."""
    from core.ollama import get_server, remove_model
    from core.threads.conversations import last_used_by_model

    server = get_server(provider)
    if not yes:
        if not stdin_is_tty():
            fail(f"Removing {name} needs confirmation: run it in a terminal, or pass --yes.")
        used = last_used_by_model().get(f"{server.name}/{name}")
        note = f" A conversation used it {ago(used)}." if used else ""
        if not typer.confirm(f"Remove {name} from Ollama '{server.name}'?{note}", default=False):
            typer.echo("Nothing removed.")
            raise typer.Exit(1)
    removal = asyncio.run(remove_model(name, server.name))
    if as_json:
        emit_json(dataclasses.asdict(removal))
    else:
        typer.echo(removal.message)


@app.command("update")
@command
def update(
    name: Annotated[str | None, typer.Argument(help="Model to update.")] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Update every installed model.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Only check the registry for newer versions.")] = False,
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check for newer versions (local digest vs the registry manifest) or update by re-pulling."""
    from core.ollama import check_updates, run_job, start_updates

    if not name and not all_models:
        fail("Say which model to update, or pass --all.")
    if name and all_models:
        fail("Give a model name or --all, not both.")
    names = None if all_models else [name or ""]
    if check:
        results = asyncio.run(check_updates(provider, names))
        if as_json:
            emit_json([{**dataclasses.asdict(r), "label": r.label} for r in results])
            return
        table([(r.model, r.label) for r in results], ["MODEL", "STATUS"])
        return
    starts = asyncio.run(start_updates(names, provider, requested_by="cli"))
    display = None if as_json or len(starts) != 1 else ProgressDisplay(starts[0].job.model)

    async def go() -> list[Any]:
        runs = [
            run_job(s.job.id, on_update=display.update if display else None, cancel_on_interrupt=True) for s in starts
        ]
        return list(await asyncio.gather(*runs))

    if display:
        with display:
            finals = asyncio.run(go())
    else:
        if not as_json:
            typer.echo(f"Updating {len(starts)} models ({', '.join(s.job.model for s in starts)})…", err=True)
        finals = asyncio.run(go())
    if as_json:
        emit_json([job_dict(j) for j in finals])
    else:
        for final in finals:
            _report(final, False)
    if any(j.status != "done" for j in finals):
        raise typer.Exit(1)
