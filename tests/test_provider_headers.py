"""A provider's extra HTTP headers are secrets: kept in the secret store, shown masked, never needed on argv,
and still sent to the provider (model listing and chat, through the real litellm)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
import sqlalchemy as sa

from core.providers.store import add_provider, list_providers, provider_config
from core.settings import get_settings
from core.storage.db import dispose_engines, get_engine, session
from core.storage.tables import Provider
from tests.chatkit import Thread
from tests.conftest import Cli
from tests.fakes.openai import FakeOpenAI

HEADER_VALUE = "sk-header-secret-98765"


@pytest.fixture
def gateway_fake():  # type: ignore[no-untyped-def]
    with FakeOpenAI(models=["llama-gw"], api_key=None) as fake:
        yield fake


def stored_rows_text() -> str:
    """Everything the Provider table holds, as text: what someone reading the database would see."""
    engine = sa.create_engine(get_settings().effective_database_url)  # not the app's: no startup steps run
    try:
        with engine.connect() as conn:
            return repr(conn.execute(sa.text("SELECT * FROM provider")).all())
    finally:
        engine.dispose()


def add_hdr(cli: Cli, fake: FakeOpenAI, *args: str, **kw: Any):  # type: ignore[no-untyped-def]
    """`switchboard providers add hdr`, an OpenAI-compatible gateway at the fake, with these header options."""
    return cli("providers", "add", "hdr", "--kind", "openai_compatible", "--base-url", fake.url + "/v1", *args, **kw)


def add_with_header_env(cli: Cli, fake: FakeOpenAI, *extra: str):  # type: ignore[no-untyped-def]
    return add_hdr(cli, fake, "--header-env", "api-key=GW_HEADER", *extra, env={"GW_HEADER": HEADER_VALUE})


def test_a_header_from_the_environment_is_kept_secret_and_still_sent(
    any_db: str, cli: Cli, gateway_fake: FakeOpenAI
) -> None:
    added = add_with_header_env(cli, gateway_fake)
    assert added.returncode == 0, added.stderr
    assert HEADER_VALUE not in added.stdout + added.stderr
    # the model listing (refresh) carried the header
    listing = gateway_fake.calls("/v1/models")
    assert listing and listing[-1].headers.get("api-key") == HEADER_VALUE

    as_json = cli("providers", "list", "--json")
    assert HEADER_VALUE not in as_json.stdout
    (row,) = json.loads(as_json.stdout)
    assert row["extra_headers"] == {"api-key": "sk-…8765"}
    table = cli("providers", "list")
    assert "api-key: sk-…8765" in table.stdout and HEADER_VALUE not in table.stdout
    assert HEADER_VALUE not in stored_rows_text()

    said = asyncio.run(Thread().say("hello"))
    assert said.streamed == "echo: hello" and said.footer.startswith("hdr/llama-gw")
    chat = gateway_fake.calls("/v1/chat/completions")
    assert chat and chat[-1].headers.get("api-key") == HEADER_VALUE


def test_a_header_from_stdin(cli: Cli, gateway_fake: FakeOpenAI) -> None:
    added = add_hdr(
        cli,
        gateway_fake,
        "--header-stdin",
        "api-key",
        input=HEADER_VALUE + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert provider_config("hdr").extra_headers == {"api-key": HEADER_VALUE}
    assert gateway_fake.calls("/v1/models")[-1].headers.get("api-key") == HEADER_VALUE


def test_a_header_typed_on_the_command_line_works_with_a_warning_that_does_not_repeat_it(
    cli: Cli, gateway_fake: FakeOpenAI
) -> None:
    added = add_hdr(
        cli,
        gateway_fake,
        "--header",
        f"api-key: {HEADER_VALUE}",
    )
    assert added.returncode == 0, added.stderr
    assert "--header-env api-key=VAR" in added.stderr
    assert HEADER_VALUE not in added.stdout + added.stderr
    assert HEADER_VALUE not in stored_rows_text()
    assert provider_config("hdr").extra_headers == {"api-key": HEADER_VALUE}


def test_a_missing_header_variable_or_a_bad_header_is_refused(cli: Cli, gateway_fake: FakeOpenAI) -> None:
    missing = add_hdr(
        cli,
        gateway_fake,
        "--header-env",
        "api-key=NOT_SET_ANYWHERE",
    )
    assert missing.returncode == 2 and "Environment variable NOT_SET_ANYWHERE is not set." in missing.stderr
    bad = add_hdr(
        cli,
        gateway_fake,
        "--header-env",
        "bad name=GW_HEADER",
        env={"GW_HEADER": HEADER_VALUE},
    )
    assert bad.returncode == 2 and "'bad name' is not a valid header name" in bad.stderr
    assert list_providers() == []


def test_header_values_are_scrubbed_from_logs(
    cli: Cli, gateway_fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    assert add_with_header_env(cli, gateway_fake).returncode == 0
    provider_config("hdr")  # a fresh process learns the value when it reads it
    with caplog.at_level(logging.INFO):
        logging.getLogger("switchboard.test").info("calling with api-key %s", HEADER_VALUE)
    assert HEADER_VALUE not in caplog.text and "[redacted]" in caplog.text


def test_headers_stored_in_the_clear_by_older_versions_move_to_the_secret_store_at_startup(
    any_db: str, cli: Cli, gateway_fake: FakeOpenAI
) -> None:
    get_engine()  # the schema, as an older version left it
    with session(write=True) as s:
        s.add(
            Provider(
                name="legacy",
                kind="openai_compatible",
                base_url=gateway_fake.url + "/v1",
                extra_headers={"api-key": HEADER_VALUE},
                is_local=True,
            )
        )
    assert HEADER_VALUE in stored_rows_text()
    dispose_engines()  # a new process starts

    as_json = cli("providers", "list", "--json")
    assert HEADER_VALUE not in as_json.stdout
    assert json.loads(as_json.stdout)[0]["extra_headers"] == {"api-key": "sk-…8765"}
    assert HEADER_VALUE not in stored_rows_text()
    assert provider_config("legacy").extra_headers == {"api-key": HEADER_VALUE}
    tested = cli("providers", "test", "legacy")
    assert tested.returncode == 0, tested.stdout
    assert gateway_fake.calls("/v1/models")[-1].headers.get("api-key") == HEADER_VALUE
    dispose_engines()  # and starting again changes nothing
    assert provider_config("legacy").extra_headers == {"api-key": HEADER_VALUE}


def test_removing_a_provider_forgets_its_headers(cli: Cli, gateway_fake: FakeOpenAI) -> None:
    assert add_with_header_env(cli, gateway_fake).returncode == 0
    assert cli("providers", "remove", "hdr", "--yes").returncode == 0
    with get_engine().connect() as conn:
        names = [r[0] for r in conn.execute(sa.text("SELECT username FROM secret")).all()]
    assert not any("hdr" in n for n in names)


def test_db_upgrade_also_moves_headers_stored_in_the_clear(cli: Cli, gateway_fake: FakeOpenAI) -> None:
    get_engine()
    with session(write=True) as s:
        s.add(Provider(name="legacy", kind="openai_compatible", extra_headers={"api-key": HEADER_VALUE}))
    dispose_engines()
    upgraded = cli.subprocess("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert HEADER_VALUE not in stored_rows_text()
    assert provider_config("legacy").extra_headers == {"api-key": HEADER_VALUE}


def test_the_admin_providers_page_shows_header_values_masked(gateway_fake: FakeOpenAI) -> None:
    from tests.adminkit import AdminApp

    add_provider("hdr", "openai_compatible", base_url=gateway_fake.url + "/v1", extra_headers={"api-key": HEADER_VALUE})
    admin = AdminApp.signed_in().open("providers")
    assert admin.table_with("headers").loc[0, "headers"] == "api-key: ••••••••"
    admin.toggle("Reveal key endings").run()
    assert admin.table_with("headers").loc[0, "headers"] == "api-key: …8765"
    assert HEADER_VALUE not in admin.text()
