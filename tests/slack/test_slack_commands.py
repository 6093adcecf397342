"""Picking models in Slack: /model and /models in channels, !model in threads, the picker, the menu under each
reply, the "Switch model for this thread" shortcut and buttons, through the real app in HTTP mode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.slack.render import CHANNEL_MODEL, THREAD_MODEL
from tests.chatkit import World
from tests.fakes.slack import FakeSlack
from tests.slackkit import ADA, CHANNEL, Bot, block_of, footer_of, serve, wait_for


@pytest.fixture
async def bot(world: World, fake: FakeSlack) -> AsyncIterator[Bot]:
    """conftest's bot, with replies updated every 0.3 s so that picker tests do not wait on edits."""
    async with serve(fake, SWITCHBOARD_SLACK_UPDATE_INTERVAL="0.3") as running:
        yield running


async def answers(bot: Bot, response_url: str) -> list[dict[str, Any]]:
    return list(await wait_for(lambda: bot.fake.posts_to_response_url(response_url), what="a response_url answer"))


def option_values(select: dict[str, Any]) -> list[str]:
    return [o["value"] for g in select.get("option_groups", []) for o in g["options"]]


async def test_slash_model_sets_the_channel_default_privately_and_new_threads_use_it(bot: Bot) -> None:
    form = await bot.command("/model", "llama-small")
    (answer,) = await answers(bot, form["response_url"])
    assert "New threads in this channel will use *local/llama-small*" in answer["text"]
    assert answer.get("response_type", "ephemeral") == "ephemeral"
    assert bot.fake.ephemerals[0].user == ADA and bot.fake.bot_messages(CHANNEL) == []  # only ada saw it
    event = await bot.mention("who answers now?")
    (reply,) = await bot.finished(event["ts"])
    assert footer_of(reply).startswith("local/llama-small · ")


async def test_slash_model_without_a_name_opens_a_picker_grouped_by_provider(bot: Bot) -> None:
    form = await bot.command("/model")
    (picker,) = await answers(bot, form["response_url"])
    assert "New threads here use *local/llama-big*" in picker["text"]
    (actions,) = [b for b in picker["blocks"] if b["type"] == "actions"]
    select = actions["elements"][0]
    assert select["type"] == "static_select" and select["action_id"] == CHANNEL_MODEL
    assert [g["label"]["text"] for g in select["option_groups"]] == ["local", "oa"]
    assert option_values(select) == ["local/llama-big", "local/llama-small", "oa/gpt-4o", "oa/gpt-4o-mini"]
    assert select["initial_option"]["value"] == "local/llama-big"

    pick = bot.ada.block_actions(CHANNEL_MODEL, "local/llama-small", block_id=actions["block_id"])
    pick["container"]["is_ephemeral"] = True  # the picker was an ephemeral answer
    await bot.interact(pick)
    (done,) = await answers(bot, pick["response_url"])
    assert done["replace_original"] is True and "will use *local/llama-small*" in done["text"]
    again = await bot.command("/model")
    (picker,) = await answers(bot, again["response_url"])
    assert "New threads here use *local/llama-small*" in picker["text"]


async def test_slash_models_with_a_filter_lists_matching_models_privately(bot: Bot) -> None:
    form = await bot.command("/models", "local")
    (answer,) = await answers(bot, form["response_url"])
    text = answer["text"]
    assert "matching `local`" in text and "`local/llama-big`" in text and "`local/llama-small`" in text
    assert "gpt-4o" not in text and bot.fake.bot_messages(CHANNEL) == []
    cloud = await bot.command("/models", "provider:oa mini")
    (answer,) = await answers(bot, cloud["response_url"])
    assert "`oa/gpt-4o-mini`" in answer["text"] and "llama" not in answer["text"]


async def test_a_paid_channel_default_is_refused_for_non_admins(bot: Bot) -> None:
    form = await bot.command("/model", "gpt-4o")
    (answer,) = await answers(bot, form["response_url"])
    assert answer["text"].startswith(":no_entry: oa/gpt-4o is a paid model, so only an admin")
    assert "`!model oa/gpt-4o`" in answer["text"]


