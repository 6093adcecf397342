"""`ollama update` shows the size of what is really pulled: the installed copy's or the pull's own layer totals,
never the catalog's estimate for the tag (which can be another quantization, three times the size)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.formatting import size
from core.models.registry import get_model
from core.models.sync import refresh
from core.ollama.catalog import approx_size
from core.providers.store import add_provider
from tests.conftest import Cli
from tests.fakes.ollama import FakeOllama, LibraryModel, default_library
from tests.ollamakit import set_env

SMALL = "smollm2:135m"


@pytest.fixture
def small_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]) -> Iterator[FakeOllama]:
    """An Ollama with a 91 MB smollm2:135m installed; the catalog guesses 270 MB for that tag. Registry offline."""
    library = default_library() | {SMALL: LibraryModel("llama", "135M", "Q4_K_M", 91_000_000, 8192, seed=SMALL)}
    models = tmp_path / "ollama-models"
    with FakeOllama(models, library=library, installed=[SMALL], tick_s=0.01, bytes_per_tick=20_000_000) as fake:
        set_env(monkeypatch, sb_env, OLLAMA_MODELS=str(models), SWITCHBOARD_OLLAMA_DISK_MARGIN_GB="0")
        add_provider("local", "ollama", base_url=fake.url)
        asyncio.run(refresh())
        yield fake


def test_update_progress_shows_the_installed_size_not_the_catalogs(small_model: FakeOllama, cli: Cli) -> None:
    catalog_guess = approx_size(SMALL)
    installed = get_model(f"local/{SMALL}")
    assert installed is not None and installed.size_bytes and catalog_guess
    assert catalog_guess > 2 * installed.size_bytes  # the trap: the catalog's tag size is far off

    updated = cli("ollama", "update", SMALL)
    assert updated.returncode == 0, updated.stderr
    progress = [line for line in updated.stderr.splitlines() if " of " in line]
    assert progress, updated.stderr
    assert size(catalog_guess) not in updated.stderr
    assert all(f"of {size(installed.size_bytes)}" in line for line in progress), progress
