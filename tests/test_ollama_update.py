"""Updates: the local digest against sha256 of the registry manifest, "unknown" (never a guess) offline, and
updating by re-pulling one model or all of them."""

from __future__ import annotations

import json

import pytest

from core.alerts import recent_alerts
from core.models.registry import get_model
from core.ollama import check_updates, check_updates_and_alert, run_job, start_updates
from tests.conftest import Cli
from tests.fakes.ollama import FakeOllama
from tests.helpers import closed_port
from tests.ollamakit import local_ollama, set_env

__all__ = ["local_ollama"]


@pytest.fixture
def online(local_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]) -> FakeOllama:
    """Network checks on, with the fake standing in for registry.ollama.ai."""
    set_env(
        monkeypatch,
        sb_env,
        SWITCHBOARD_NETWORK_CHECKS="true",
        SWITCHBOARD_OLLAMA_REGISTRY_URL=local_ollama.registry_url,
    )
    return local_ollama


async def test_update_check_finds_a_newer_version_and_updating_re_pulls_it(online: FakeOllama) -> None:
    (check,) = await check_updates("local")
    assert (check.model, check.state, check.label) == ("llama3.2:1b", "up_to_date", "up to date")
    assert check.local_digest == check.remote_digest == online.installed_digest("llama3.2:1b")

    online.publish_update("llama3.2:1b")
    (check,) = await check_updates("local")
    assert (check.state, check.label) == ("update_available", "update available")
    assert check.local_digest == online.installed_digest("llama3.2:1b")
    assert check.remote_digest == online.registry_digest("llama3.2:1b") != check.local_digest
    # The scheduled check tells admins, once per new version.
    await check_updates_and_alert()
    await check_updates_and_alert()
    (alert,) = recent_alerts(kind="ollama_update")
    assert alert.text == (
        "A newer version of llama3.2:1b is available on Ollama 'local'. "
        "Update it with `switchboard ollama update llama3.2:1b --provider local`."
    )

    (start,) = await start_updates(["llama3.2:1b"], "local")
    final = await run_job(start.job.id)
    assert final.status == "done" and final.action == "update"
    assert final.detail.startswith("Updated llama3.2:1b to the newest version in ")
    assert online.installed_digest("llama3.2:1b") == online.registry_digest("llama3.2:1b")
    model = get_model("local/llama3.2:1b")
    assert model is not None and model.digest == online.registry_digest("llama3.2:1b")  # registry in step
    (check,) = await check_updates("local")
    assert check.state == "up_to_date"

    # Updating everything when nothing changed re-pulls only manifests, and says so.
    online.install("qwen2.5:0.5b")
    finals = [await run_job(s.job.id) for s in await start_updates(None, "local")]
    assert [(f.model, f.detail) for f in finals] == [
        ("llama3.2:1b", "llama3.2:1b is already installed and up to date."),
        ("qwen2.5:0.5b", "qwen2.5:0.5b is already installed and up to date."),
    ]


async def test_update_check_says_unknown_when_it_cannot_ask_the_registry(
    local_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]
) -> None:
    local_ollama.publish_update("llama3.2:1b")  # there is an update, but we cannot know it
    (check,) = await check_updates("local")  # tests run with network checks off
    assert check.state == "unknown" and check.remote_digest is None
    assert check.label == "unknown (offline: network checks are off (SWITCHBOARD_NETWORK_CHECKS=false))"
    set_env(
        monkeypatch,
        sb_env,
        SWITCHBOARD_NETWORK_CHECKS="true",
        SWITCHBOARD_OLLAMA_REGISTRY_URL=f"http://127.0.0.1:{closed_port()}",
    )
    (check,) = await check_updates("local")
    assert check.label == "unknown (offline: cannot reach 127.0.0.1 (ConnectError))"
    await check_updates_and_alert()
    assert recent_alerts(kind="ollama_update") == []


def test_update_from_the_cli(online: FakeOllama, cli: Cli) -> None:
    online.publish_update("llama3.2:1b")
    checked = cli("ollama", "update", "--all", "--check")
    assert checked.returncode == 0
    assert [line.split() for line in checked.stdout.splitlines()[2:]] == [["llama3.2:1b", "update", "available"]]
    updated = cli("ollama", "update", "llama3.2:1b", "--json")
    assert updated.returncode == 0, updated.stderr
    (job,) = json.loads(updated.stdout)
    assert (job["model"], job["action"], job["status"], job["percent"]) == ("llama3.2:1b", "update", "done", 100.0)
    assert json.loads(cli("ollama", "update", "--all", "--check", "--json").stdout)[0]["state"] == "up_to_date"
    missing = cli("ollama", "update")
    assert missing.returncode == 2 and "Say which model to update, or pass --all." in missing.stderr
