"""Browsing the library from a server's point of view: the catalog, which entries that server has installed,
and how much disk is free for more."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from core.ollama.catalog import LibraryEntry, load_catalog, search_catalog
from core.ollama.installed import installed_names
from core.ollama.servers import DiskInfo, OllamaError, disk_info, disk_note, get_server


@dataclass(frozen=True)
class LibraryView:
    entries: tuple[LibraryEntry, ...]
    provider: str | None  # the server whose installed models were compared; None when there is none
    disk: DiskInfo | None
    notes: tuple[str, ...]  # where the catalog came from, free space, why "installed" is unknown


async def browse_library(
    text: str | None = None,
    *,
    capabilities: tuple[str, ...] = (),
    max_size_bytes: int | None = None,
    installed: bool | None = None,
    provider: str | None = None,
) -> LibraryView:
    """Search the catalog, marking what `provider` (or the only Ollama server) has installed."""
    catalog = await asyncio.to_thread(load_catalog)
    notes = [catalog.note]
    names: set[str] | None = None
    disk = None
    server_name = None
    try:
        server = await asyncio.to_thread(get_server, provider)
    except OllamaError as exc:
        if provider:
            raise
        notes.append(f"Installed state unknown: {exc}")
    else:
        server_name = server.name
        names = await installed_names(server)
        disk = await asyncio.to_thread(disk_info, server)
        notes.append(f"Ollama '{server.name}': {disk_note(server, disk)}.")
        if names is None:
            notes.append(f"Installed state unknown: the Ollama server at {server.host} did not answer.")
    if installed is not None and names is None:
        raise OllamaError("Can't filter by installed or not: no Ollama server could be asked what it has.")
    found = search_catalog(
        text,
        capabilities=capabilities,
        max_size_bytes=max_size_bytes,
        installed_names=names,
        installed=installed,
        catalog=catalog,
    )
    return LibraryView(tuple(found), server_name, disk, tuple(notes))
