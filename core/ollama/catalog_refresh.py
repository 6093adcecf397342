"""Refreshing the catalog from the public library page, best effort: a short timeout, a conservative parser
(model cards with a `/library/NAME` link), and the shipped catalog whenever anything looks wrong. The merged
result is kept under the data directory, where `load_catalog()` finds it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import httpx

from core.ollama.catalog import (
    CAPABILITIES,
    Catalog,
    CatalogEntry,
    CatalogTag,
    cache_path,
    raw_entry,
    shipped_catalog,
)
from core.settings import get_settings

MIN_PARSED = 5  # fewer models than this on the page means the page changed, not that the library shrank


class _LibraryPage(HTMLParser):
    """Reads `<li x-test-model>` cards: link, description, `x-test-capability` and `x-test-size` spans."""

    def __init__(self) -> None:
        super().__init__()
        self.models: list[dict[str, Any]] = []
        self._card: dict[str, Any] | None = None
        self._depth = 0
        self._field: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {k for k, _ in attrs}
        if tag == "li" and "x-test-model" in names:
            self._card = {"name": None, "description": "", "capabilities": [], "sizes": []}
            self._depth = 0
        if self._card is None:
            return
        if tag == "li":
            self._depth += 1
        href = dict(attrs).get("href") or ""
        m = re.fullmatch(r"/library/([a-z0-9][a-z0-9._-]{0,79})", href)
        if tag == "a" and m and not self._card["name"]:
            self._card["name"] = m[1]
        for marker, name in (("x-test-capability", "capabilities"), ("x-test-size", "sizes")):
            if marker in names:
                self._field, self._text = name, []
        if tag == "p" and not self._card["description"] and self._field is None:
            self._field, self._text = "description", []

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._card is None:
            return
        if self._field is not None and tag in ("span", "p", "div"):
            value = " ".join("".join(self._text).split())
            if self._field == "description":
                self._card["description"] = value[:300]
            elif value and re.fullmatch(r"[A-Za-z0-9._-]{1,30}", value):
                self._card[self._field].append(value.lower())
            self._field = None
        if tag == "li":
            self._depth -= 1
            if self._depth <= 0:
                if self._card["name"]:
                    self.models.append(self._card)
                self._card = None


def parse_library_page(html: str) -> list[dict[str, Any]]:
    """Model cards found on the library page: name, description, capabilities, sizes (tag names)."""
    page = _LibraryPage()
    page.feed(html)
    page.close()
    return page.models


@dataclass(frozen=True)
class CatalogRefresh:
    ok: bool
    message: str
    models: int = 0
    added: int = 0


def _merge(shipped: Catalog, parsed: list[dict[str, Any]]) -> list[CatalogEntry]:
    merged = {e.name.lower(): e for e in shipped.entries}
    for card in parsed:
        key = card["name"].lower()
        caps = tuple(c for c in card["capabilities"] if c in CAPABILITIES)
        old = merged.get(key)
        if old is None:
            tags = tuple(CatalogTag(s, None, None) for s in dict.fromkeys(card["sizes"]))
            merged[key] = CatalogEntry(card["name"], card["description"], caps, tags, None, None, "library page")
            continue
        known = {t.tag.lower() for t in old.tags}
        extra = tuple(CatalogTag(s, None, None) for s in dict.fromkeys(card["sizes"]) if s not in known)
        merged[key] = replace(
            old,
            description=card["description"] or old.description,
            capabilities=tuple(dict.fromkeys(old.capabilities + caps)),
            tags=old.tags + extra,
        )
    return list(merged.values())


async def refresh_catalog(timeout: float = 5.0) -> CatalogRefresh:
    """Best effort: read the public library page and keep the merged catalog; on any failure keep what we
    have and say why."""
    settings = get_settings()
    if not settings.network_checks:
        return CatalogRefresh(False, "Not refreshed: network checks are off (SWITCHBOARD_NETWORK_CHECKS=false).")
    url = settings.ollama_library_url
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True) as http:
            resp = await http.get(url, headers={"Accept": "text/html"})
        resp.raise_for_status()
        parsed = parse_library_page(resp.text)
    except httpx.HTTPError as exc:
        return CatalogRefresh(False, f"Not refreshed: could not read {url} ({type(exc).__name__}); using the catalog.")
    if len(parsed) < MIN_PARSED:
        return CatalogRefresh(False, f"Not refreshed: {url} did not look like the Ollama library page.")
    shipped = shipped_catalog()
    entries = _merge(shipped, parsed)
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    now = datetime.now(UTC)
    tmp.write_text(json.dumps({"refreshed_at": now.isoformat(), "models": [raw_entry(e) for e in entries]}))
    tmp.replace(path)  # atomic: readers see the old file or the new one
    added = len(entries) - len(shipped.entries)
    return CatalogRefresh(True, f"Refreshed from {url}: {len(parsed)} models listed, {added} new.", len(entries), added)
