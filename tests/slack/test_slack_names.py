"""The model menu under a reply offers close names only (core.models.matching), like `!model` suggests them."""

from __future__ import annotations

from bot.slack.render import THREAD_MODEL
from tests.slack.test_slack_commands import option_values
from tests.slackkit import Bot


async def test_the_model_menu_offers_close_names_and_nothing_unrelated(bot: Bot) -> None:
    event = await bot.mention("hi")
    (reply,) = await bot.finished(event["ts"])
    unrelated = await bot.interact(bot.ada.block_suggestion(THREAD_MODEL, "gpt-9-ultra", message_ts=reply.ts))
    assert option_values(unrelated.json()) == []
    typo = await bot.interact(bot.ada.block_suggestion(THREAD_MODEL, "lama-smal", message_ts=reply.ts))
    assert option_values(typo.json())[0] == "local/llama-small"
    spaced = await bot.interact(bot.ada.block_suggestion(THREAD_MODEL, "GPT4o", message_ts=reply.ts))
    assert option_values(spaced.json()) == ["oa/gpt-4o", "oa/gpt-4o-mini"]
