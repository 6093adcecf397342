"""The bots' process setup (core.runtime): litellm loaded on a thread as the bot goes online, the collector tuned.

Run in a fresh interpreter, because freezing the collector is process-wide. `switchboard slack` (both modes)
and the Discord bot call it on start; tests/slack/test_slack_processes.py runs those processes end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import gc, json, sys
before = gc.get_threshold()
from core.runtime import GEN0_THRESHOLD, prepare_worker
loading = prepare_worker()
still_loading = loading.is_alive()  # the import takes seconds
loading.join(120)
print(json.dumps({
    "returned_before_import": still_loading,
    "litellm_loaded": "litellm" in sys.modules,
    "frozen": gc.get_freeze_count(),
    "threshold": gc.get_threshold(),
    "before": before,
    "gen0": GEN0_THRESHOLD,
}))
"""


def test_prepare_worker_loads_litellm_on_a_thread_and_freezes_the_startup_heap() -> None:
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["returned_before_import"]  # the process can go online while litellm loads
    assert probe["litellm_loaded"]
    # litellm's model map alone is well over 100k objects: all of it is out of future collections
    assert probe["frozen"] > 100_000
    assert probe["threshold"] == [probe["gen0"], *probe["before"][1:]]
    assert probe["gen0"] > probe["before"][0]
