"""One money format (core.render.money) in replies, the CLI and the admin: small amounts stay readable."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.budgets import add_budget
from core.models.registry import set_model_overrides
from core.settings import get_settings
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Message
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
async def world(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SWITCHBOARD_MAX_OUTPUT_TOKENS", "100")
    get_settings.cache_clear()
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        world = await make_world(cloud, local)
        set_model_overrides("oa/gpt-4o", input_usd_per_mtok=100, output_usd_per_mtok=100)  # $0.0001 a token
        yield world


async def test_budgets_list_shows_a_small_spend_readably(world: World, cli) -> None:  # type: ignore[no-untyped-def]
    add_budget("global", "day", 0.02, hard=False)
    invalidate()
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    said = await thread.say("hello there, how are you")
    with session() as s:
        cost = s.exec(select(Message.cost_usd).where(Message.role == "assistant")).one()
    assert cost is not None and 0.001 < cost < 0.005
    shown = f"${cost:.4f}".rstrip("0")
    assert said.footer.endswith(f"· {shown}")

    listed = cli("budgets", "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "global" in line)
    assert f"{shown} / $0.02" in row and "$0.00 " not in row
