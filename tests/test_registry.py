"""The model registry: concurrent refresh, overrides that survive it, honest prices, search and resolve."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from core.models.registry import get_model, resolve_model, search_models, set_model_overrides
from core.models.sync import refresh
from core.providers.store import add_provider, get_provider
from tests.fakes.openai import FakeOpenAI
from tests.helpers import closed_port


def test_refresh_with_one_provider_down_and_one_slow_is_bounded_by_the_slowest() -> None:
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=None) as fast,
        FakeOpenAI(models=["llama-slow"], api_key=None, delay_s=1.5) as slow,
    ):
        add_provider("fast", "openai_compatible", base_url=fast.url + "/v1")
        add_provider("slow", "openai_compatible", base_url=slow.url + "/v1")
        add_provider("down", "openai_compatible", base_url=f"http://127.0.0.1:{closed_port()}/v1")
        asyncio.run(refresh())  # first refresh: the down one has no history yet
        set_model_overrides("fast/gpt-4o", alias="g4")
        started = time.perf_counter()
        results = {r.provider: r for r in asyncio.run(refresh())}
        wall = time.perf_counter() - started
    assert 1.5 <= wall < 2.5, wall  # close to the slow one's 1.5 s, not the sum
    assert results["fast"].ok and results["slow"].ok and results["slow"].seconds >= 1.5
    assert not results["down"].ok and results["down"].error_kind == "unreachable"
    down = get_provider("down")
    assert down is not None and down.last_check_ok is False and "Cannot reach" in (down.last_check_error or "")
    assert get_model("fast/gpt-4o") is not None and get_model("slow/llama-slow") is not None


def test_unreachable_provider_keeps_history_and_marks_models_unavailable() -> None:
    fake = FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=None).start()
    port = fake.port
    add_provider("box", "openai", base_url=fake.url + "/v1", api_key="sk-box-key-000001")  # a cloud kind
    asyncio.run(refresh())
    set_model_overrides("box/gpt-4o", input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
    fake.stop()
    (result,) = asyncio.run(refresh())
    assert not result.ok and result.unavailable == 2
    m = get_model("box/gpt-4o")
    assert m is not None and not m.available and not m.usable
    assert "not available from 'box'" in (m.unusable_reason or "")
    assert m.input_usd_per_mtok == 1.0  # the override outlived the outage
    # back up on the same port: available again, override still there
    fake2 = FakeOpenAI(models=["gpt-4o"], api_key=None)
    fake2.port = port
    with fake2:
        (result,) = asyncio.run(refresh())
    assert result.ok and result.models == 1  # gpt-4o-mini is gone from the list: kept, still unavailable
    assert get_model("box/gpt-4o").usable  # type: ignore[union-attr]
    assert get_model("box/gpt-4o").output_usd_per_mtok == 2.0  # type: ignore[union-attr]
    mini = get_model("box/gpt-4o-mini")
    assert mini is not None and not mini.available and mini.last_seen is not None


def test_cloud_provider_unreachable_falls_back_to_litellms_static_list() -> None:
    add_provider("groq", "groq", base_url=f"http://127.0.0.1:{closed_port()}/openai/v1", api_key="gsk_test_000000")
    (result,) = asyncio.run(refresh())
    assert not result.ok and result.source == "static" and result.models > 0
    models = search_models(provider="groq")
    assert models and all(m.source == "static" and not m.available for m in models)


def test_self_hosted_server_on_loopback_is_local_and_free(cli) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI(models=["my-finetune"], api_key=None) as fake:
        add_provider("vllm", "openai_compatible", base_url=fake.url.replace("127.0.0.1", "localhost") + "/v1")
        asyncio.run(refresh())
    m = get_model("vllm/my-finetune")
    assert m is not None and m.is_local and m.is_free and m.price_source == "local"
    assert "free (local)" in cli("models", "my-finetune").stdout


def test_remote_unknown_price_is_never_free(cli) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI(models=["mystery-model-x"], api_key="sk-remote-key-0001") as fake:
        # the openai kind is cloud, wherever its base URL points
        add_provider("acme", "openai", base_url=fake.url + "/v1", api_key="sk-remote-key-0001")
        asyncio.run(refresh())
    m = get_model("acme/mystery-model-x")
    assert m is not None and not m.price_known and m.is_paid and m.price_source == "unknown"
    assert "price unknown" in cli("models", "mystery").stdout

    out = cli(
        "models",
        "set",
        "acme/mystery-model-x",
        "--input-usd-per-mtok",
        "0.4",
        "--output-usd-per-mtok",
        "1.6",
        "--context-window",
        "32768",
        "--alias",
        "mystery",
    )
    assert out.returncode == 0, out.stderr
    row = json.loads(cli("models", "mystery", "--json").stdout)[0]
    assert (row["input_usd_per_mtok"], row["output_usd_per_mtok"], row["context_window"]) == (0.4, 1.6, 32768)
    assert row["price_source"] == "override" and row["alias"] == "mystery"

    with FakeOpenAI(models=["mystery-model-x"], api_key="sk-remote-key-0001") as fake:
        from core.providers.store import update_provider

        update_provider("acme", base_url=fake.url + "/v1")
        asyncio.run(refresh())
    again = get_model("mystery")
    assert again is not None and again.input_usd_per_mtok == 0.4 and again.context_window == 32768

    free = cli("models", "set", "mystery", "--free")
    assert free.returncode == 0 and get_model("mystery").is_free  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["acme/nope", "--alias", "x"], "No model named 'acme/nope'"),
        (["acme/gpt-4o", "--input-usd-per-mtok", "-1"], "must be between 0 and 10000"),
        (["acme/gpt-4o", "--context-window", "0"], "must be a positive number"),
        (["acme/gpt-4o", "--alias", "bad alias!"], "is not a valid alias"),
        (["acme/gpt-4o", "--alias", "acme/gpt-4o-mini"], "is not a valid alias"),
        (["acme/gpt-4o"], "Nothing to set"),
    ],
)
def test_models_set_rejects_bad_input(cli, args, message) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key="sk-remote-key-0001") as fake:
        add_provider("acme", "openai", base_url=fake.url + "/v1", api_key="sk-remote-key-0001")
        asyncio.run(refresh())
    before = get_model("acme/gpt-4o")
    out = cli("models", "set", *args)
    assert out.returncode == 2 and message in out.stderr
    assert get_model("acme/gpt-4o") == before


def test_alias_clash_is_refused(cli) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key=None) as fake:
        add_provider("acme", "openai_compatible", base_url=fake.url + "/v1")
        asyncio.run(refresh())
    assert cli("models", "set", "acme/gpt-4o", "--alias", "best").returncode == 0
    out = cli("models", "set", "acme/gpt-4o-mini", "--alias", "best")
    assert out.returncode == 2 and "already the name or alias of acme/gpt-4o" in out.stderr


def test_search_and_resolve_by_fuzzy_name_alias_and_filters() -> None:
    with (
        FakeOpenAI(models=["gpt-4o", "gpt-4o-mini", "o3-mini"], api_key="sk-a-000000001") as oa,
        FakeOpenAI(models=["gpt-4o", "llama-3.3-70b-versatile"], api_key="sk-b-000000002") as other,
    ):
        add_provider("openai", "openai", base_url=oa.url + "/v1", api_key="sk-a-000000001")
        add_provider("mirror", "openai", base_url=other.url + "/v1", api_key="sk-b-000000002")
        asyncio.run(refresh())
    set_model_overrides("openai/o3-mini", alias="thinker")

    assert resolve_model("openai/gpt-4o").model.name == "openai/gpt-4o"  # type: ignore[union-attr]
    assert resolve_model("thinker").model.name == "openai/o3-mini"  # type: ignore[union-attr]
    assert resolve_model("GPT4o-Mini").model.name == "openai/gpt-4o-mini"  # type: ignore[union-attr]
    ambiguous = resolve_model("gpt-4o")
    assert ambiguous.model is None and {c.name for c in ambiguous.candidates} == {
        "openai/gpt-4o",
        "mirror/gpt-4o",
    }
    typo = resolve_model("lama-3.3-70b")
    assert typo.model is None and not typo.candidates
    assert typo.suggestions[0] == "mirror/llama-3.3-70b-versatile"
    nothing = resolve_model("zzzzzzzz")
    assert nothing.model is None and not nothing.candidates

    vision = search_models(vision=True)
    assert {m.model_id for m in vision} >= {"gpt-4o"} and all(m.supports_vision for m in vision)
    cheap = search_models(max_input_usd_per_mtok=1.0)
    assert "openai/gpt-4o-mini" in {m.name for m in cheap} and "openai/gpt-4o" not in {m.name for m in cheap}
    assert {m.name for m in search_models("mini", provider="openai")} == {
        "openai/gpt-4o-mini",
        "openai/o3-mini",
    }
    big = search_models(min_context=150_000)
    assert all((m.context_window or 0) >= 150_000 for m in big)
