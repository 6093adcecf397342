"""The library catalog: the curated data that ships, search and filters (capability, size, installed), and the
best-effort refresh from the public library page that falls back to what we have."""

from __future__ import annotations

import json

import pytest

from core.ollama import browse_library, load_catalog, parse_size, refresh_catalog, search_catalog
from core.ollama.catalog import shipped_catalog
from tests.conftest import Cli
from tests.fakes.ollama import FakeOllama
from tests.fakes.ollama_library import Card, FakeOllamaLibrary
from tests.helpers import closed_port
from tests.ollamakit import local_ollama, set_env

__all__ = ["local_ollama"]
GB = 1_000_000_000


def test_the_shipped_catalog_is_a_curated_list_of_real_models() -> None:
    catalog = shipped_catalog()
    names = [e.name for e in catalog.entries]
    assert len(names) >= 30 and len(set(names)) == len(names)
    for popular in ("llama3.2", "llama3.1", "qwen2.5", "qwen3", "gemma3", "mistral", "deepseek-r1", "llava", "phi4"):
        assert popular in names
    for e in catalog.entries:
        assert len(e.description) >= 30, e.name
        assert e.tags and all(t.size_bytes and 10_000_000 < t.size_bytes < 500 * GB for t in e.tags), e.name
        assert e.latest in {t.tag for t in e.tags}, e.name
        assert set(e.capabilities) <= {"tools", "vision", "thinking", "embedding"}, e.name
    llama = catalog.get("llama3.2")
    assert llama is not None and llama.find_tag("latest") == llama.find_tag("3b")
    assert "vision" in catalog.get("llava").capabilities  # type: ignore[union-attr]
    assert catalog.get("nomic-embed-text").capabilities == ("embedding",)  # type: ignore[union-attr]


async def test_search_by_text_capability_size_and_installed(local_ollama: FakeOllama) -> None:
    view = await browse_library("llama")
    first = view.entries[0]
    assert first.name == "llama3.2"
    assert [(t.name, t.installed, t.is_latest) for t in first.tags] == [
        ("llama3.2:1b", True, False),
        ("llama3.2:3b", False, True),
    ]
    assert view.provider == "local" and view.disk is not None
    assert any(
        n.startswith("Ollama 'local': ") and "free of" in n and str(local_ollama.models_dir) in n for n in view.notes
    )

    small_vision = (await browse_library(capabilities=("vision",), max_size_bytes=5 * GB)).entries
    names = [e.name for e in small_vision]
    assert "llava" in names and "gemma3" in names and "llama3.2-vision" not in names  # 7.8 GB and up
    assert all("vision" in e.capabilities for e in small_vision)
    assert all(t.size_bytes is not None and t.size_bytes <= 5 * GB for e in small_vision for t in e.tags)
    llava = next(e for e in small_vision if e.name == "llava")
    assert [t.tag for t in llava.tags] == ["7b"]

    assert [e.name for e in (await browse_library(installed=True)).entries] == ["llama3.2"]
    not_installed = [e.name for e in (await browse_library(installed=False)).entries]
    assert "llama3.2" not in not_installed and "qwen2.5" in not_installed
    assert [e.name for e in (await browse_library("embedding", capabilities=("embedding",))).entries] == [
        "nomic-embed-text",
        "mxbai-embed-large",
        "all-minilm",
    ]
    assert [e.name for e in search_catalog("gemma 3")][:1] == ["gemma3"]  # fuzzy
    assert search_catalog("zzzzqqq") == []


