"""Storage and secrets behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from core import secrets
from core.config.version import bump_config_version, config_version
from core.models.registry import get_model, set_model_overrides
from core.models.sync import refresh
from core.providers.store import add_provider, get_provider, provider_config
from core.settings import Settings, get_settings
from core.storage.db import get_engine, session
from core.storage.migrate import current_revision
from core.storage.tables import Provider, Secret
from tests.conftest import ROOT
from tests.fakes.openai import FakeOpenAI


def test_schema_is_migrated_to_head_and_sqlite_uses_wal(any_db: str) -> None:
    engine = get_engine()
    from alembic.script import ScriptDirectory

    from core.storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None and head != "0001" and current_revision(engine) == head
    if any_db == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_provider_key_roundtrip_is_encrypted_at_rest(any_db: str) -> None:
    key = "sk-roundtrip-secret-5678"
    add_provider("oa", "openai", api_key=key)
    assert provider_config("oa").api_key == key
    with session() as s:
        (row,) = s.exec(select(Secret)).all()
    assert key not in row.ciphertext and row.username == "provider:oa"
    view = get_provider("oa")
    assert view is not None and view.key_hint == "sk-…5678"


def test_registry_refresh_and_overrides(any_db: str) -> None:
    with FakeOpenAI(models=["gpt-4o", "gpt-4o-mini"], api_key="sk-any-key-0000001") as fake:
        add_provider("oa", "openai", base_url=fake.url + "/v1", api_key="sk-any-key-0000001")
        asyncio.run(refresh())
        set_model_overrides("oa/gpt-4o-mini", alias="mini", context_window=64000)
        asyncio.run(refresh())
    m = get_model("mini")
    assert m is not None and m.context_window == 64000 and m.input_usd_per_mtok == pytest.approx(0.15)


def test_config_version_bumps_atomically_under_concurrency(any_db: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    start = config_version()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: bump_config_version(), range(40)))
    assert config_version() == start + 40


def test_secret_written_by_one_process_is_read_by_another(any_db: str, sb_env: dict[str, str]) -> None:
    add_provider("shared", "openai", api_key="sk-shared-across-hosts-42")
    code = "from core.providers.store import provider_config; print(provider_config('shared').api_key)"
    out = subprocess.run([sys.executable, "-c", code], env={**_env(), **sb_env}, capture_output=True, text=True)
    assert out.stdout.strip() == "sk-shared-across-hosts-42", out.stderr


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def test_rotate_key_reencrypts_everything(any_db: str, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    add_provider("a", "openai", api_key="sk-first-provider-0001")
    add_provider("b", "anthropic", api_key="sk-ant-second-0002")
    new_key = secrets.generate_master_key()
    out = cli("secrets", "rotate-key", "--new-key-env", "NEW", env={"NEW": new_key})
    assert out.returncode == 0 and "Re-encrypted 2 secrets" in out.stdout
    # the old key no longer opens the store
    secrets.reset_backend()
    with pytest.raises(secrets.SecretStoreError, match="is not the key"):
        provider_config("a")
    monkeypatch.setenv("SWITCHBOARD_SECRET_KEY", new_key)
    get_settings.cache_clear()
    secrets.reset_backend()
    assert provider_config("a").api_key == "sk-first-provider-0001"
    assert provider_config("b").api_key == "sk-ant-second-0002"


def test_missing_master_key_without_os_keyring_is_a_clear_error(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli(
        "providers",
        "add",
        "x",
        "--kind",
        "openai",
        "--api-key-env",
        "K",
        "--no-refresh",
        env={"SWITCHBOARD_SECRET_KEY": "", "SWITCHBOARD_SECRET_BACKEND": "auto", "K": "sk-abc-123456"},
    )
    assert out.returncode == 2
    assert "SWITCHBOARD_SECRET_KEY is not set" in out.stderr and "switchboard init" in out.stderr
    with session() as s:
        assert s.exec(select(Provider)).all() == []


def test_passphrase_master_key_is_stretched_and_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_SECRET_KEY", "correct horse battery staple, but longer")
    get_settings.cache_clear()
    secrets.reset_backend()
    add_provider("p", "openai", api_key="sk-passphrase-0003")
    assert provider_config("p").api_key == "sk-passphrase-0003"


@pytest.mark.parametrize(
    ("value", "masked"),
    [("sk-proj-abcdefghijkl1234", "sk-…1234"), ("gsk_abcdefghijklmnop9876", "…9876"), ("short", "…")],
)
def test_mask_shows_only_a_prefix_and_the_last_four(value: str, masked: str) -> None:
    assert secrets.mask(value) == masked


def test_every_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(getattr(alias, "choices", []) or [])
    assert names and names <= documented, sorted(names - documented)


def test_init_writes_env_with_a_master_key_and_is_idempotent(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"SWITCHBOARD_SECRET_KEY": "", "SWITCHBOARD_SECRET_BACKEND": "auto"}
    first = cli("init", env=env)
    assert first.returncode == 0, first.stderr
    text = (tmp_path / ".env").read_text()
    (key,) = re.findall(r"^SWITCHBOARD_SECRET_KEY=(\S+)$", text, re.M)
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    # the database (password hashes, usage) is the owner's alone, as is the folder it was created in
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "data" / "switchboard.db").stat().st_mode & 0o777 == 0o600
    second = cli("init", env=env)
    assert second.returncode == 0 and (tmp_path / ".env").read_text() == text
    # the generated key opens the store: the first command after init works without exporting anything
    added = cli(
        "providers",
        "add",
        "p",
        "--kind",
        "openai",
        "--api-key-env",
        "K",
        "--no-refresh",
        env={**env, "K": "sk-after-init-0004"},
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(cli("providers", "list", "--json", env=env).stdout)[0]["key_hint"] == "sk-…0004"
    assert key


def test_the_migrations_build_the_schema_the_tables_describe(any_db: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with get_engine().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
