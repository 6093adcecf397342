"""Wiring for the Ollama manager tests: a FakeOllama registered as provider `local`, on this machine (so its
models directory is OLLAMA_MODELS), with the registry already refreshed.

    def test_something(local_ollama: FakeOllama) -> None: ...
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.models.sync import refresh
from core.providers.store import add_provider
from core.settings import get_settings
from tests.fakes.ollama import FakeOllama


def set_env(monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str], **values: str) -> None:
    """Change settings for this process and for the subprocesses the test starts."""
    for key, value in values.items():
        monkeypatch.setenv(key, value)
        sb_env[key] = value
    get_settings.cache_clear()


@pytest.fixture
def local_ollama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]) -> Iterator[FakeOllama]:
    """A fake Ollama with llama3.2:1b installed, as provider `local`. Pulls are fast (4 ticks per GB)."""
    models = tmp_path / "ollama-models"
    with FakeOllama(models, tick_s=0.01, bytes_per_tick=250_000_000) as server:
        set_env(monkeypatch, sb_env, OLLAMA_MODELS=str(models), SWITCHBOARD_OLLAMA_DISK_MARGIN_GB="0")
        add_provider("local", "ollama", base_url=server.url)
        asyncio.run(refresh())
        yield server


def slow_pulls(fake: FakeOllama, seconds_per_gb: float = 1.0) -> None:
    """Make pulls slow enough to watch and cancel: ticks of 25 ms, 40 per GB by default."""
    fake.tick_s = 0.025
    fake.bytes_per_tick = int(1_000_000_000 * fake.tick_s / seconds_per_gb)


def wait_for(check: Callable[[], object], timeout: float = 10.0, every: float = 0.05) -> object:
    """Poll until `check()` is truthy; fail the test with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")


async def wait_for_async(check: Callable[[], object], timeout: float = 10.0, every: float = 0.05) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {timeout} s")