def test_library_from_the_cli(local_ollama: FakeOllama, cli: Cli) -> None:
    out = cli("ollama", "library", "--vision", "--max-size", "5GB")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Curated catalog shipped with Switchboard")
    assert lines[1].startswith("Ollama 'local': ") and "free of" in lines[1]
    llava = next(line for line in lines if line.startswith("llava "))
    assert "vision" in llava and "7b 4.7 GB" in llava and "13b" not in llava
    data = json.loads(cli("ollama", "library", "llama3.2", "--installed", "--json").stdout)
    assert [e["name"] for e in data["entries"]] == ["llama3.2"]
    assert data["disk"]["free_bytes"] > 0 and data["entries"][0]["tags"][0] == {
        "name": "llama3.2:1b",
        "tag": "1b",
        "parameters": "1.2B",
        "size_bytes": 1_300_000_000,
        "is_latest": False,
        "installed": True,
    }
    bad = cli("ollama", "library", "--max-size", "huge")
    assert bad.returncode == 2 and "'huge' is not a size" in bad.stderr


async def test_refresh_from_the_library_page_merges_and_falls_back_when_it_cannot(
    monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]
) -> None:
    off = await refresh_catalog()
    assert not off.ok and off.message.startswith("Not refreshed: network checks are off")
    assert load_catalog().source == "shipped"

    cards = [
        Card("llama3.2", "Meta's Llama 3.2 goes small with 1B and 3B models.", ["tools"], ["1b", "3b"]),
        Card("brand-new-model", "A model released after this catalog was curated.", ["vision", "tools"], ["7b", "70b"]),
        Card("qwen3", "Qwen3 is the latest generation of Qwen models.", ["tools", "thinking"], ["0.6b", "8b"]),
        Card("gemma3", "The current, most capable model that runs on a single GPU.", ["vision"], ["1b", "4b"]),
        Card("mistral", "The 7B model released by Mistral AI, updated to version 0.3.", ["tools"], ["7b"]),
        Card("llava", "🌋 LLaVA is a novel end-to-end trained large multimodal model.", ["vision"], ["7b", "13b"]),
    ]
    with FakeOllamaLibrary(cards) as site:
        set_env(monkeypatch, sb_env, SWITCHBOARD_NETWORK_CHECKS="true", SWITCHBOARD_OLLAMA_LIBRARY_URL=site.library_url)
        done = await refresh_catalog()
        assert done.ok and done.added == 1 and "6 models listed, 1 new" in done.message
        catalog = load_catalog()
        assert catalog.source == "refreshed" and catalog.note.startswith("Catalog refreshed from the Ollama library")
        new = catalog.get("brand-new-model")
        assert new is not None and new.capabilities == ("vision", "tools")
        assert [(t.tag, t.size_bytes) for t in new.tags] == [("7b", None), ("70b", None)]  # the page has no sizes
        llama = catalog.get("llama3.2")
        assert llama is not None and llama.description == cards[0].description
        assert [(t.tag, t.size_bytes) for t in llama.tags] == [("1b", 1_300_000_000), ("3b", 2_000_000_000)]
        assert len(catalog.entries) == len(shipped_catalog().entries) + 1  # nothing lost from the curated list
        assert [e.name for e in search_catalog("brand")] == ["brand-new-model"]

        site.page = "<html><body><h1>We redesigned!</h1><a href='/library/x'>x</a></body></html>"
        changed = await refresh_catalog()
        assert not changed.ok and changed.message.endswith("did not look like the Ollama library page.")
        site.status = 503
        down = await refresh_catalog()
        assert not down.ok and "(HTTPStatusError); using the catalog" in down.message
    assert load_catalog().get("brand-new-model") is not None  # the last good refresh is kept

    set_env(monkeypatch, sb_env, SWITCHBOARD_OLLAMA_LIBRARY_URL=f"http://127.0.0.1:{closed_port()}/library")
    unreachable = await refresh_catalog()
    assert not unreachable.ok and "(ConnectError)" in unreachable.message


def test_sizes_people_type() -> None:
    assert parse_size("5GB") == 5 * GB and parse_size("800 MB") == 800_000_000 and parse_size("4.5") == 4_500_000_000
    with pytest.raises(ValueError, match="is not a size"):
        parse_size("big")
