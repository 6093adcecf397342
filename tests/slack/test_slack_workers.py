"""Two Slack HTTP workers (`switchboard slack`, separate processes) on one PostgreSQL database, as a team behind a
load balancer runs them: an event redelivered to the other worker is answered once, and two messages of one
thread that land on different workers are answered in order, the second knowing the first answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.chatkit import CLOUD_KEY, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply
from tests.fakes.slack import FakeSlack, SlackSender
from tests.fileskit import images_sent, png, user_texts
from tests.helpers import closed_port
from tests.slack.test_slack_processes import stop, switchboard_slack
from tests.slackkit import CHANNEL, SECRET, footer_of, wait_for

FIRST_ANSWER = "The first answer, written slowly enough for a second message to arrive meanwhile. " * 2


@pytest.fixture
async def world(any_db: str) -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


def _healthy(port: int, proc: asyncio.subprocess.Process) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).text == "ok"
    except httpx.HTTPError:
        return proc.returncode is not None


@asynccontextmanager
async def two_workers(fake: FakeSlack, sb_env: dict[str, str]) -> AsyncIterator[tuple[SlackSender, SlackSender]]:
    """Two `switchboard slack` HTTP workers on the test's database, each reached by its own sender (as a balancer
    would send to either); on the way out, both stop, and neither logged a traceback."""
    ports = closed_port(), closed_port()
    base = {
        **sb_env,
        "SLACK_API_URL": fake.api_url,
        "SLACK_BOT_TOKEN": fake.workspace().token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SWITCHBOARD_SLACK_MODE": "http",
        "SWITCHBOARD_SLACK_HOST": "127.0.0.1",
    }
    async with (
        switchboard_slack({**base, "PORT": str(ports[0])}) as first,
        switchboard_slack({**base, "PORT": str(ports[1])}) as second,
    ):
        for port, proc in ((ports[0], first), (ports[1], second)):
            await wait_for(lambda p=port, w=proc: _healthy(p, w), timeout=60, what=f"worker on {port}")
        first_url, second_url = (f"http://127.0.0.1:{p}/slack/events" for p in ports)
        yield SlackSender(first_url, SECRET, fake=fake), SlackSender(second_url, SECRET, fake=fake)
        for proc in (first, second):
            _, err = await stop(proc)
            assert "Traceback" not in err


@pytest.mark.parametrize("any_db", ["postgres"], indirect=True)
async def test_two_workers_answer_a_redelivered_event_once_and_a_threads_turns_in_order(
    world: World, sb_env: dict[str, str]
) -> None:
    world.local.script("llama-big", Reply(text=FIRST_ANSWER, token_delay_s=0.06))  # about two seconds
    with FakeSlack() as fake:
        async with two_workers(fake, sb_env) as (to_first, to_second):
            mention = to_first.app_mention("first question")
            envelope = to_first.envelope(mention)
            assert (await to_first.send_envelope(envelope)).status == 200
            await asyncio.sleep(0.5)  # the first answer is streaming on the first worker...
            # ...when Slack, not having seen the ack in time, redelivers the event, and the balancer picks the other
            assert (await to_second.send_envelope(envelope, retry_num=1)).status == 200
            follow_up = to_second.message("second question", thread_ts=mention["ts"])
            assert (await to_second.send_event(follow_up)).status == 200

            def answers() -> list[str] | None:
                done = [m.text for m in fake.bot_messages(CHANNEL, mention["ts"]) if footer_of(m)]
                return done if len(done) >= 2 else None

            shown = await wait_for(answers, timeout=60, what="both answers")
            await asyncio.sleep(1.0)  # time for a duplicate answer to show, if there were one
            shown = answers() or []

    assert [t.strip() for t in shown] == [FIRST_ANSWER.strip(), "echo: second question"]  # once each, in order
    calls = world.local.chat_calls("llama-big")
    assert len(calls) == 2  # the redelivered event reached no model
    history = [(m["role"], m["content"]) for m in calls[1]["messages"] if m["role"] != "system"]
    assert history == [("user", "first question"), ("assistant", FIRST_ANSWER), ("user", "second question")]


@pytest.mark.parametrize("any_db", ["postgres"], indirect=True)
async def test_an_image_posted_to_one_worker_is_seen_by_the_next_turn_on_the_other(
    world: World, sb_env: dict[str, str]
) -> None:
    image = png(800, 600)
    with FakeSlack() as fake:
        async with two_workers(fake, sb_env) as (to_first, to_second):
            start = to_first.app_mention("!model oa/gpt-4o")
            assert (await to_first.send_event(start)).status == 200
            await wait_for(lambda: fake.bot_messages(CHANNEL, start["ts"]) or None, timeout=60, what="the switch")
            shot = fake.upload(image, "error dialog.png")
            posted = to_first.message("what does this dialog say?", thread_ts=start["ts"], files=[shot])
            assert (await to_first.send_event(posted)).status == 200

            def answers(count: int) -> list[str] | None:
                done = [m.text for m in fake.bot_messages(CHANNEL, start["ts"]) if footer_of(m)]
                return done if len(done) >= count else None

            await wait_for(lambda: answers(1), timeout=60, what="the answer about the image")
            later = to_second.message("and how do I fix it?", thread_ts=start["ts"])
            assert (await to_second.send_event(later)).status == 200
            await wait_for(lambda: answers(2), timeout=60, what="the later answer")

    # the second worker read the image the first one kept, from the database they share
    first_call, second_call = world.cloud.chat_calls("gpt-4o")
    assert images_sent(first_call) == images_sent(second_call) == [("image/png", len(image))]
    assert user_texts(second_call)[-1] == "and how do I fix it?"
    assert fake.downloads(shot.id) == [(200, fake.workspace().token)]  # downloaded once, by the first worker
