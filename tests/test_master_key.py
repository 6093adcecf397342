"""A wrong or missing SWITCHBOARD_SECRET_KEY is a clear startup error in every process and command (README
"Secrets"): exit non-zero with one paragraph saying what is wrong and what to do, naming only commands that
exist, never a traceback, and never a health check that says ok. `switchboard secrets reset` is the way out
when the original key is lost."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time

import httpx
import pytest

from core import secrets
from core.providers.store import add_provider, provider_config
from core.settings import get_settings
from tests.conftest import Cli
from tests.helpers import closed_port

WRONG_KEY = "bm90IHRoZSByaWdodCBrZXkgZm9yIHRoZXNlIHNlY3I="  # a valid Fernet key, not the one the store uses
SLACK = {"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "s" * 32, "SLACK_APP_TOKEN": "xapp-1-A1-2"}
PROCESSES = {
    "scheduler": (["scheduler"], {}),
    "slack socket mode": (["slack"], {**SLACK, "SWITCHBOARD_SLACK_MODE": "socket"}),
    "slack http mode": (["slack"], {**SLACK, "SWITCHBOARD_SLACK_MODE": "http", "SWITCHBOARD_SLACK_HOST": "127.0.0.1"}),
    "discord": (["discord"], {"DISCORD_BOT_TOKEN": "x" * 59, "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10"}),
    "admin": (["admin"], {"SWITCHBOARD_ADMIN_ADDRESS": "127.0.0.1"}),
    "up": (["up"], {"SWITCHBOARD_ADMIN_ADDRESS": "127.0.0.1"}),
}


@pytest.fixture
def stored_secret() -> None:
    """A provider whose key was stored under the test's master key."""
    add_provider("oa", "openai", base_url="http://127.0.0.1:9/v1", api_key="sk-stored-under-the-real-key-1234")


def start(args: list[str], env: dict[str, str], key: str | None) -> tuple[subprocess.Popen[str], int]:
    """`switchboard ARGS` as a Procfile runner starts it, with `key` as SWITCHBOARD_SECRET_KEY (None: unset)."""
    port = closed_port()
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "SWITCHBOARD_SECRET_KEY")}
    full.update(env, PORT=str(port), SWITCHBOARD_ADMIN_PORT=str(port))
    if key is not None:
        full["SWITCHBOARD_SECRET_KEY"] = key
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return proc, port


def refused(proc: subprocess.Popen[str], port: int) -> tuple[int, str]:
    """Wait for the process to give up; fail if it keeps running or if anything on its port says it is healthy."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        for path in ("/healthz", "/_stcore/health"):
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1)
            except httpx.HTTPError:
                continue
            proc.kill()
            raise AssertionError(f"{path} answered {answer.status_code} {answer.text!r} with an unusable key")
        time.sleep(0.3)
    if proc.poll() is None:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"still running after 60 s with an unusable key:\n{out}{err}")
    out, err = proc.communicate()
    return proc.returncode, out + err


def commands_named(message: str) -> list[list[str]]:
    """`switchboard x y` commands a message tells the operator to run (arguments in capitals dropped)."""
    return [
        [w for w in found.split()[1:] if re.fullmatch(r"[a-z][a-z-]*", w)]
        for found in re.findall(r"`(switchboard [^`]+)`", message)
    ]


@functools.cache
def command_exists(command: tuple[str, ...]) -> bool:
    """`switchboard COMMAND --help` answers (with a wrong key too: help needs no secrets)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["SWITCHBOARD_SECRET_KEY"] = WRONG_KEY
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", *command, "--help"], env=env, capture_output=True, timeout=60
    )
    return run.returncode == 0


def assert_says_what_to_do(code: int, output: str, problem: str) -> None:
    assert code != 0, output
    assert "Traceback" not in output and "Error" in output, output
    assert problem in output, output
    assert output.count("\n") <= 3, output  # one paragraph, not a log
    for command in commands_named(output):
        assert command_exists(tuple(command)), f"the message names `switchboard {' '.join(command)}`: no such command"


