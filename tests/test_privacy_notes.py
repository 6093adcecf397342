"""Where a provider's data goes, as users read it: a custom base URL names its host, not the kind's own API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from core.providers.kinds import get_kind
from core.providers.store import add_provider, get_provider, update_provider, where_data_goes
from core.storage.db import get_engine, session
from core.storage.tables import Provider
from tests.conftest import Cli
from tests.fakes.openai import FakeOpenAI

KEY = "sk-test-openai-key-1234"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(models=["gpt-4o"], api_key=KEY) as server:
        yield server


def notes(cli: Cli) -> dict[str, str]:
    listed = cli("providers", "list", "--json")
    return {p["name"]: p["privacy_note"] for p in json.loads(listed.stdout)}


def test_an_openai_provider_with_a_custom_base_url_says_where_data_really_goes(
    any_db: str, cli: Cli, fake: FakeOpenAI
) -> None:
    base_url = fake.url + "/v1"
    added = cli(
        "providers", "add", "oa", "--kind", "openai", "--base-url", base_url, "--api-key-env", "K", env={"K": KEY}
    )
    assert added.returncode == 0, added.stderr
    host = fake.url.removeprefix("http://")
    note = notes(cli)["oa"]
    assert note == (
        f"Prompts and replies are sent to {host} on this machine (the base URL you configured), "
        "not to OpenAI's own API."
    )
    assert "sent to OpenAI" not in note


def test_the_note_follows_the_base_url_and_an_admins_own_note_wins(any_db: str, fake: FakeOpenAI) -> None:
    add_provider("oa", "openai", api_key=KEY)
    view = get_provider("oa")
    assert view is not None and view.privacy_note.startswith("Cloud: prompts and replies are sent to OpenAI.")
    update_provider("oa", base_url=fake.url + "/v1")
    moved = get_provider("oa")
    assert moved is not None and "not to OpenAI's own API" in moved.privacy_note
    update_provider("oa", privacy_note="Goes through our audited gateway.")
    own = get_provider("oa")
    assert own is not None and own.privacy_note == "Goes through our audited gateway."


def test_a_note_older_versions_stored_for_a_custom_base_url_is_corrected(any_db: str, fake: FakeOpenAI) -> None:
    openai = get_kind("openai")
    assert openai is not None
    get_engine()
    with session(write=True) as s:
        s.add(Provider(name="oa", kind="openai", base_url=fake.url + "/v1", privacy_note=openai.privacy_note))
    view = get_provider("oa")
    assert view is not None and "sent to OpenAI" not in view.privacy_note
    assert fake.url.removeprefix("http://") in view.privacy_note


@pytest.mark.parametrize(
    ("kind", "url", "expected"),
    [
        ("openai", "https://gw.example.com/v1", "sent to gw.example.com (the base URL you configured), not to OpenAI"),
        ("anthropic", "https://user:pw@proxy.example.com:8443", "sent to proxy.example.com:8443 (the base URL"),
        ("openai", "https://api.openai.com/v1/", "Cloud: prompts and replies are sent to OpenAI."),
        (
            "openai_compatible",
            "http://10.0.0.5:8000/v1",
            "Self-hosted or third-party: prompts and replies are sent to 10.0.0.5:8000.",
        ),
        ("openai_compatible", "http://127.0.0.1:8080/v1", "Local: prompts and replies are sent to 127.0.0.1:8080"),
        ("ollama", "http://gpu-box:11434", "stay on the Ollama server you run at gpu-box:11434."),
    ],
)
def test_what_each_kind_says(kind: str, url: str, expected: str) -> None:
    pkind = get_kind(kind)
    assert pkind is not None
    note = where_data_goes(pkind, url)
    assert expected in note and "pw" not in note
