"""Installing models: progress per layer and overall, persisted for every process; cancel; the concurrency
limit; disk checks; clear errors for a server that is down and a model that does not exist."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import ollama
import pytest
from sqlmodel import col, update

from core import ollama as manager
from core import snapshot
from core.models.registry import get_model
from core.ollama import OllamaError, cancel_pull, get_job, list_jobs, pull_model, start_pull
from core.ollama.pull_jobs import create_job
from core.storage.db import session
from core.storage.tables import OllamaJob, utcnow
from tests.fakes.ollama import FakeOllama
from tests.helpers import sigint_as_in_a_terminal
from tests.ollamakit import local_ollama, set_env, slow_pulls, wait_for, wait_for_async

__all__ = ["local_ollama"]  # the fixture, imported for pytest


async def installed(fake: FakeOllama) -> set[str]:
    client = ollama.AsyncClient(host=fake.url)
    try:
        return {m.model or "" for m in (await client.list()).models}
    finally:
        await client.close()


async def test_pull_shows_progress_per_layer_and_overall_and_the_model_appears_at_once(
    local_ollama: FakeOllama,
) -> None:
    slow_pulls(local_ollama, seconds_per_gb=0.6)
    assert snapshot.current().model("local/llama3.2:3b") is None
    seen: list[manager.JobView] = []
    stored: list[manager.JobView] = []

    async def read_the_database() -> None:  # what any other process would see
        while True:
            stored.extend(list_jobs(active_only=True))
            await asyncio.sleep(0.05)

    reader = asyncio.create_task(read_the_database())
    start, final = await pull_model("llama3.2:3b", "local", on_update=seen.append)
    reader.cancel()

    assert start.created and start.warnings == ()
    assert final.status == "done" and final.detail.startswith("Installed llama3.2:3b (2.0 GB) in ")
    assert final.percent == 100.0 and final.error is None
    running = [j for j in seen if j.status == "running" and j.completed_bytes]
    percents = [j.percent or 0 for j in running]
    assert percents == sorted(percents) and len(set(percents)) >= 5 and 0 < percents[0] < 50
    assert any(j.speed_bps and j.speed_bps > 1e8 for j in running)
    assert any(j.eta_s is not None and j.eta_s > 0 for j in running)
    weights = local_ollama.layers("llama3.2:3b")[0]
    assert any(
        layer.digest == weights.digest and 0 < layer.completed < layer.total for j in running for layer in j.layers
    )
    assert (final.layers[0].digest, final.layers[0].completed) == (weights.digest, weights.size)
    # Progress was in the database while it ran, growing, with per-layer detail.
    mid = [j for j in stored if j.id == final.id and j.status == "running" and j.completed_bytes]
    assert len({j.completed_bytes for j in mid}) >= 3
    assert all(j.layers and j.total_bytes >= weights.size for j in mid)
    # The registry and /models know it right away, without waiting for a scheduled refresh.
    m = snapshot.current().model("local/llama3.2:3b")
    assert (
        m is not None
        and m.usable
        and m.is_local
        and m.size_bytes == sum(la.size for la in local_ollama.layers("llama3.2:3b"))
    )
    assert "llama3.2:3b" in await installed(local_ollama)


async def test_cancel_in_the_middle_of_a_pull_removes_the_partial_download(
    any_db: str, local_ollama: FakeOllama
) -> None:
    slow_pulls(local_ollama, seconds_per_gb=2.0)
    pulling = asyncio.create_task(pull_model("llama3.2:3b", "local"))
    job = await wait_for_async(
        lambda: next((j for j in list_jobs(active_only=True) if j.completed_bytes >= 400_000_000), None)
    )
    assert local_ollama.partial_files()  # Ollama keeps a resumable partial download on disk
    await cancel_pull(job.id)  # type: ignore[attr-defined]
    _, final = await pulling

    assert final.status == "cancelled"
    assert final.detail.startswith("Cancelled; the partial download (") and final.detail.endswith("was removed.")
    assert local_ollama.partial_files() == []
    assert "llama3.2:3b" not in await installed(local_ollama)
    assert get_model("local/llama3.2:3b") is None


def test_a_second_process_watches_the_same_pull_and_a_third_cancels_it(
    local_ollama: FakeOllama, sb_env: dict[str, str]
) -> None:
    # A 50 s download, interrupted once it has started: long enough that it cannot end before the Ctrl-C lands.
    slow_pulls(local_ollama, seconds_per_gb=25.0)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(sb_env)
    cli = [sys.executable, "-m", "bot.cli", "ollama"]

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*cli, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    puller = start("pull", "llama3.2:3b", "--json")
    watcher: subprocess.Popen[str] | None = None
    try:
        job = wait_for(lambda: next((j for j in list_jobs(active_only=True) if j.completed_bytes), None), 30)
        job_id: int = job.id  # type: ignore[attr-defined]
        watcher = start("watch", str(job_id), "--json")
        watched: list[dict[str, object]] = []
        threading.Thread(
            target=lambda: watched.extend(json.loads(line) for line in watcher.stdout), daemon=True
        ).start()  # type: ignore[union-attr]
        # This process reads the same progress rows as they change...
        values: set[int] = set()
        wait_for(lambda: values.add(get_job(job_id).completed_bytes) or len(values) >= 4, 20)  # type: ignore[union-attr]
        # ...and so does the watcher, a separate process.
        wait_for(lambda: sum(line["status"] == "running" for line in watched) >= 2, 20)
        cancelled = asyncio.run(cancel_pull(job_id))
        out, err = puller.communicate(timeout=30)
        watcher.wait(timeout=30)
    finally:
        puller.kill()
        if watcher is not None:
            watcher.kill()
    assert cancelled.status == "cancelled"
    assert puller.returncode == 1, err
    result = json.loads(out)
    assert result["status"] == "cancelled" and result["id"] == job_id and "Traceback" not in err
    assert "partial download" in result["detail"] and local_ollama.partial_files() == []
    progress = [line["completed_bytes"] for line in watched if line["status"] == "running"]
    assert len(set(progress)) >= 2 and progress == sorted(progress)  # type: ignore[type-var]
    assert watched[-1]["status"] == "cancelled" and watcher.returncode == 1


async def test_at_most_two_pulls_run_at_once_the_rest_wait_their_turn(any_db: str, local_ollama: FakeOllama) -> None:
    slow_pulls(local_ollama, seconds_per_gb=0.3)
    starts = [await start_pull(m, "local") for m in ("llama3.2:3b", "llava:7b", "qwen2.5:0.5b")]
    samples: list[tuple[int, list[str]]] = []

    async def watch() -> None:
        while True:
            jobs = await asyncio.to_thread(list_jobs, active_only=True)
            samples.append((sum(j.status == "running" for j in jobs), [j.detail for j in jobs if j.status == "queued"]))
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    finals = await asyncio.gather(*(manager.run_job(s.job.id) for s in starts))
    watcher.cancel()
    assert [f.status for f in finals] == ["done", "done", "done"]
    assert max(running for running, _ in samples) == 2
    # The third waited, and said why, while the first two downloaded.
    assert (2, ["waiting for a download slot: 2 running, at most 2 at once"]) in samples
    assert finals[2].finished_at and finals[0].finished_at and finals[2].finished_at > finals[0].finished_at


async def test_pull_refuses_when_the_disk_is_too_full_and_force_warns(
    local_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]
) -> None:
    set_env(monkeypatch, sb_env, SWITCHBOARD_OLLAMA_DISK_MARGIN_GB="100000")  # less free space than that
    with pytest.raises(OllamaError) as refused:
        await start_pull("llama3.2:3b", "local")
    text = str(refused.value)
    assert text.startswith("Not enough free disk space for llama3.2:3b: it needs about 2.0 GB plus a 100000 GB")
    assert f"is free on {local_ollama.models_dir}" in text and "--force" in text
    assert list_jobs() == [] and not local_ollama.calls("/api/pull")
    start, final = await pull_model("qwen2.5:0.5b", "local", force=True)
    assert start.warnings and start.warnings[0].startswith("Not enough free disk space for qwen2.5:0.5b")
    assert final.status == "done"


async def test_a_disk_that_fills_up_mid_pull_fails_with_a_clear_message(local_ollama: FakeOllama) -> None:
    local_ollama.disk_free_bytes = 600_000_000
    _, final = await pull_model("llama3.2:3b", "local")
    assert final.status == "failed"
    error = final.error or ""
    assert error.startswith(f"The disk is full on the Ollama server at 127.0.0.1:{local_ollama.port} (")
    assert f" free on {local_ollama.models_dir}). Free some space (`switchboard ollama rm NAME`" in error
    assert error.endswith("then pull again: it resumes where it stopped.")
    local_ollama.disk_free_bytes = None  # space freed: pulling again resumes and finishes
    _, again = await pull_model("llama3.2:3b", "local")
    assert again.status == "done"


async def test_a_server_that_is_down_or_dies_mid_pull_gets_a_plain_explanation(local_ollama: FakeOllama) -> None:
    host = f"127.0.0.1:{local_ollama.port}"
    with local_ollama.down():
        _, final = await pull_model("qwen2.5:0.5b", "local")
        assert final.status == "failed"
        assert final.error == (
            f"The Ollama server at {host} (provider 'local') is not running or not reachable. "
            "Start it (`ollama serve`, or the Ollama app) or fix the provider's base URL, then try again."
        )
        (listing,) = await manager.list_installed("local")
        assert not listing.reachable and listing.error == final.error
        with pytest.raises(OllamaError, match="is not running or not reachable"):
            await manager.remove_model("llama3.2:1b", "local")
    slow_pulls(local_ollama, seconds_per_gb=2.0)
    pulling = asyncio.create_task(pull_model("llama3.2:3b", "local"))
    await wait_for_async(lambda: any(j.completed_bytes > 300_000_000 for j in list_jobs(active_only=True)))
    await asyncio.to_thread(local_ollama.stop)
    _, died = await pulling
    assert died.status == "failed" and died.error is not None
    assert died.error.startswith(f"The Ollama server at {host} stopped answering in the middle of it")
    local_ollama.start()


async def test_pulling_a_model_that_does_not_exist_says_so_and_suggests(
    local_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]
) -> None:
    _, typo = await pull_model("llamma3.2:1b", "local")
    assert typo.status == "failed"
    assert typo.error == (
        "There is no model called 'llamma3.2:1b' in the Ollama library. Did you mean `llama3.2`, "
        "`llama3.2-vision`, `llama3`? `switchboard ollama library TEXT` searches the catalog."
    )
    _, tag = await pull_model("llama3.2:70b", "local")
    assert tag.error == (
        "There is no `llama3.2:70b` in the Ollama library: llama3.2 has no tag '70b'. "
        "Its tags: `llama3.2:1b` (1.3 GB), `llama3.2:3b` (2.0 GB)."
    )
    with pytest.raises(OllamaError, match="is not a valid model name"):
        await start_pull("bad name", "local")
    # With network checks on, the registry is asked first: refused before any download starts.
    set_env(
        monkeypatch,
        sb_env,
        SWITCHBOARD_NETWORK_CHECKS="true",
        SWITCHBOARD_OLLAMA_REGISTRY_URL=local_ollama.registry_url,
    )
    pulls_before = len(local_ollama.calls("/api/pull"))
    with pytest.raises(OllamaError, match="There is no model called 'nosuchmodel:7b'"):
        await start_pull("nosuchmodel:7b", "local")
    assert len(local_ollama.calls("/api/pull")) == pulls_before


def _left_by_a_killed_process(model: str) -> int:
    """A job as a killed puller leaves it: running, silent for a minute."""
    job, _ = create_job("local", model, action="pull", requested_by="cli", detail="queued", total_bytes=0)
    with session(write=True) as s:
        s.exec(
            update(OllamaJob)
            .where(col(OllamaJob.id) == job.id)
            .values(status="running", updated_at=utcnow() - timedelta(minutes=1))
        )
    return job.id


def test_a_pull_whose_process_died_is_marked_failed_and_frees_its_slot(
    any_db: str, local_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]
) -> None:
    set_env(monkeypatch, sb_env, SWITCHBOARD_OLLAMA_MAX_PULLS="1")
    dead = _left_by_a_killed_process("llama3.2:3b")
    orphan = _left_by_a_killed_process("llava:7b")
    # Cancelling a job nobody runs any more finishes it at once, instead of waiting for its owner.
    cancelled = asyncio.run(cancel_pull(orphan, wait_s=30))
    assert cancelled.status == "cancelled"
    assert cancelled.detail == "Cancelled (its process had stopped); nothing was left on disk."
    # The dead job held the only slot: a new pull gets it anyway.
    _, final = asyncio.run(pull_model("qwen2.5:0.5b", "local"))
    assert final.status == "done"
    reaped = get_job(dead)
    assert reaped is not None and reaped.status == "failed" and reaped.error is not None
    assert reaped.error.startswith("The process running this download (") and "resumes where it stopped" in reaped.error
    again = _left_by_a_killed_process("llama3.2:3b")
    asyncio.run(manager.reap_stale_pulls())  # the scheduler's job
    assert get_job(again).status == "failed"  # type: ignore[union-attr]


def test_ctrl_c_in_the_terminal_cancels_the_pull_and_removes_the_partial_download(
    local_ollama: FakeOllama, sb_env: dict[str, str]
) -> None:
    # A 50 s download, interrupted once it has started: long enough that it cannot end before the Ctrl-C lands.
    slow_pulls(local_ollama, seconds_per_gb=25.0)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(sb_env)
    puller = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "ollama", "pull", "llama3.2:3b"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_in_a_terminal,
    )
    try:
        wait_for(lambda: any(j.completed_bytes > 0 for j in list_jobs(active_only=True)), 30)
        puller.send_signal(signal.SIGINT)
        out, err = puller.communicate(timeout=30)
    finally:
        puller.kill()
    assert puller.returncode == 130, (out[-1000:], err[-1000:], [(j.status, j.completed_bytes) for j in list_jobs()])
    assert "Cancelled from the terminal; the partial download (" in err and "Traceback" not in err
    (job,) = list_jobs()
    assert job.status == "cancelled" and local_ollama.partial_files() == []


async def test_cancel_says_honestly_when_the_partial_download_cannot_be_removed(
    local_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str], tmp_path: Path
) -> None:
    if Path("/usr/share/ollama/.ollama/models").is_dir():
        pytest.skip("a real Ollama install on this machine would be found as the models directory")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.ollama/models either
    monkeypatch.delenv("OLLAMA_MODELS")
    sb_env.pop("OLLAMA_MODELS")
    set_env(monkeypatch, sb_env)
    slow_pulls(local_ollama, seconds_per_gb=2.0)
    start = await start_pull("llama3.2:3b", "local")
    assert start.disk is None
    assert start.warnings == (
        "Free space unknown: set OLLAMA_MODELS to the directory where Ollama keeps its models, so it was not checked.",
    )
    pulling = asyncio.create_task(manager.run_job(start.job.id))
    await wait_for_async(lambda: any(j.completed_bytes >= 250_000_000 for j in list_jobs(active_only=True)))
    await cancel_pull("llama3.2:3b")
    final = await pulling
    assert final.status == "cancelled"
    assert final.detail == (
        "Cancelled. Set OLLAMA_MODELS so Switchboard can delete partial downloads; pulling again resumes this one."
    )
    assert local_ollama.partial_files()  # still there, as the message says


def test_sync_callers_start_a_pull_in_the_background_and_read_progress_from_the_database(
    local_ollama: FakeOllama,
) -> None:
    slow_pulls(local_ollama, seconds_per_gb=0.3)
    start = manager.start_pull_in_thread("llama3.2:3b", "local", requested_by="admin:alice")
    assert start.created and start.job.status == "queued" and start.job.requested_by == "admin:alice"
    moving = wait_for(lambda: (j := get_job(start.job.id)) and j.status == "running" and j.completed_bytes and j)
    assert 0 < moving.percent < 100  # type: ignore[attr-defined]
    done = wait_for(lambda: (j := get_job(start.job.id)) and j.status == "done" and j)
    assert done.detail.startswith("Installed llama3.2:3b")  # type: ignore[attr-defined]
    assert [m.name for m in manager.run_sync(manager.list_installed("local"))[0].models] == [
        "llama3.2:1b",
        "llama3.2:3b",
    ]
