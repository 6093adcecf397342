"""`switchboard status`, the operator's probe, on a deployment that is not doing its work yet: it says what is
missing and what to do, and exits 1. (tests/test_scheduler_lease.py shows it with schedulers running and gone.)"""

from __future__ import annotations

import json

from tests.conftest import run_cli


def test_status_of_a_fresh_install_names_what_is_missing(any_db: str, sb_env: dict[str, str]) -> None:
    shown = run_cli("status", env=sb_env)
    assert shown.returncode == 1, shown.stderr
    lines = {line.split()[1]: line for line in shown.stdout.splitlines()[2:] if line.strip()}
    assert lines["database"].startswith("ok") and "schema at" in lines["database"]
    assert lines["scheduler"].startswith("PROBLEM") and "start `switchboard scheduler`" in lines["scheduler"]
    assert lines["providers"].startswith("PROBLEM") and "switchboard providers add" in lines["providers"]
    assert "Traceback" not in shown.stderr

    checks = json.loads(run_cli("status", "--json", env=sb_env).stdout)
    assert [c["check"] for c in checks] == [
        "database",
        "scheduler",
        "replies being written",
        "budget reservations",
        "thread notices",
        "alerts",
        "providers",
    ]


def test_status_says_when_the_database_cannot_be_reached(sb_env: dict[str, str]) -> None:
    shown = run_cli("status", env={**sb_env, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"})
    assert shown.returncode == 1
    assert shown.stderr.startswith("Error: cannot reach the database") and "Traceback" not in shown.stderr
