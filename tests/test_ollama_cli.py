"""`switchboard ollama ...` as an operator uses it: tables and JSON, confirmations, several servers, and
errors that say what to do (exit 2 for what the user must fix, 1 for a pull that did not finish)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.chatkit import Thread
from tests.conftest import Cli
from tests.fakes.ollama import FakeOllama
from tests.ollamakit import local_ollama, set_env

__all__ = ["local_ollama"]


def test_list_shows_details_free_space_when_last_used_and_what_is_loaded(local_ollama: FakeOllama, cli: Cli) -> None:
    before = cli("ollama", "list")
    assert before.returncode == 0, before.stderr
    lines = before.stdout.splitlines()
    assert lines[0].startswith(f"Ollama 'local' at {local_ollama.url} — ") and "GB free of" in lines[0]
    assert lines[1].split() == ["MODEL", "SIZE", "FAMILY", "PARAMS", "QUANT", "MODIFIED", "LAST", "USED", "LOADED"]
    assert lines[3].split() == ["llama3.2:1b", "1.3", "GB", "llama", "1.2B", "Q8_0", "just", "now", "never"]

    said = asyncio.run(Thread(thread="T-list").say("hello"))  # a conversation uses it, Ollama loads it
    assert said.streamed == "[llama3.2:1b] You said: hello"
    after = cli("ollama", "list").stdout.splitlines()
    assert after[3].split()[-4:] == ["now", "just", "now", "yes"]  # modified, last used just now, loaded
    (server,) = json.loads(cli("ollama", "list", "--json").stdout)["providers"]
    (model,) = server["models"]
    assert (server["provider"], server["reachable"], model["name"], model["registry_name"]) == (
        "local",
        True,
        "llama3.2:1b",
        "local/llama3.2:1b",
    )
    assert model["loaded"] is True and model["loaded_until"] and model["last_used_at"] and model["vram_bytes"] > 0
    assert model["size_bytes"] > 1_000_000_000 and model["digest"] == local_ollama.installed_digest("llama3.2:1b")
    assert server["disk"]["path"] == str(local_ollama.models_dir) and "free of" in server["free_space"]


def test_pull_json_and_remove_with_confirmation(local_ollama: FakeOllama, cli: Cli) -> None:
    pulled = cli("ollama", "pull", "qwen2.5:0.5b", "--json")
    assert pulled.returncode == 0, pulled.stderr
    job = json.loads(pulled.stdout)
    assert (job["model"], job["status"], job["percent"], job["warnings"]) == ("qwen2.5:0.5b", "done", 100.0, [])
    assert len(job["layers"]) == 5 and job["completed_bytes"] == job["total_bytes"] > 390_000_000
    assert "local/qwen2.5:0.5b" in {m["name"] for m in json.loads(cli("models", "--json").stdout)}
    assert cli("ollama", "jobs").stdout.splitlines()[2].split()[:5] == ["1", "local", "qwen2.5:0.5b", "pull", "done"]

    unconfirmed = cli("ollama", "rm", "qwen2.5:0.5b")  # no terminal to ask in
    assert unconfirmed.returncode == 2
    assert "Removing qwen2.5:0.5b needs confirmation: run it in a terminal, or pass --yes." in unconfirmed.stderr
    removed = cli("ollama", "rm", "qwen2.5:0.5b", "--yes")
    assert removed.returncode == 0
    assert removed.stdout.startswith("Removed qwen2.5:0.5b from 'local', freeing up to 397.8 MB")
    assert "local/qwen2.5:0.5b" not in {m["name"] for m in json.loads(cli("models", "--json").stdout)}
    again = cli("ollama", "rm", "qwen2.5:0.6b", "--yes")
    assert again.returncode == 2
    assert "qwen2.5:0.6b is not installed on 'local'. Installed: llama3.2:1b." in again.stderr


def test_disk_check_unknown_model_and_server_down_from_the_cli(
    local_ollama: FakeOllama, cli: Cli, monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]
) -> None:
    set_env(monkeypatch, sb_env, SWITCHBOARD_OLLAMA_DISK_MARGIN_GB="100000")
    refused = cli("ollama", "pull", "qwen2.5:0.5b")
    assert refused.returncode == 2 and refused.stderr.startswith("Error: Not enough free disk space for qwen2.5:0.5b")
    assert "Pass --force to try anyway." in refused.stderr
    forced = cli("ollama", "pull", "qwen2.5:0.5b", "--force")
    assert forced.returncode == 0 and "Warning: Not enough free disk space" in forced.stderr
    assert forced.stdout.startswith("Installed qwen2.5:0.5b (397.8 MB) in ")

    set_env(monkeypatch, sb_env, SWITCHBOARD_OLLAMA_DISK_MARGIN_GB="0")
    unknown = cli("ollama", "pull", "llamma3.2")
    assert unknown.returncode == 1
    assert "Error: There is no model called 'llamma3.2:latest' in the Ollama library. Did you mean" in unknown.stderr
    with local_ollama.down():
        down = cli("ollama", "pull", "llama3.2:3b")
        listed = cli("ollama", "list")
    assert down.returncode == 1 and "is not running or not reachable" in down.stderr
    assert listed.returncode == 1 and "is not running or not reachable" in listed.stdout
    for out in (refused, forced, unknown, down, listed):
        assert "Traceback" not in out.stdout + out.stderr


def test_several_servers_need_a_provider_and_none_says_how_to_add_one(
    cli: Cli, tmp_path_factory: pytest.TempPathFactory
) -> None:
    none = cli("ollama", "list")
    assert none.returncode == 2
    assert "No Ollama server is configured. Add one with `switchboard providers add local --kind ollama`" in none.stderr
    with (
        FakeOllama(tmp_path_factory.mktemp("a"), tick_s=0.01) as gpu_box,
        FakeOllama(tmp_path_factory.mktemp("b"), installed=["qwen2.5:0.5b"]) as laptop,
    ):
        for name, server in (("gpu-box", gpu_box), ("laptop", laptop)):
            assert cli("providers", "add", name, "--kind", "ollama", "--base-url", server.url).returncode == 0
        ambiguous = cli("ollama", "pull", "qwen2.5:0.5b")
        assert ambiguous.returncode == 2
        assert "There are several Ollama servers ('gpu-box', 'laptop'): say which one with --provider NAME." in (
            ambiguous.stderr
        )
        both = json.loads(cli("ollama", "list", "--json").stdout)["providers"]
        assert [(p["provider"], [m["name"] for m in p["models"]]) for p in both] == [
            ("gpu-box", ["llama3.2:1b"]),
            ("laptop", ["qwen2.5:0.5b"]),
        ]
        pulled = cli("ollama", "pull", "qwen2.5:0.5b", "--provider", "gpu-box", "--json")
        assert pulled.returncode == 0, pulled.stderr
        assert json.loads(pulled.stdout)["provider"] == "gpu-box"
        assert gpu_box.calls("/api/pull") and not laptop.calls("/api/pull")  # each server has its own host
        names = {m["name"] for m in json.loads(cli("models", "--json").stdout)}
        assert {"gpu-box/qwen2.5:0.5b", "laptop/qwen2.5:0.5b", "gpu-box/llama3.2:1b"} <= names
        missing = cli("ollama", "list", "--provider", "nope")
        assert missing.returncode == 2
        assert "No Ollama provider named 'nope'. Ollama providers: 'gpu-box', 'laptop'." in missing.stderr
    gone = cli("ollama", "cancel", "42")
    assert gone.returncode == 2 and "There is no pull job 42." in gone.stderr
