"""Operators add, list, test and remove providers from the real `switchboard` CLI against loopback fakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.openai import FakeOpenAI
from tests.helpers import closed_port

OPENAI_KEY = "sk-test-openai-key-1234"


@pytest.fixture
def openai_fake():  # type: ignore[no-untyped-def]
    with FakeOpenAI(models=["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"], api_key=OPENAI_KEY) as fake:
        yield fake


def add_openai(cli, fake, name: str = "openai", key: str = OPENAI_KEY, *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        "providers",
        "add",
        name,
        "--kind",
        "openai",
        "--base-url",
        fake.url + "/v1",
        "--api-key-env",
        "SB_KEY",
        *extra,
        env={"SB_KEY": key},
    )


def test_new_user_adds_a_provider_and_sees_its_models_with_metadata(cli, openai_fake) -> None:  # type: ignore[no-untyped-def]
    added = add_openai(cli, openai_fake)
    assert added.returncode == 0, added.stderr
    assert "Added provider 'openai' (OpenAI, key sk-…1234)" in added.stdout
    assert "2 chat models" in added.stdout  # the embedding model is not offered for chat

    listed = cli("models", "--json")
    models = {m["name"]: m for m in json.loads(listed.stdout)}
    assert set(models) == {"openai/gpt-4o", "openai/gpt-4o-mini"}
    gpt4o = models["openai/gpt-4o"]
    # litellm's metadata, merged in
    assert gpt4o["context_window"] == 128000
    assert gpt4o["input_usd_per_mtok"] == pytest.approx(2.5)
    assert gpt4o["output_usd_per_mtok"] == pytest.approx(10.0)
    assert gpt4o["supports_vision"] and gpt4o["supports_tools"]
    assert gpt4o["local"] is False and gpt4o["available"] is True and gpt4o["source"] == "api"

    table = cli("models", "gpt-4o-mini")
    assert "openai/gpt-4o-mini" in table.stdout and "openai/gpt-4o " not in table.stdout
    assert "$0.15 in / $0.6 out per 1M tokens" in table.stdout


def test_key_from_stdin_is_stored_masked_and_never_printed(cli, openai_fake) -> None:  # type: ignore[no-untyped-def]
    added = cli.subprocess(
        "providers",
        "add",
        "oa",
        "--kind",
        "openai",
        "--base-url",
        openai_fake.url + "/v1",
        input=OPENAI_KEY + "\n",
    )
    assert added.returncode == 0, added.stderr
    listed = cli("providers", "list", "--json")
    (row,) = json.loads(listed.stdout)
    assert row["key_hint"] == "sk-…1234" and row["has_key"] is True
    assert OPENAI_KEY not in added.stdout + added.stderr + listed.stdout
    tested = cli("providers", "test", "oa")
    assert tested.returncode == 0 and tested.stdout.startswith("OK: Connected to OpenAI in ")


def test_connection_test_reports_specific_errors(cli, openai_fake) -> None:  # type: ignore[no-untyped-def]
    assert add_openai(cli, openai_fake, "good").returncode == 0
    assert add_openai(cli, openai_fake, "badkey", "sk-wrong-key-9999").returncode == 0
    down = cli(
        "providers",
        "add",
        "down",
        "--kind",
        "openai_compatible",
        "--base-url",
        f"http://127.0.0.1:{closed_port()}/v1",
    )
    assert down.returncode == 0 and "Cannot reach" in down.stderr
    wrongpath = cli(
        "providers",
        "add",
        "wrongpath",
        "--kind",
        "openai_compatible",
        "--base-url",
        openai_fake.url + "/nope",
    )
    assert wrongpath.returncode == 0

    auth = cli("providers", "test", "badkey", "--json")
    assert auth.returncode == 1
    result = json.loads(auth.stdout)
    assert result["error_kind"] == "auth" and "rejected the API key (HTTP 401)" in result["message"]
    assert "sk-wrong-key-9999" not in auth.stdout + auth.stderr

    assert json.loads(cli("providers", "test", "down", "--json").stdout)["error_kind"] == "unreachable"
    bad_url = json.loads(cli("providers", "test", "wrongpath", "--json").stdout)
    assert bad_url["error_kind"] == "bad_url" and "HTTP 404" in bad_url["message"]

    openai_fake.models_status, openai_fake.retry_after = 429, "7"
    limited = json.loads(cli("providers", "test", "good", "--json").stdout)
    assert limited["error_kind"] == "rate_limited" and "Retry after 7 s" in limited["message"]

    listing = cli("providers", "list")
    assert "badkey" in listing.stdout and "failing" in listing.stdout


def _providers(cli) -> list[dict]:  # type: ignore[no-untyped-def]
    out = cli("providers", "list", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    ("args", "env", "stdin", "message"),
    [
        (["--kind", "openai-ish"], {}, "sk-x-123456789", "Unknown provider kind 'openai-ish'"),
        (
            ["--kind", "openai_compatible", "--base-url", "localhost:8080"],
            {},
            None,
            "is not a valid base URL",
        ),
        (["--kind", "openai_compatible", "--base-url", "http://:80/v1"], {}, None, "is not a valid base URL"),
        (["--kind", "openai", "--api-key-env", "EMPTY"], {"EMPTY": ""}, None, "The API key is empty"),
        (["--kind", "openai"], {}, "   \n", "The API key is empty"),
        (["--kind", "openai", "--api-key-env", "MISSING_VAR"], {}, None, "MISSING_VAR is not set"),
        (["--kind", "openai_compatible"], {}, None, "needs --base-url"),
    ],
)
def test_bad_input_gets_a_clear_error_and_nothing_is_written(  # type: ignore[no-untyped-def]
    cli, args, env, stdin, message
) -> None:
    out = cli("providers", "add", "p1", *args, "--no-refresh", env=env, input=stdin)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert _providers(cli) == []


def test_duplicate_name_is_refused_and_the_first_provider_is_kept(cli, openai_fake) -> None:  # type: ignore[no-untyped-def]
    assert add_openai(cli, openai_fake, "dup").returncode == 0
    again = add_openai(cli, openai_fake, "dup", "sk-other-key-5555")
    assert again.returncode == 2 and "already exists" in again.stderr
    (row,) = _providers(cli)
    assert row["key_hint"] == "sk-…1234"


def test_remove_forgets_provider_models_and_key(cli, openai_fake, sb_env) -> None:  # type: ignore[no-untyped-def]
    assert add_openai(cli, openai_fake).returncode == 0
    assert cli("providers", "remove", "openai", "--yes").returncode == 0
    assert _providers(cli) == []
    assert json.loads(cli("models", "--json").stdout) == []
    from sqlmodel import select

    from core.storage.db import session
    from core.storage.tables import Secret

    with session() as s:
        assert s.exec(select(Secret)).all() == []
    missing = cli("providers", "remove", "openai", "--yes")
    assert missing.returncode == 2 and "No provider named 'openai'" in missing.stderr


def test_anthropic_models_are_discovered_across_pages(cli) -> None:  # type: ignore[no-untyped-def]
    ids = [f"claude-test-{i}" for i in range(130)] + ["claude-sonnet-4-5"]
    with FakeAnthropic(models=ids, api_key="sk-ant-api03-secret-abcd") as fake:
        out = cli(
            "providers",
            "add",
            "claude",
            "--kind",
            "anthropic",
            "--base-url",
            fake.url,
            "--api-key-env",
            "K",
            env={"K": "sk-ant-api03-secret-abcd"},
        )
        assert out.returncode == 0, out.stderr
        assert len(fake.calls("/v1/models")) == 2  # two pages of 100
    models = {m["model_id"]: m for m in json.loads(cli("models", "--provider", "claude", "--json").stdout)}
    assert len(models) == 131
    assert models["claude-sonnet-4-5"]["context_window"] and models["claude-sonnet-4-5"]["price_known"]
    assert models["claude-test-7"]["price_known"] is False  # unknown to litellm: unknown, not free


def test_wrong_master_key_is_a_clear_error_and_nothing_is_written(cli, openai_fake) -> None:  # type: ignore[no-untyped-def]
    assert add_openai(cli, openai_fake).returncode == 0
    wrong = {"SWITCHBOARD_SECRET_KEY": "bm90IHRoZSByaWdodCBrZXkgZm9yIHRoZXNlIHNlY3I="}
    out = cli(
        "providers",
        "add",
        "second",
        "--kind",
        "openai",
        "--base-url",
        openai_fake.url + "/v1",
        "--api-key-env",
        "K",
        env={**wrong, "K": "sk-second-key-7777"},
    )
    assert out.returncode == 2
    assert "SWITCHBOARD_SECRET_KEY is not the key" in out.stderr
    assert [p["name"] for p in _providers(cli)] == ["openai"]
    tested = cli("providers", "test", "openai", env=wrong)
    assert tested.returncode == 2 and "is not the key" in tested.stderr


def test_planted_key_never_appears_in_logs_db_or_output(  # type: ignore[no-untyped-def]
    cli, sb_env, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    import logging

    planted = "sk-PLANTED-a1b2c3d4e5f6g7h8i9j0"
    debug = {"SWITCHBOARD_LOG_LEVEL": "DEBUG"}
    outputs: list[str] = []
    with FakeOpenAI(models=["gpt-4o"], api_key=planted) as fake:
        for args in (
            (
                "providers",
                "add",
                "leaky",
                "--kind",
                "openai",
                "--base-url",
                fake.url + "/v1",
                "--api-key-env",
                "K",
            ),
            ("providers", "test", "leaky"),
            ("providers", "list"),
            ("providers", "list", "--json"),
            ("registry", "refresh", "--json"),
            ("models", "--json"),
        ):
            out = cli.subprocess(*args, env={**debug, "K": planted})
            assert out.returncode == 0, out.stderr
            outputs += [out.stdout, out.stderr]
        fake.api_key = "sk-rotated-elsewhere-000"  # now the stored key is rejected: errors must not echo it
        outputs += [cli.subprocess("providers", "test", "leaky", env=debug).stderr]

        # and in-process, with every logger at DEBUG
        caplog.set_level(logging.DEBUG)
        from core.models.sync import refresh
        from core.providers.store import test_provider

        asyncio.run(test_provider("leaky"))
        asyncio.run(refresh())
    assert planted not in "".join(outputs)
    assert planted not in caplog.text
    data_dir = Path(sb_env["SWITCHBOARD_DATA_DIR"])
    for f in data_dir.iterdir():  # the database and its WAL/SHM files
        assert planted.encode() not in f.read_bytes(), f.name


def test_ollama_models_are_discovered_with_their_real_metadata(cli) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.ollama import FakeOllama

    with FakeOllama(installed=("llama3.2:1b", "llava:7b")) as server:
        added = cli("providers", "add", "local", "--kind", "ollama", "--base-url", server.url)
        assert added.returncode == 0, added.stderr
        assert "Connected to Ollama" in added.stdout and "2 chat models" in added.stdout
        shown = {c.json()["model"] for c in server.calls("/api/show")}
    assert shown == {"llama3.2:1b", "llava:7b"}  # context and capabilities come from /api/show
    models = {m["model_id"]: m for m in json.loads(cli("models", "--provider", "local", "--json").stdout)}
    llava, llama = models["llava:7b"], models["llama3.2:1b"]
    assert llava["supports_vision"] and not llama["supports_vision"]
    assert llama["context_window"] and llama["context_window"] > 1000
    assert llama["family"] == "llama" and llama["parameter_size"] and llama["quantization"]
    assert llama["size_bytes"] and llama["local"] and llama["price_known"] and llama["input_usd_per_mtok"] == 0
    assert llama["litellm_name"] == "ollama_chat/llama3.2:1b"
    assert "free (local)" in cli("models", "--local").stdout


def test_an_ollama_provider_pointed_at_something_else_says_so(cli, openai_fake) -> None:  # type: ignore[no-untyped-def]
    out = cli("providers", "add", "notollama", "--kind", "ollama", "--base-url", openai_fake.url)
    assert out.returncode == 0  # saved, so the URL can be fixed; the warning explains
    assert "answered an error: 404: Not Found. Is this an Ollama server? Check the base URL." in out.stderr
