"""The Ollama library catalog. ollama.com has no catalog API, so a curated catalog ships as data
(core/ollama/catalog.json); a best-effort refresh from the public library page (core/ollama/catalog_refresh.py)
adds what is new and is kept under the data directory. Search, filters, size lookups and "did you mean"."""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from core.formatting import size
from core.models.matching import close_matches, close_names
from core.ollama.names import DEFAULT_TAG, parse_name
from core.settings import get_settings

log = logging.getLogger(__name__)
GB = 1_000_000_000
CACHE_FILE = "ollama_library.json"
CAPABILITIES = ("tools", "vision", "thinking", "embedding")


@dataclass(frozen=True)
class CatalogTag:
    tag: str
    parameters: str | None
    size_bytes: int | None  # approximate download size; None when the page did not say


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    description: str
    capabilities: tuple[str, ...]
    tags: tuple[CatalogTag, ...]
    latest: str | None  # the tag `:latest` points to
    context_length: int | None
    source: str  # "shipped" | "library page"

    def find_tag(self, tag: str) -> CatalogTag | None:
        wanted = self.latest if tag == DEFAULT_TAG and self.latest else tag
        return next((t for t in self.tags if t.tag.lower() == wanted.lower()), None)


@dataclass(frozen=True)
class Catalog:
    entries: tuple[CatalogEntry, ...]
    source: str  # "shipped" | "refreshed"
    refreshed_at: datetime | None

    def get(self, name: str) -> CatalogEntry | None:
        return next((e for e in self.entries if e.name.lower() == name.lower()), None)

    @property
    def note(self) -> str:
        if self.refreshed_at is None:
            return "Curated catalog shipped with Switchboard (not refreshed from ollama.com yet)."
        return f"Catalog refreshed from the Ollama library page on {self.refreshed_at:%Y-%m-%d %H:%M} UTC."


# ---------------------------------------------------------------- loading


def _entry(raw: dict[str, Any], source: str) -> CatalogEntry:
    tags = tuple(
        CatalogTag(
            str(t["tag"]),
            t.get("parameters"),
            int(float(t["size_gb"]) * GB) if t.get("size_gb") is not None else None,
        )
        for t in raw.get("tags", [])
    )
    return CatalogEntry(
        name=str(raw["name"]),
        description=str(raw.get("description", "")),
        capabilities=tuple(raw.get("capabilities", [])),
        tags=tags,
        latest=raw.get("latest"),
        context_length=raw.get("context_length"),
        source=str(raw.get("source", source)),
    )


def raw_entry(e: CatalogEntry) -> dict[str, Any]:
    return {
        "name": e.name,
        "description": e.description,
        "capabilities": list(e.capabilities),
        "context_length": e.context_length,
        "latest": e.latest,
        "source": e.source,
        "tags": [
            {"tag": t.tag, "parameters": t.parameters, "size_gb": None if t.size_bytes is None else t.size_bytes / GB}
            for t in e.tags
        ],
    }


def shipped_catalog() -> Catalog:
    """The curated catalog that ships with Switchboard."""
    text = resources.files("core.ollama").joinpath("catalog.json").read_text(encoding="utf-8")
    return Catalog(tuple(_entry(m, "shipped") for m in json.loads(text)["models"]), "shipped", None)


def cache_path() -> Path:
    return get_settings().data_dir / CACHE_FILE


_lock = threading.Lock()
_loaded: tuple[Path, float, Catalog] | None = None


