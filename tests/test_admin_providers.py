"""The Providers page: add (validated, all or nothing), keys that never show beyond their last 4 characters,
connection tests against a loopback fake with their latency, edits and removal with confirmation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core import secrets
from core.models.registry import all_models
from core.providers.store import add_provider, get_provider, list_providers
from tests.adminkit import AdminApp
from tests.fakes.openai import FakeOpenAI

KEY = "sk-test-openai-key-1234"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=KEY) as fake:
        yield fake


def add(admin: AdminApp, name: str, kind: str, base_url: str = "", api_key: str = "", org: str = "") -> AdminApp:
    admin.fill("Name", name).choose("Kind", kind).fill("Base URL", base_url).fill("Organization", org)
    return admin.fill("API key", api_key).submit("Add provider")


def test_add_a_provider_then_its_key_shows_only_its_last_four_characters(fake_openai: FakeOpenAI) -> None:
    admin = AdminApp.signed_in().open("providers")
    add(admin, "oa", "openai", f"{fake_openai.url}/v1", KEY, org="org-42")

    assert admin.successes == ["Added provider 'oa' (OpenAI); 2 models listed."]
    assert [m.name for m in all_models()] == ["oa/gpt-4o", "oa/gpt-4o-mini"]
    stored = get_provider("oa")
    assert stored is not None and stored.base_url == f"{fake_openai.url}/v1" and stored.organization == "org-42"
    assert secrets.get_api_key("oa") == KEY
    table = admin.table_with("key")
    assert table.loc[0, "key"] == "••••••••" and table.loc[0, "organization"] == "org-42"

    admin.toggle("Reveal key endings").run()
    assert admin.table_with("key").loc[0, "key"] == "…1234"
    assert KEY not in admin.text() and "sk-test" not in admin.text()


@pytest.mark.parametrize(
    ("name", "kind", "base_url", "key", "error"),
    [
        ("Bad Name", "openai", "", KEY, "is not a valid provider name"),
        ("oa", "openai", "", "", "OpenAI needs an API key"),
        ("oa", "openai_compatible", "localhost:8080", "", "is not a valid base URL"),
        ("oa", "openai_compatible", "", "", "needs --base-url"),
        ("oa", "anthropic", "", "sk-ant-1234567890", ""),  # valid, then: organization not supported below
    ],
)
def test_invalid_input_explains_the_error_and_saves_nothing(
    name: str, kind: str, base_url: str, key: str, error: str
) -> None:
    admin = AdminApp.signed_in().open("providers")
    add(admin, name, kind, base_url, key, org="org-1" if not error else "")
    expected = error or "Anthropic has no organization setting."
    assert any(expected in e for e in admin.errors), admin.errors
    assert list_providers() == []
    assert secrets.get_api_key(name) is None


def test_a_duplicate_name_is_refused(fake_openai: FakeOpenAI) -> None:
    add_provider("oa", "openai", base_url=f"{fake_openai.url}/v1", api_key=KEY)
    admin = AdminApp.signed_in().open("providers")
    add(admin, "oa", "openai", f"{fake_openai.url}/v1", "sk-other-key-99999999")
    assert admin.errors == ["A provider named 'oa' already exists. Remove it first or pick another name."]
    assert secrets.get_api_key("oa") == KEY


def test_connection_test_shows_the_result_and_latency(fake_openai: FakeOpenAI) -> None:
    add_provider("good", "openai", base_url=f"{fake_openai.url}/v1", api_key=KEY)
    add_provider("wrongkey", "openai", base_url=f"{fake_openai.url}/v1", api_key="sk-wrong-key-00000000")
    admin = AdminApp.signed_in().open("providers")

    admin.click("Test connection")  # the first provider is picked
    assert admin.successes[0].startswith("good: Connected to OpenAI in ")
    assert admin.successes[0].endswith("ms: 2 chat models.")
    assert admin.metric("Connection latency").endswith(" ms")
    assert fake_openai.calls("/v1/models")[-1].headers["Authorization"] == f"Bearer {KEY}"

    admin.choose("Provider", "wrongkey").run().click("Test connection")
    assert admin.errors and admin.errors[0].startswith("wrongkey: ")
    assert "sk-wrong" not in admin.text()
    health = admin.table_with("health").set_index("name")["health"].to_dict()
    assert health == {"good": "ok", "wrongkey": "failing"}


def test_edit_validates_then_saves_only_what_changed(fake_openai: FakeOpenAI) -> None:
    add_provider("oa", "openai", base_url=f"{fake_openai.url}/v1", api_key=KEY)
    admin = AdminApp.signed_in().open("providers")

    admin.fill("Base URL", "not a url", index=1).submit("Save changes")  # 0 is the add form's
    assert any("is not a valid base URL" in e for e in admin.errors)
    assert get_provider("oa").base_url == f"{fake_openai.url}/v1"  # type: ignore[union-attr]

    admin.fill("New API key", "sk-new-key-abcdefghWXYZ").tick("Enabled", False).submit("Save changes")
    assert admin.successes == ["Saved 'oa'."]
    saved = get_provider("oa")
    assert saved is not None and not saved.enabled and saved.key_hint.endswith("WXYZ")
    assert saved.base_url == f"{fake_openai.url}/v1"
    assert secrets.get_api_key("oa") == "sk-new-key-abcdefghWXYZ"


def test_remove_needs_confirmation(fake_openai: FakeOpenAI) -> None:
    add_provider("oa", "openai", base_url=f"{fake_openai.url}/v1", api_key=KEY)
    admin = AdminApp.signed_in().open("providers")
    assert admin.button("Remove provider").disabled
    admin.tick("Yes, remove 'oa'").run()
    admin.click("Remove provider")
    assert admin.successes == ["Removed provider 'oa'."]
    assert list_providers() == [] and secrets.get_api_key("oa") is None
