"""Shared fixtures: every test gets its own database (SQLite file, or a PostgreSQL schema) and settings."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

# Property tests (hypothesis): every example is a real turn against a real database, so CI, which runs them on
# both engines within its time limit, takes fewer than a developer's run. SWITCHBOARD_HYPOTHESIS_PROFILE picks one.
settings.register_profile("dev", max_examples=100, deadline=None, database=None)
settings.register_profile("ci", max_examples=40, deadline=None, database=None)
settings.load_profile(os.environ.get("SWITCHBOARD_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

if TYPE_CHECKING:
    from tests.chatkit import World
    from tests.people import Place

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "SWITCHBOARD_TEST_POSTGRES_URL"
MASTER_KEY = "V2hhdCBhIGxvdmVseSBkYXkgZm9yIGEgdGVzdCBrZXk="  # a valid Fernet key, for tests only

# Settings a developer's shell or .env might carry that must not leak into tests.
_SCRUB = [k for k in os.environ if k.startswith(("SWITCHBOARD_", "SLACK_", "DISCORD_", "OLLAMA_")) and k != PG_ENV] + [
    "DATABASE_URL",
    "PORT",
]


def _reset_process_state() -> None:
    from core import secrets, snapshot
    from core.routing import route
    from core.settings import get_settings
    from core.storage.db import dispose_engines

    dispose_engines()
    secrets.reset_backend()
    snapshot.invalidate()
    route.reset_gateway()
    get_settings.cache_clear()


def pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} must be set under CI: the PostgreSQL tests may not skip there.")
        return None
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for this test (search_path set in the URL), dropped afterwards."""
    import sqlalchemy as sa

    admin = pg_admin_url()
    if admin is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it)")
    admin = admin.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {admin} is not reachable under CI: {exc}")
        pytest.skip("PostgreSQL not reachable")
    sep = "&" if "?" in admin else "?"
    yield f"{admin}{sep}options=-csearch_path%3D{schema}"
    _reset_process_state()
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(autouse=True)
def sb_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Isolated settings for one test: its own cwd, SQLite file and master key. Returns the env to pass
    to subprocesses."""
    for key in _SCRUB:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    values = {
        "SWITCHBOARD_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'switchboard.db'}",
        "SWITCHBOARD_SECRET_KEY": MASTER_KEY,
        "SWITCHBOARD_SECRET_BACKEND": "encrypted",
        "SWITCHBOARD_PROVIDER_TIMEOUT": "3",
        "SWITCHBOARD_NETWORK_CHECKS": "false",
        "SWITCHBOARD_OLLAMA_REGISTRY_URL": "http://127.0.0.1:9/",
        "SWITCHBOARD_OLLAMA_LIBRARY_URL": "http://127.0.0.1:9/library",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    _reset_process_state()
    yield values
    _reset_process_state()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest, sb_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("DATABASE_URL", url)
        sb_env["DATABASE_URL"] = url
        _reset_process_state()
    return str(request.param)


def run_cli(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real `switchboard` command in a subprocess, as an operator or a script would."""
    full_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=full_env,
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=os.getcwd(),
    )


class CliResult:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


class Cli:
    """Runs `switchboard` against this test's database: in-process (fast) or as a real subprocess."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        from typer.testing import CliRunner

        from bot.cli import app

        if env:
            _reset_process_state()
        runner = CliRunner()
        result = runner.invoke(app, list(args), input=input or "", env=env, catch_exceptions=False)
        if env:
            _reset_process_state()
        return CliResult(result.exit_code, result.stdout, result.stderr)

    def subprocess(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        done = run_cli(*args, env={**os.environ, **self.env, **(env or {})}, input=input)
        return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(sb_env: dict[str, str]) -> Cli:
    """`cli("providers", "list")` runs the CLI in-process; `cli.subprocess(...)` as a real process."""
    return Cli(sb_env)


@pytest.fixture(params=["slack", "discord", "console"])
async def place(request: pytest.FixtureRequest, world: World, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Place]:
    """The test once on each surface, with its app running: `await place.person("ada").says("hello")`
    (tests/people.py). Its models are the `world` fixture's (tests.chatkit.World), which the module defines.
    Fewer surfaces: `@pytest.mark.parametrize("place", ["slack", "discord"], indirect=True)`."""
    from tests.people import opened

    async with opened(str(request.param), world, monkeypatch) as opened_place:
        yield opened_place
