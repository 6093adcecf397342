"""The Models page: the registry with search and filters, enabling and aliases, defaults and allowlists per
scope, fallback chains, prompt templates and presets. Invalid input shows the error and saves nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from core.config.chains import list_chains
from core.config.prompts import list_presets, list_templates
from core.config.scopes import ScopeKey, load_all
from core.models.registry import get_model, set_model_overrides
from core.models.sync import refresh
from core.providers.store import add_provider
from tests.adminkit import AdminApp
from tests.chatkit import CLOUD_KEY
from tests.fakes.openai import FakeOpenAI

NEW = "+ New…"


@pytest.fixture
def registry() -> Iterator[None]:
    """A cloud provider `oa` (paid) and a loopback OpenAI-compatible server `local` (free, local)."""
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big", "llama-small"], api_key=None) as local,
    ):
        add_provider("oa", "openai", base_url=cloud.url + "/v1", api_key=CLOUD_KEY)
        add_provider("local", "openai_compatible", base_url=local.url + "/v1")
        asyncio.run(refresh())
        yield


def test_the_registry_table_searches_and_filters(registry: None) -> None:
    admin = AdminApp.signed_in().open("models")
    table = admin.table_with("model")
    assert table["model"].tolist() == ["local/llama-big", "local/llama-small", "oa/gpt-4o", "oa/gpt-4o-mini"]
    row = table.set_index("model").loc["oa/gpt-4o"]
    assert row["input $/Mtok"] == 2.5 and row["status"] == "usable" and not row["local"]
    assert row["price from"] == "the provider" and row["enabled"]
    local = table.set_index("model").loc["local/llama-big"]
    assert local["input $/Mtok"] == 0 and local["price from"].startswith("local server: free (type a price")
    assert local["context"] == "–"  # unknown: the same dash as every other missing value, never "None"

    admin.fill("Search", "mini").run()
    assert admin.table_with("model")["model"].tolist() == ["oa/gpt-4o-mini"]
    assert "1 of 4 models" in admin.text()
    admin.fill("Search", "").choose("Where", "local").run()
    assert admin.table_with("model")["model"].tolist() == ["local/llama-big", "local/llama-small"]


def test_disable_a_model_and_give_it_an_alias(registry: None) -> None:
    admin = AdminApp.signed_in().open("models")
    admin.choose("Model to edit", "oa/gpt-4o").run()

    admin.fill("Alias", "bad alias!").tick("Enabled", False).submit("Save model")
    assert any("'bad alias!' is not a valid alias" in e for e in admin.errors)
    model = get_model("oa/gpt-4o")
    assert model is not None and model.enabled and model.alias is None  # nothing half-saved

    set_model_overrides("local/llama-big", alias="big")
    admin.fill("Alias", "big").submit("Save model")
    assert admin.errors == ["'big' is already the name or alias of local/llama-big."]

    admin.fill("Alias", "smart").tick("Enabled", False).submit("Save model")
    assert admin.successes == ["Saved oa/gpt-4o."]
    model = get_model("smart")
    assert model is not None and model.name == "oa/gpt-4o" and not model.enabled
    row = admin.table_with("model").set_index("model").loc["oa/gpt-4o"]
    assert row["alias"] == "smart" and row["status"] == "unusable: an admin disabled it"


def test_workspace_default_and_allowlist_are_checked_before_saving(registry: None) -> None:
    admin = AdminApp.signed_in().open("models")
    admin.choose("Scope to edit", NEW).run()

    def scope_form(default: str, allowed: list[str], local_only: bool = False) -> AdminApp:
        admin.choose("Platform", "slack").fill("Workspace id", "T1").choose("Default model", default)
        admin.tick("Only allow these models").choose_many("Allowed models", allowed)
        return admin.tick("Local models only", local_only).submit("Save scope")

    scope_form("oa/gpt-4o", ["local/llama-big"])
    assert admin.errors == ["The default model oa/gpt-4o is not in the allowlist; add it or pick another default."]
    scope_form("oa/gpt-4o", ["oa/gpt-4o", "local/llama-big"], local_only=True)
    assert admin.errors == ["oa/gpt-4o is not a local model, so it cannot be the default of a local-only scope."]
    assert load_all() == {}

    scope_form("oa/gpt-4o", ["oa/gpt-4o", "local/llama-big"])
    assert admin.successes == ["Saved the policy of slack workspace T1."]
    saved = load_all()[ScopeKey("slack", "T1", "")]
    assert saved.default_model == "oa/gpt-4o" and saved.allowed_models == ["oa/gpt-4o", "local/llama-big"]
    assert saved.updated_by == "admin:admin"
    row = admin.table_with("scope").set_index("scope").loc["slack workspace T1"]
    assert row["allowed models"] == "oa/gpt-4o, local/llama-big"


def test_fallback_chain_keeps_the_order_picked(registry: None) -> None:
    admin = AdminApp.signed_in().open("models")
    admin.fill("Name", "Bad Name").choose_many("Try these models, in this order", ["oa/gpt-4o-mini"])
    admin.submit("Save chain")
    assert any("'Bad Name' is not a valid chain name" in e for e in admin.errors)
    assert list_chains() == []

    admin.fill("Name", "big-falls-back").choose("When this model fails", "local/llama-big")
    admin.choose_many("Try these models, in this order", ["local/llama-small", "oa/gpt-4o-mini"])
    admin.submit("Save chain")
    assert admin.successes == ["Saved fallback chain 'big-falls-back'."]
    (chain,) = list_chains()
    assert chain.for_model == "local/llama-big" and chain.models == ("local/llama-small", "oa/gpt-4o-mini")
    assert chain.scope == ScopeKey() and not chain.allow_paid
    assert admin.table_with("chain").loc[0, "then try"] == "local/llama-small → oa/gpt-4o-mini"


def test_templates_and_presets(registry: None) -> None:
    admin = AdminApp.signed_in().open("models")
    admin.fill("Name", "house-style", index=1).fill("Models matching", "local/*")
    admin.fill("System prompt", "Today is {date}. Be {mood}.").submit("Save template")
    assert any("Unknown variable(s) mood" in e for e in admin.errors)
    assert list_templates() == []
    admin.fill("System prompt", "Today is {date}. Answer briefly.").submit("Save template")
    assert admin.successes == ["Saved template 'house-style'."]
    assert [(t.name, t.pattern) for t in list_templates()] == [("house-style", "local/*")]

    admin.fill("Name", "coder", index=2).choose("Model", "local/llama-big")
    admin.fill("Description", "Code reviews").fill("System prompt", "You review code.", index=1)
    admin.submit("Save preset")
    assert admin.successes == ["Saved preset 'coder'."]
    (preset,) = list_presets()
    assert (preset.model, preset.system_prompt, preset.description) == (
        "local/llama-big",
        "You review code.",
        "Code reviews",
    )

    admin.choose("Preset to edit", "coder").run()
    admin.tick("Yes, delete preset 'coder'").run()
    admin.click("Delete")
    assert admin.successes == ["Deleted preset 'coder'."] and list_presets() == []


def test_a_negative_price_is_refused_with_a_message_and_a_local_model_can_be_priced(registry: None) -> None:
    admin = AdminApp.signed_in().open("models")
    admin.choose("Model to edit", "local/llama-big").run()
    assert any("counts as free (local)" in c.value for c in admin.at.caption)
    admin.number("Input $/Mtok", -1).submit("Save model")
    assert admin.errors == ["The input price must be between 0 and 10000 USD per million tokens."]
    model = get_model("local/llama-big")
    assert model is not None and model.is_local  # nothing saved

    admin.number("Input $/Mtok", 0.5).number("Output $/Mtok", 1.5).submit("Save model")
    model = get_model("local/llama-big")
    assert model is not None and (model.input_usd_per_mtok, model.output_usd_per_mtok) == (0.5, 1.5)
    assert model.price_source == "override" and not model.is_local  # the admin's price beats the local guess