async def test_the_menu_under_a_reply_searches_models_and_switches_that_thread(bot: Bot) -> None:
    event = await bot.mention("hi")
    ts = event["ts"]
    (reply,) = await bot.finished(ts)
    everything = await bot.interact(bot.ada.block_suggestion(THREAD_MODEL, "", message_ts=reply.ts))
    assert option_values(everything.json()) == [
        "local/llama-big",
        "local/llama-small",
        "oa/gpt-4o",
        "oa/gpt-4o-mini",
    ]
    found = await bot.interact(bot.ada.block_suggestion(THREAD_MODEL, "mini", message_ts=reply.ts))
    assert option_values(found.json()) == ["oa/gpt-4o-mini"]

    chosen = bot.ada.block_actions(THREAD_MODEL, "oa/gpt-4o-mini", element_type="external_select", message_ts=reply.ts)
    await bot.interact(chosen)
    switched = await wait_for(lambda: [m for m in bot.replies(ts) if "now uses" in m.text])
    assert "This thread now uses *oa/gpt-4o-mini*" in switched[0].text and "paid model" in switched[0].text
    await bot.say("and you are?", thread_ts=ts)
    replies = await bot.finished(ts, count=2)
    assert footer_of(replies[-1]).startswith("oa/gpt-4o-mini · ") and "$" in footer_of(replies[-1])


async def test_bang_commands_work_inside_threads(bot: Bot) -> None:
    event = await bot.mention("hello")
    ts = event["ts"]
    await bot.finished(ts)
    await bot.say("!model", thread_ts=ts)
    await bot.say("!models llama", thread_ts=ts)
    shown = await wait_for(lambda: [m.text for m in bot.replies(ts) if not footer_of(m)][1:] or None)
    info, listing = [m.text for m in bot.replies(ts) if not footer_of(m)]
    assert "This thread uses *local/llama-big*" in info
    assert "`local/llama-big`" in listing and "`local/llama-small`" in listing and shown
    await bot.say("!nonsense", thread_ts=ts)
    errors = await wait_for(lambda: bot.ephemerals())
    assert errors[0].startswith(":warning: There is no `!nonsense` command")
    assert bot.fake.ephemerals[0].thread_ts == ts


async def test_ambiguous_names_offer_buttons_that_run_the_choice_in_the_thread(bot: Bot) -> None:
    event = await bot.mention("hello")
    ts = event["ts"]
    await bot.finished(ts)
    await bot.say("!model gpt", thread_ts=ts)
    (question,) = await wait_for(lambda: bot.fake.ephemerals)
    assert question.thread_ts == ts and "matches several models" in question.text
    (buttons,) = [b for b in question.blocks or [] if b["type"] == "actions"]
    labels = [e["text"]["text"] for e in buttons["elements"]]
    assert labels == ["oa/gpt-4o", "oa/gpt-4o-mini"]
    second = buttons["elements"][1]
    click = bot.ada.block_actions(
        second["action_id"], second["value"], element_type="button", block_id=buttons["block_id"]
    )
    click["container"].update({"is_ephemeral": True, "thread_ts": ts})
    await bot.interact(click)
    switched = await wait_for(lambda: [m for m in bot.replies(ts) if "now uses" in m.text])
    assert "*oa/gpt-4o-mini*" in switched[0].text
    assert bot.fake.posts_to_response_url(click["response_url"])[0]["delete_original"] is True


async def test_the_message_shortcut_switches_the_thread_from_a_modal(bot: Bot) -> None:
    event = await bot.mention("hello")
    ts = event["ts"]
    (reply,) = await bot.finished(ts)
    await bot.interact(bot.ada.message_action("switch_model", message_ts=reply.ts))
    (view,) = await wait_for(lambda: list(bot.fake.views.values()))
    assert view.body["callback_id"] == "sb_switch_model" and view.body["submit"]["text"] == "Switch"
    (field,) = [b for b in view.body["blocks"] if b["type"] == "input"]
    assert field["element"]["type"] == "static_select" and field["element"]["initial_option"]["value"] == (
        "local/llama-big"
    )
    chosen = {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": "local/llama-small"},
    }
    resp = await bot.interact(bot.ada.view_submission({"sb_model": {"sb_modal_model": chosen}}, view_id=view.id))
    assert resp.text == ""  # the modal closes
    switched = await wait_for(lambda: [m for m in bot.replies(ts) if "now uses" in m.text])
    assert "*local/llama-small*" in switched[0].text and block_of(switched[0], "section")
