"""Only models that can hold a conversation enter the chat registry: from a server's /v1/models and from
litellm's static lists alike (no prompt-guard classifiers, speech or embedding models, tiny windows)."""

from __future__ import annotations

import asyncio

from core.models.registry import search_models
from core.models.sync import refresh
from core.providers.store import add_provider
from tests.fakes.openai import FakeOpenAI
from tests.helpers import closed_port

GROQ_KEY = "gsk_test_000000000001"


def test_a_providers_listing_keeps_only_chat_models(cli) -> None:  # type: ignore[no-untyped-def]
    listed = [
        "llama-3.3-70b-versatile",
        "meta-llama/llama-prompt-guard-2-22m",
        "llama-guard-3-8b",
        "whisper-large-v3",
        "tiny-ctx-model",
    ]
    with FakeOpenAI(models=listed, api_key=None) as fake:
        fake.extra_fields["tiny-ctx-model"] = {"context_window": 512}
        added = cli("providers", "add", "box", "--kind", "openai_compatible", "--base-url", fake.url + "/v1")
        assert added.returncode == 0, added.stderr
        assert [m.model_id for m in search_models(provider="box")] == ["llama-3.3-70b-versatile"]
        assert "guard" not in cli("models", "--provider", "box").stdout


def test_litellms_static_list_keeps_only_chat_models() -> None:
    add_provider("groq", "groq", base_url=f"http://127.0.0.1:{closed_port()}/openai/v1", api_key=GROQ_KEY)
    (result,) = asyncio.run(refresh())
    ids = {m.model_id for m in search_models(provider="groq")}
    assert result.source == "static" and ids
    assert not {i for i in ids if "guard" in i or "whisper" in i or "orpheus" in i}, ids