@pytest.mark.parametrize("name", list(PROCESSES))
def test_every_process_refuses_to_start_with_a_key_that_cannot_decrypt_the_store(
    stored_secret: None, name: str
) -> None:
    args, env = PROCESSES[name]
    code, output = refused(*start(args, env, WRONG_KEY))
    assert_says_what_to_do(code, output, "SWITCHBOARD_SECRET_KEY is not the key this database's secrets were encrypted")
    assert "`switchboard secrets reset`" in output


@pytest.mark.parametrize("name", ["scheduler", "slack http mode", "discord", "admin"])
def test_every_process_refuses_to_start_without_a_key(stored_secret: None, name: str) -> None:
    args, env = PROCESSES[name]
    code, output = refused(*start(args, env, None))
    assert_says_what_to_do(code, output, "SWITCHBOARD_SECRET_KEY is not set")


@pytest.mark.parametrize(
    "args",
    [
        ["ask", "--thread", "t1", "hello"],
        ["chat"],
        ["providers", "list"],
        ["models"],
        ["models", "set", "oa/gpt-4o", "--free"],
        ["registry", "refresh"],
        ["budgets", "list"],
    ],
    ids=" ".join,
)
def test_commands_that_use_secrets_or_models_stop_with_a_wrong_key(
    cli: Cli, stored_secret: None, args: list[str]
) -> None:
    out = cli.subprocess(*args, env={"SWITCHBOARD_SECRET_KEY": WRONG_KEY})
    assert_says_what_to_do(out.returncode, out.stdout + out.stderr, "SWITCHBOARD_SECRET_KEY is not the key")
    assert command_exists(tuple(a for a in args if a.isalpha()))  # --help still answers with a wrong key


def test_a_store_written_before_the_canary_is_checked_against_its_secrets(
    stored_secret: None, cli: Cli, sb_env: dict[str, str]
) -> None:
    from core.storage.db import session
    from core.storage.tables import Meta

    with session(write=True) as s:
        s.delete(s.get(Meta, "secrets.canary"))
    out = cli.subprocess("providers", "list", env={"SWITCHBOARD_SECRET_KEY": WRONG_KEY})
    assert out.returncode == 2 and "SWITCHBOARD_SECRET_KEY is not the key" in out.stderr


def test_secrets_reset_deletes_what_the_lost_key_encrypted_after_confirmation(
    stored_secret: None, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    new = {"SWITCHBOARD_SECRET_KEY": WRONG_KEY}
    unconfirmed = cli.subprocess("secrets", "reset", env=new)
    assert unconfirmed.returncode != 0 and "provider:oa" in unconfirmed.stdout
    assert "Nothing was deleted" in unconfirmed.stderr and "--yes" in unconfirmed.stderr
    assert cli.subprocess("providers", "list", env=new).returncode == 2  # still refused: nothing changed

    done = cli.subprocess("secrets", "reset", "--yes", env=new)
    assert done.returncode == 0, done.stderr
    assert "Deleted 1 secrets" in done.stdout and "Enter the API keys of oa again" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert cli.subprocess("providers", "list", env=new).returncode == 0  # the new key is the store's key now
    assert cli.subprocess("providers", "list").returncode == 2  # and the old one is refused

    monkeypatch.setenv("SWITCHBOARD_SECRET_KEY", WRONG_KEY)
    get_settings.cache_clear()
    secrets.reset_backend()
    assert provider_config("oa").api_key is None  # re-entered by the operator; the old one is gone
    add_provider("other", "openai", base_url="http://127.0.0.1:9/v1", api_key="sk-new-key-under-new-master-99")
    again = cli.subprocess("secrets", "reset", "--yes", env=new)
    assert again.returncode == 0 and "Deleted 0 secrets" in again.stdout  # readable secrets are kept
    assert provider_config("other").api_key == "sk-new-key-under-new-master-99"