def load_catalog() -> Catalog:
    """The refreshed catalog when a refresh succeeded earlier, else the shipped one."""
    global _loaded
    path = cache_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return shipped_catalog()
    with _lock:
        if _loaded is not None and _loaded[0] == path and _loaded[1] == mtime:
            return _loaded[2]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            catalog = Catalog(
                tuple(_entry(m, "library page") for m in data["models"]),
                "refreshed",
                datetime.fromisoformat(data["refreshed_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable Ollama catalog cache %s", path)
            return shipped_catalog()
        _loaded = (path, mtime, catalog)
        return catalog


# ---------------------------------------------------------------- lookups


def approx_size(model: str, catalog: Catalog | None = None) -> int | None:
    """The approximate download size of `model` (name[:tag]) from the catalog, or None."""
    name = parse_name(model)
    if name is None or not name.is_library:
        return None
    entry = (catalog or load_catalog()).get(name.model)
    tag = entry.find_tag(name.tag) if entry else None
    return tag.size_bytes if tag else None


def unknown_model_text(model: str, catalog: Catalog | None = None) -> str:
    """What to tell a user who asked for a model the library does not have, with the nearest names."""
    cat = catalog or load_catalog()
    name = parse_name(model)
    entry = cat.get(name.model) if name else None
    if name is not None and entry is not None:
        listed = entry.find_tag(name.tag)
        others = [t for t in entry.tags if t is not listed][:8]
        tags = ", ".join(
            f"`{entry.name}:{t.tag}`" + (f" ({size(t.size_bytes)})" if t.size_bytes else "") for t in others
        )
        if listed is not None:  # the shipped catalog knows it, the registry no longer serves it
            also = f" Other tags it lists: {tags}." if tags else ""
            return (
                f"The Ollama registry does not serve `{entry.name}:{listed.tag}` (any more), although the catalog "
                f"lists it: it may have been renamed or withdrawn since the catalog was made.{also}"
            )
        return f"There is no `{model}` in the Ollama library: {entry.name} has no tag '{name.tag}'. Its tags: {tags}."
    near = suggest(model, cat)
    hint = f" Did you mean {', '.join(f'`{n}`' for n in near)}?" if near else ""
    return (
        f"There is no model called '{model}' in the Ollama library.{hint} "
        "`switchboard ollama library TEXT` searches the catalog."
    )


def suggest(model: str, catalog: Catalog | None = None, limit: int = 3) -> list[str]:
    """Catalog names closest to what the user typed."""
    cat = catalog or load_catalog()
    name = parse_name(model)
    typed = name.model if name else model
    return close_names(typed, [e.name for e in cat.entries], limit=limit)


def parse_size(text: str) -> int:
    """`5GB`, `500 MB`, `4.5` (GB) -> bytes; ValueError for anything else."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?B?)\s*", text, re.I)
    if not m:
        raise ValueError(f"'{text}' is not a size: use e.g. 4GB or 500MB.")
    unit = (m[2] or "GB").upper().rstrip("B") or "B"
    scale = {"B": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[unit]
    return int(float(m[1]) * scale)


# ---------------------------------------------------------------- search


@dataclass(frozen=True)
class LibraryTag:
    name: str  # full pull name, e.g. llama3.2:1b
    tag: str
    parameters: str | None
    size_bytes: int | None
    is_latest: bool
    installed: bool | None  # None: unknown (the server could not be asked)


@dataclass(frozen=True)
class LibraryEntry:
    name: str
    description: str
    capabilities: tuple[str, ...]
    context_length: int | None
    tags: tuple[LibraryTag, ...]
    source: str

    @property
    def installed(self) -> bool | None:
        states = [t.installed for t in self.tags]
        if any(states):
            return True
        return None if None in states else False


def _tags(e: CatalogEntry, installed: set[str] | None) -> tuple[LibraryTag, ...]:
    out = []
    for t in e.tags:
        full = f"{e.name}:{t.tag}"
        is_latest = t.tag == e.latest
        state = None
        if installed is not None:
            state = full.lower() in installed or (is_latest and f"{e.name}:latest".lower() in installed)
        out.append(LibraryTag(full, t.tag, t.parameters, t.size_bytes, is_latest, state))
    return tuple(out)


def search_catalog(
    text: str | None = None,
    *,
    capabilities: tuple[str, ...] = (),
    max_size_bytes: int | None = None,
    installed_names: set[str] | None = None,
    installed: bool | None = None,
    catalog: Catalog | None = None,
) -> list[LibraryEntry]:
    """Search the catalog: free text (names first, then descriptions, then fuzzy names), capabilities (all
    must match), the largest download size you accept (only tags that fit are kept), and installed or not
    (needs `installed_names`, Ollama's display names)."""
    cat = catalog or load_catalog()
    lowered = {n.lower() for n in installed_names} if installed_names is not None else None
    entries = list(cat.entries)
    wanted = {c.lower() for c in capabilities}
    entries = [e for e in entries if wanted <= {c.lower() for c in e.capabilities}]
    if text:
        entries = _text_match(text, entries)
    found = []
    for e in entries:
        tags = _tags(e, lowered)
        if max_size_bytes is not None:
            tags = tuple(t for t in tags if t.size_bytes is not None and t.size_bytes <= max_size_bytes)
            if not tags:
                continue
        entry = LibraryEntry(e.name, e.description, e.capabilities, e.context_length, tags, e.source)
        if installed is not None and bool(entry.installed) != installed:
            continue
        found.append(entry)
    return found


def _text_match(text: str, entries: list[CatalogEntry]) -> list[CatalogEntry]:
    needle = text.lower().strip()
    parsed = parse_name(text)
    base = (parsed.model if parsed else needle).lower()
    ranked: list[tuple[int, CatalogEntry]] = []
    for e in entries:
        name = e.name.lower()
        if name == base:
            ranked.append((0, e))
        elif name.startswith(base):
            ranked.append((1, e))
        elif base in name:
            ranked.append((2, e))
        elif needle in e.description.lower():
            ranked.append((3, e))
    if ranked:
        return [e for _, e in sorted(ranked, key=lambda r: r[0])]
    return close_matches(base, entries, lambda e: (e.name,), limit=5)
