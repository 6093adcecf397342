"""Channel instructions set by an admin while two Slack workers run on one PostgreSQL database: a thread that
picked a preset on one worker and goes on on the other sends the model the channel's instructions, then the
preset's, and its first reply names them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from core.config.prompts import save_preset
from core.snapshot import CHECK_EVERY_S
from tests.chatkit import CLOUD_KEY, World, make_world
from tests.conftest import Cli
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.slack.test_slack_workers import two_workers
from tests.slackkit import CHANNEL, footer_of, wait_for

LAYERED = "## Channel instructions\nBilling only.\n\n## Preset instructions\nYou are a careful senior engineer."


@pytest.fixture
async def world(any_db: str) -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


@pytest.mark.parametrize("any_db", ["postgres"], indirect=True)
async def test_channel_instructions_set_while_workers_run_reach_the_model_layered_with_a_preset(
    world: World,
    sb_env: dict[str, str],
    cli: Cli,
) -> None:
    with FakeSlack() as fake:
        team = fake.workspace().team_id
        async with two_workers(fake, sb_env) as (to_first, to_second):
            for sender in (to_first, to_second):  # each worker has answered, so its configuration is loaded
                warm = sender.app_mention("hello")
                assert (await sender.send_event(warm)).status == 200
                await wait_for(lambda w=warm: fake.bot_messages(CHANNEL, w["ts"]) or None, timeout=60, what="hello")
            assert "system" not in [m["role"] for c in world.local.chat_calls() for m in c["messages"]]
            # the admin changes the configuration both workers already loaded (through the CLI's code path)
            done = await asyncio.to_thread(
                cli, "defaults", "set", "--scope", f"channel:{team}/{CHANNEL}", "--instructions", "Billing only."
            )
            assert done.returncode == 0, done.stderr
            await asyncio.to_thread(save_preset, "code", "oa/gpt-4o", "You are a careful senior engineer.")
            # a worker looks for a new configuration at most once a second (core.snapshot.CHECK_EVERY_S): a change
            # reaches every worker within that, not at the same instant
            await asyncio.sleep(CHECK_EVERY_S + 0.5)

            start = to_first.app_mention("!preset code")
            assert (await to_first.send_event(start)).status == 200
            await wait_for(lambda: fake.bot_messages(CHANNEL, start["ts"]) or None, timeout=60, what="the preset")
            later = to_second.message("why was I charged twice?", thread_ts=start["ts"])
            assert (await to_second.send_event(later)).status == 200

            def answered() -> list[str] | None:
                shown = fake.bot_messages(CHANNEL, start["ts"])
                if not any(footer_of(m) for m in shown):
                    return None
                return [m.text + json.dumps(m.blocks or []) for m in shown]

            shown = await wait_for(answered, timeout=60, what="the answer")

    system = world.cloud.chat_calls("gpt-4o")[-1]["messages"][0]
    assert system == {"role": "system", "content": LAYERED}
    assert any(f"Instructions: channel {CHANNEL}, preset code" in text for text in shown), shown
