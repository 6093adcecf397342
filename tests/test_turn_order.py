"""Turn order within a thread, enforced in core through the database: two processes (two Slack workers, two
Discord shards) holding turns of one thread answer them one after another, each knowing the answer before it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from core.models.sync import refresh
from core.providers.store import add_provider
from tests.conftest import ROOT
from tests.fakes.openai import FakeOpenAI, Reply

FIRST_ANSWER = "The first answer takes a while to write. " * 3


def _worker(thread: str, text: str, event_id: str, env: dict[str, str]) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.workers.turn_worker", thread, text, event_id],
        env=env,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready"
    return worker


def _go(worker: subprocess.Popen[str]) -> None:
    assert worker.stdin is not None
    worker.stdin.write("go\n")
    worker.stdin.flush()


def _result(worker: subprocess.Popen[str]) -> dict[str, object]:
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


async def test_two_processes_answer_one_threads_turns_in_order(any_db: str, sb_env: dict[str, str]) -> None:
    with FakeOpenAI(models=["llama"], api_key=None) as fake:
        add_provider("local", "openai_compatible", base_url=fake.url + "/v1")
        await refresh()
        fake.script("llama", Reply(text=FIRST_ANSWER, token_delay_s=0.08))  # about two seconds of streaming
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | sb_env
        first = _worker("T-order", "first question", "ev-first", env)
        second = _worker("T-order", "second question", "ev-second", env)
        _go(first)
        time.sleep(0.6)  # the first reply is streaming when the second message arrives, on another worker
        _go(second)
        one, two = _result(first), _result(second)
        calls = fake.chat_calls("llama")

    assert one["text"] == FIRST_ANSWER and one["status"] == two["status"] == "ok"
    assert two["text"] == "echo: second question"
    # The second turn waited: it was sent to the model only after the first reply was stored, with it in history.
    assert len(calls) == 2
    history = [(m["role"], m["content"]) for m in calls[1]["messages"] if m["role"] != "system"]
    assert history == [("user", "first question"), ("assistant", FIRST_ANSWER), ("user", "second question")]
    assert float(two["first"]) >= float(one["last"])  # type: ignore[arg-type]
