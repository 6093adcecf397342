"""Installed models per server (with what is loaded now and when a conversation last used each one), and
removing a model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from core.formatting import size
from core.models.matching import close_names
from core.models.registry import forget_model
from core.ollama.explain import explain
from core.ollama.names import parse_name
from core.ollama.pull_jobs import active_job_for
from core.ollama.pulls import sync_registry
from core.ollama.servers import DiskInfo, OllamaError, Server, disk_info, get_server, servers
from core.settings import get_settings
from core.threads.conversations import last_used_by_model


@dataclass(frozen=True)
class InstalledModel:
    name: str  # as Ollama names it, e.g. llama3.2:1b
    registry_name: str  # as users pick it, e.g. local/llama3.2:1b
    size_bytes: int | None
    family: str | None
    parameter_size: str | None
    quantization: str | None
    modified_at: datetime | None
    digest: str | None
    loaded: bool  # in memory now (/api/ps)
    loaded_until: datetime | None
    vram_bytes: int | None
    last_used_at: datetime | None  # when a conversation last got a reply from it


@dataclass(frozen=True)
class ServerModels:
    """One server's installed models, or why they could not be listed."""

    provider: str
    url: str
    reachable: bool
    error: str | None
    models: tuple[InstalledModel, ...]
    disk: DiskInfo | None

    @property
    def total_bytes(self) -> int:
        return sum(m.size_bytes or 0 for m in self.models)


async def server_models(server: Server) -> ServerModels:
    """List one server: /api/tags and /api/ps together, plus our own last-used times."""
    client = server.client(timeout=get_settings().provider_timeout_s)
    disk = await asyncio.to_thread(disk_info, server)
    try:
        tags, running = await asyncio.gather(client.list(), client.ps())
    except Exception as exc:
        return ServerModels(server.name, server.url, False, explain(exc, server), (), disk)
    finally:
        await client.close()
    used = await asyncio.to_thread(last_used_by_model)
    loaded = {m.model: m for m in running.models}
    models = []
    for m in tags.models:
        name = m.model or ""
        live = loaded.get(name)
        registry_name = f"{server.name}/{name}"
        models.append(
            InstalledModel(
                name=name,
                registry_name=registry_name,
                size_bytes=int(m.size) if m.size is not None else None,
                family=m.details.family if m.details else None,
                parameter_size=m.details.parameter_size if m.details else None,
                quantization=m.details.quantization_level if m.details else None,
                modified_at=m.modified_at,
                digest=m.digest,
                loaded=live is not None,
                loaded_until=live.expires_at if live else None,
                vram_bytes=int(live.size_vram) if live and live.size_vram is not None else None,
                last_used_at=used.get(registry_name),
            )
        )
    models.sort(key=lambda m: m.name)
    return ServerModels(server.name, server.url, True, None, tuple(models), disk)


async def list_installed(provider: str | None = None) -> list[ServerModels]:
    """Installed models of one server, or of every enabled Ollama server when `provider` is None."""
    if provider:
        targets = [await asyncio.to_thread(get_server, provider)]
    else:
        targets = await asyncio.to_thread(servers, enabled_only=True)
        if not targets:
            await asyncio.to_thread(get_server, None)  # raises the "add one" message
    return list(await asyncio.gather(*(server_models(s) for s in targets)))


async def installed_names(server: Server) -> set[str] | None:
    """Display names installed on `server`, or None when it cannot be asked."""
    listing = await server_models(server)
    return {m.name for m in listing.models} if listing.reachable else None


@dataclass(frozen=True)
class Removal:
    provider: str
    model: str
    freed_bytes: int | None
    message: str


async def remove_model(model: str, provider: str | None = None) -> Removal:
    """Delete a model from a server (callers confirm first), then update the registry at once."""
    name = parse_name(model)
    if name is None:
        raise OllamaError(f"'{model}' is not a valid model name.")
    server = await asyncio.to_thread(get_server, provider)
    pulling = await asyncio.to_thread(active_job_for, server.name, name.display)
    if pulling is not None:
        raise OllamaError(
            f"{name.display} is being downloaded right now (job {pulling.id}). "
            f"Cancel it first: `switchboard ollama cancel {pulling.id}`."
        )
    listing = await server_models(server)
    if not listing.reachable:
        raise OllamaError(listing.error or f"The Ollama server at {server.host} is not reachable.")
    match = next((m for m in listing.models if m.name == name.display), None)
    if match is None:
        raise OllamaError(_not_installed(name.display, server, [m.name for m in listing.models]))
    client = server.client(timeout=get_settings().provider_timeout_s)
    try:
        await client.delete(match.name)
    except Exception as exc:
        raise OllamaError(explain(exc, server, match.name)) from None
    finally:
        await client.close()
    # Gone for good (not a passing outage): drop it from the registry so it leaves /models at once.
    await asyncio.to_thread(forget_model, match.registry_name)
    await sync_registry(server)
    freed = f", freeing up to {size(match.size_bytes)}" if match.size_bytes else ""
    return Removal(
        server.name,
        match.name,
        match.size_bytes,
        f"Removed {match.name} from '{server.name}'{freed} (layers shared with other models stay). "
        "Threads that used it will be asked to pick another model.",
    )


def _not_installed(model: str, server: Server, installed: list[str]) -> str:
    near = close_names(model, installed, limit=3)
    hint = f" Did you mean {', '.join(f'`{n}`' for n in near)}?" if near else ""
    listed = ", ".join(installed[:10]) or "none"
    return f"{model} is not installed on '{server.name}'.{hint} Installed: {listed}."
