"""A message Slack was told arrived is already stored: a worker that dies right after its ack loses nothing (the
crash rules answer for the reply it had claimed). Found by the soak (bench/soak.py): a worker killed with kill -9
just after acking a message lost it, since the ack went out before the lazy listener stored anything."""

from __future__ import annotations

from tests.chatkit import World
from tests.slackkit import Bot, footer_of, stored


async def test_a_message_is_stored_before_slack_hears_it_arrived(world: World, bot: Bot) -> None:
    bot.fake.set_delay("users.info", 2.0)  # who wrote it is looked up after the ack, and slowly here
    event = bot.ada.app_mention("hello there")
    resp = await bot.ada.send_event(event)
    assert resp.status == 200 and resp.elapsed < 1.5
    assert [(m.role, m.content) for m in stored()] == [("user", "hello there"), ("assistant", "")]  # reply claimed

    (reply,) = [m for m in await bot.finished(event["ts"]) if footer_of(m)]
    assert reply.text == "echo: hello there"
    await bot.settled()  # a reply is released once shown
    assert [(m.role, m.status) for m in stored()] == [("user", "ok"), ("assistant", "ok")]


async def test_a_redelivered_message_is_stored_and_answered_once(world: World, bot: Bot) -> None:
    first = await bot.deliver(bot.ada.message("!model", thread_ts=(await bot.mention("start here"))["ts"]))
    await bot.redeliver(first)
    await bot.settled()
    assert [m.content for m in stored("command")] == ["!model"]
