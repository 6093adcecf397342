"""What the soak (bench/soak.py) found, each pinned by a focused test.

- The crash rules took live turns for a dead process's: a turn waiting behind an earlier reply of its thread (or
  writing slowly) was marked interrupted once older than SWITCHBOARD_STALE_REPLY_MINUTES, and the thread's next
  message was then answered without it. Claims are now renewed while their process lives.
- A turn gave up waiting behind a live reply after a fixed SWITCHBOARD_TURN_WAIT_SECONDS (120 s) and was answered
  ahead of it on an overloaded worker. It now waits for as long as the earlier reply's claim is renewed.
- Storing an arriving message (what Slack's ack waits on) queued behind the worker's other storage calls: acks
  took seconds on an overloaded worker. It now has threads of its own.
- A thread's next turn, on another worker, could show above the reply before it: that reply was stored (and so
  let the next turn go) before it was shown. It is now released once shown.
- Of two replies a dead process left in one thread, only the last was told (the notice was overwritten).
- Two messages of one thread claimed at the same moment on two workers could each miss the other's claim (not yet
  committed) and be answered side by side.
- A worker killed after a reply's budget was settled but before the reply was stored left a charge with no stored
  cost (the crash rules priced the saved text instead). A reply is now stored, shown, and then settled.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from core import chat
from core.delivery.driver import drive
from core.jobs import schedule
from core.settings import reload_settings
from core.storage.db import connection, session
from core.storage.tables import Message
from core.threads import aio, conversations
from core.threads.recovery import recover_stale_replies
from core.types import TurnResult
from tests.chatkit import CLOUD_KEY, Thread, World, make_world
from tests.fakes.openai import FakeOpenAI, Reply
from tests.recording_surface import RecordingSurface

SLOW = "A first answer that takes about five seconds to write."


@pytest.fixture
async def world() -> AsyncIterator[World]:
    with (
        FakeOpenAI(models=["gpt-4o"], api_key=CLOUD_KEY) as cloud,
        FakeOpenAI(models=["llama-big"], api_key=None) as local,
    ):
        yield await make_world(cloud, local)


def replies() -> list[Message]:
    with session() as s:
        return list(s.exec(select(Message).where(Message.role == "assistant").order_by(col(Message.id))).all())


async def test_live_turns_are_never_taken_for_a_dead_processs_however_long_they_take(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_STALE_REPLY_MINUTES", "0.05")  # 3 s: claims are renewed every second
    reload_settings()
    await Thread(thread="warm-up").say("hello")  # litellm's first call holds the event loop for seconds
    world.local.script("llama-big", Reply(text=SLOW, token_delay_s=0.45))
    thread = Thread()
    first = asyncio.create_task(drive(thread.message("first question"), RecordingSurface(interval=0.05)))
    await asyncio.sleep(0.3)
    second = asyncio.create_task(drive(thread.message("second question"), RecordingSurface(interval=0.05)))
    taken = 0
    while not (first.done() and second.done()):  # the scheduler's upkeep, far more often than it runs
        taken += await asyncio.to_thread(recover_stale_replies)
        await asyncio.sleep(0.2)
    await asyncio.gather(first, second)

    assert taken == 0
    assert [(r.status, r.content) for r in replies()[1:]] == [("ok", SLOW), ("ok", "echo: second question")]
    assert conversations.take_notice(conversations.conversation_for(thread.message("")).id) is None


async def test_a_dead_processs_reply_holds_its_thread_up_only_until_its_claim_goes_stale(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_STALE_REPLY_MINUTES", "0.05")  # 3 s
    reload_settings()
    thread = Thread()
    assert conversations.start_turn(thread.message("first question")).reply_id is not None
    # ...claimed by a process that died before answering: nobody renews its claim

    # the next message waits for the dead reply only until its claim is stale, settles it by the crash rules (as
    # the scheduler would), and is answered (before, a fixed 120 s cap held it up whatever the threshold)
    await asyncio.wait_for(drive(thread.message("second question"), RecordingSurface(interval=0.05)), 60)
    assert [(r.status, r.content) for r in replies()] == [("interrupted", ""), ("ok", "echo: second question")]
    assert recover_stale_replies() == 0
    notice = conversations.take_notice(conversations.conversation_for(thread.message("")).id) or ""
    assert notice.startswith("The reply to “first question” was interrupted before it wrote anything")


async def test_storing_an_arriving_message_does_not_wait_for_the_processs_other_storage(
    sb_env: dict[str, str],
) -> None:
    # a worker busy writing replies keeps its shared thread pool full: here, every thread of it is held
    release = threading.Event()
    busy = [asyncio.ensure_future(asyncio.to_thread(release.wait)) for _ in range(64)]
    thread = Thread()
    try:
        start = await asyncio.wait_for(chat.receive(thread.message("hello")), 20)
        known = await asyncio.wait_for(
            aio.is_conversation(thread.platform, thread.workspace, thread.channel, thread.thread), 20
        )
    finally:
        release.set()
        await asyncio.gather(*busy)
    assert start is not None and start.reply_id is not None and known  # stored (what Slack's ack waits on)
    assert [(m.role, m.content) for m in replies()] == [("assistant", "")]


async def test_the_next_turn_of_a_thread_starts_once_the_reply_before_it_is_shown(world: World) -> None:
    world.local.script("llama-big", Reply(text="Short.", token_delay_s=0.01))
    thread = Thread()
    slow = RecordingSurface(interval=0.05, write_seconds=1.5)  # e.g. a chat platform answering slowly
    fast = RecordingSurface(interval=0.05)
    first = asyncio.create_task(drive(thread.message("first question"), slow))
    await asyncio.sleep(0.2)
    await asyncio.gather(first, drive(thread.message("second question"), fast))

    shown = slow.writes[-1].at + slow.write_seconds
    assert slow.writes[-1].final and fast.writes[0].at >= shown  # the second answer shows below the first


async def test_a_reply_stored_but_not_shown_when_its_process_died_keeps_what_it_cost(sb_env: dict[str, str]) -> None:
    msg = Thread().message("a question")
    start = conversations.start_turn(msg)
    assert start.reply_id is not None
    done = TurnResult(
        model="oa/gpt-4o",
        provider="oa",
        status="ok",
        text="The whole answer.",
        prompt_tokens=120,
        completion_tokens=5,
        cost_usd=0.0125,
    )
    conversations.finish_turn(start.conversation.id, start.reply_id, done, [], msg.user, None, shown=False)
    # ...and the process died before showing it

    assert recover_stale_replies(timedelta(seconds=-1)) == 1
    (reply,) = replies()
    assert (reply.status, reply.content, reply.cost_usd, reply.prompt_tokens) == (
        "interrupted",
        "The whole answer.",
        0.0125,
        120,
    )
    notice = conversations.take_notice(start.conversation.id) or ""
    assert notice.startswith("The reply from oa/gpt-4o to the last message here may not have been shown in full")
    assert "(17 characters, $0.0125)" in notice


async def test_each_reply_a_dead_process_left_in_a_thread_is_told(sb_env: dict[str, str]) -> None:
    thread = Thread()
    for text in ("the first question, which is rather long to quote whole", "the second question"):
        assert conversations.start_turn(thread.message(text)).reply_id is not None
    # ...both claimed by a process that died before answering either

    assert recover_stale_replies(timedelta(seconds=-1)) == 2
    conv = conversations.conversation_for(thread.message(""))
    first, second = (conversations.take_notice(conv.id) or "").split("\n\n")
    assert first.startswith("The reply to “the first question, which is rather long to…” was interrupted")
    assert first.endswith("Send it again to get a full answer.")
    assert second.startswith("The reply to the last message here was interrupted before it wrote anything")
    assert second.endswith("Send `!retry` to get a full answer.")


@pytest.mark.parametrize(("minutes", "every"), [("10", 60.0), ("0.2", 5.0), ("1", 20.0)])
def test_the_scheduler_looks_for_dead_replies_a_few_times_within_the_threshold(
    minutes: str, every: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_STALE_REPLY_MINUTES", minutes)
    reload_settings()
    (upkeep,) = [j for j in schedule() if j.name == "conversation_upkeep"]
    assert upkeep.every_s == every and upkeep.first_after_s <= every


@pytest.mark.parametrize("any_db", ["postgres"], indirect=True)
async def test_a_turn_claimed_while_another_of_its_thread_is_being_claimed_waits_for_it(any_db: str) -> None:
    import sqlalchemy as sa

    thread = Thread()
    first = conversations.start_turn(thread.message("first question"))
    assert first.reply_id is not None
    conversations.release_reply(first.reply_id, "ok")
    # another worker is claiming a turn of this thread right now: its transaction has not committed yet
    with connection(write=True) as other:
        other.execute(
            sa.text(
                "INSERT INTO message (conversation_id, role, content, status, created_at) "
                "VALUES (:id, 'assistant', '', 'pending', now())"
            ),
            {"id": first.conversation.id},
        )
        later = asyncio.create_task(asyncio.to_thread(conversations.start_turn, thread.message("second question")))
        await asyncio.sleep(0.5)
        assert not later.done()  # it waits for the other claim to commit...
    assert (await later).behind  # ...and then sees it, so its turn waits for that reply


async def test_a_reply_is_charged_once_stored_and_shown_so_a_crash_between_charges_what_is_stored(
    world: World,
) -> None:
    from core.budgets import add_budget
    from core.storage.tables import BudgetReservation, BudgetUsage

    add_budget("global", "month", 10.0, hard=True)
    world.cloud.set_default(Reply(text="A paid answer."), model="gpt-4o")
    thread = Thread()
    await thread.say("!model oa/gpt-4o")
    slow = RecordingSurface(interval=0.05, write_seconds=1.0)
    answering = asyncio.create_task(drive(thread.message("a question"), slow))
    while not (slow.writes and slow.writes[-1].final):  # the finished reply is being shown...
        await asyncio.sleep(0.05)
    with session() as s:
        reply = replies()[-1]
        held = s.exec(select(BudgetReservation)).one()
    # ...stored with its cost, still pending, its reservation still held: a crash now is charged what is stored
    assert reply.status == "pending" and reply.cost_usd and held.status == "held"
    await answering
    with session() as s:
        usage = s.exec(select(BudgetUsage)).one()
        held = s.exec(select(BudgetReservation)).one()
    assert replies()[-1].status == "ok" and held.status == "settled"
    assert usage.spent_micros == round(reply.cost_usd * 1_000_000) and usage.reserved_micros == 0
