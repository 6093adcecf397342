"""Attachments on Discord: files posted in a conversation are downloaded from the (fake) CDN and reach the model,
images as image parts for a vision model, text files as text with their name; a file the CDN no longer has gets a
clear reply. The download itself is also tested alone, against the fake CDN over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.discord.files import cdn_url, download
from core import snapshot
from core.config.scopes import ScopeKey, update_scope
from core.models.sync import refresh
from core.providers.store import add_provider
from core.settings import reload_settings
from core.types import FileUnavailable
from tests.discordkit import Person, bot_messages, footers, handled, online, replied
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI, Reply
from tests.fileskit import png

VISION = "oa/gpt-4o-mini"  # litellm knows it sees images


@pytest.fixture
def cloud() -> Iterator[FakeOpenAI]:
    """A cloud provider with a vision model, the default of the test channel."""
    key = "sk-cloud-test-key-0002"
    with FakeOpenAI(models=["gpt-4o-mini"], api_key=key) as fake:
        add_provider("oa", "openai", base_url=fake.url + "/v1", api_key=key)
        asyncio.run(refresh())
        yield fake


@pytest.fixture
def vision_channel(discord_fake: FakeDiscord, cloud: FakeOpenAI) -> dict[str, Any]:
    update_scope(ScopeKey("discord", discord_fake.guild["id"], discord_fake.channel["id"]), default_model=VISION)
    snapshot.invalidate()
    return discord_fake.channel


def last_user_content(calls: list[dict[str, Any]]) -> Any:
    return [m for m in calls[-1]["messages"] if m["role"] == "user"][-1]["content"]


def parts_of(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def text_of(content: Any) -> str:
    return "\n".join(p["text"] for p in parts_of(content) if p["type"] == "text")


# ---------------------------------------------------------------------- through the bot
async def test_an_image_in_a_thread_reaches_the_vision_model_and_the_reply_has_the_footer(
    cloud: FakeOpenAI, vision_channel: dict[str, Any], bot, discord_fake: FakeDiscord, alice: Person
) -> None:
    image = png(4, 3)
    cloud.script(None, Reply(text="A red square."), Reply(text="Still a red square."))
    alice.says(vision_channel, "What is in this picture?", mention=True, files={"shot.png": image})
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(vision_channel))
    await replied(discord_fake, thread)

    content = parts_of(last_user_content(cloud.chat_calls()))
    images = [p for p in content if p["type"] == "image_url"]
    assert [p["image_url"]["url"] for p in images] == ["data:image/png;base64," + base64.b64encode(image).decode()]
    assert "What is in this picture?" in text_of(content)
    (answer,) = bot_messages(discord_fake, thread)
    assert answer.content.startswith("A red square.")
    assert re.fullmatch(
        rf"-# {VISION} · \d+ tokens · <?\$\d+\.\d+", footers(discord_fake, thread)[0]
    )  # model, tokens, cost
    assert len(discord_fake.cdn_downloads()) == 1
    assert "Authorization" not in discord_fake.cdn_downloads()[0].headers  # the bot token stays with the API

    alice.says(thread, "", files={"again.png": png(1, 1, (0, 0, 0))})  # a file alone is a turn too
    await replied(discord_fake, thread, count=2)
    assert any(p["type"] == "image_url" for p in parts_of(last_user_content(cloud.chat_calls())))
    assert not discord_fake.violations


async def test_chat_command_takes_a_file_and_names_it_in_the_starter(
    cloud: FakeOpenAI, vision_channel: dict[str, Any], bot, discord_fake: FakeDiscord, alice: Person
) -> None:
    image = png(2, 2)
    cloud.script(None, Reply(text="Two by two pixels, all red."))
    file = discord_fake.upload(vision_channel, "tiny_chart.png", image, ephemeral=True)  # what the option uploads
    command = alice.uses("chat", {"prompt": "Describe this chart", "file": file})
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(vision_channel))
    await replied(discord_fake, thread)

    starter = discord_fake.original_message(command)
    assert starter is not None and starter.content == "💬 **Alice**: Describe this chart\n📎 tiny\\_chart.png"
    content = parts_of(last_user_content(cloud.chat_calls()))
    assert [p["image_url"]["url"] for p in content if p["type"] == "image_url"] == [
        "data:image/png;base64," + base64.b64encode(image).decode()
    ]
    (got,) = discord_fake.cdn_downloads()
    assert got.path.startswith("/ephemeral-attachments/")
    assert bot_messages(discord_fake, thread)[0].content.startswith("Two by two pixels, all red.")


async def test_a_later_turn_sees_the_image_after_a_restart_and_after_its_link_expired(
    cloud: FakeOpenAI, vision_channel: dict[str, Any], bot, discord_fake: FakeDiscord, alice: Person
) -> None:
    image = png(5, 5, (0, 90, 200))
    alice.says(vision_channel, "Remember this logo", mention=True, files={"logo.png": image})
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(vision_channel))
    await replied(discord_fake, thread)
    await bot.close()  # the bot restarts a day later: Discord's link to the file has expired by then
    discord_fake.cdn_time_passes(25 * 3600)

    async with online(discord_fake):
        alice.says(thread, "What colour was the logo?")
        await replied(discord_fake, thread, count=2)
    sent = cloud.chat_calls()[-1]["messages"]
    images = [p["image_url"]["url"] for m in sent for p in parts_of(m["content"]) if p["type"] == "image_url"]
    assert images == ["data:image/png;base64," + base64.b64encode(image).decode()]  # kept with the thread
    assert len(discord_fake.cdn_downloads()) == 1  # fetched once, when it was posted


async def test_an_image_for_a_model_that_cannot_see_is_refused_then_retried_on_one_that_can(
    cloud: FakeOpenAI, bot, discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person
) -> None:
    image = png(3, 3)
    alice.says(discord_fake.channel, "Read this receipt", mention=True, files={"receipt.png": image})
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(discord_fake.channel))
    await discord_fake.wait_until(lambda: bot_messages(discord_fake, thread), timeout=15)
    (refusal,) = bot_messages(discord_fake, thread)
    assert "cannot see images, so your message was not sent to it" in refusal.content
    assert f"`{VISION}`" in refusal.content and llm.chat_count == 0 and cloud.chat_count == 0

    alice.says(thread, f"!model {VISION}")
    await discord_fake.wait_until(lambda: "now uses" in bot_messages(discord_fake, thread)[-1].content)
    alice.says(thread, "!retry")
    await replied(discord_fake, thread)
    content = parts_of(last_user_content(cloud.chat_calls()))
    assert [p["image_url"]["url"] for p in content if p["type"] == "image_url"] == [
        "data:image/png;base64," + base64.b64encode(image).decode()
    ]
    assert len(discord_fake.cdn_downloads()) == 1 and not discord_fake.violations


async def test_a_text_file_reaches_the_model_as_text_with_its_name(
    cloud: FakeOpenAI, vision_channel: dict[str, Any], bot, discord_fake: FakeDiscord, alice: Person
) -> None:
    dm = discord_fake.dm_channel(discord_fake.user)
    update_scope(ScopeKey("discord", "dm", dm["id"]), default_model=VISION)
    snapshot.invalidate()
    log = b"12:00:01 worker started\n12:00:07 ERROR disk full on /var/lib/switchboard\n"
    alice.says(dm, "Why did it stop?", files={"worker.log": log})
    await replied(discord_fake, dm)

    text = text_of(last_user_content(cloud.chat_calls()))
    assert "worker.log" in text and "ERROR disk full on /var/lib/switchboard" in text
    assert "Why did it stop?" in text
    assert footers(discord_fake, dm)[0].startswith(f"-# {VISION} · ")


async def test_a_mention_with_only_a_file_opens_a_thread_named_after_it(
    cloud: FakeOpenAI, vision_channel: dict[str, Any], bot, discord_fake: FakeDiscord, alice: Person
) -> None:
    cloud.script(None, Reply(text="It is a CSV of two scores."))
    alice.says(vision_channel, "", mention=True, files={"scores.csv": b"name,score\nada,10\nbob,7\n"})
    (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(vision_channel))
    await replied(discord_fake, thread)
    assert thread["name"] == "scores.csv"
    text = text_of(last_user_content(cloud.chat_calls()))
    assert "scores.csv" in text and "ada,10" in text
    assert bot_messages(discord_fake, thread)[0].content.startswith("It is a CSV of two scores.")


async def test_an_attachment_the_cdn_no_longer_has_gets_a_clear_reply(
    cloud: FakeOpenAI, vision_channel: dict[str, Any], bot, discord_fake: FakeDiscord, alice: Person
) -> None:
    thread = discord_fake.add_thread(vision_channel, "screenshots", owner=discord_fake.bot)
    posted = discord_fake.message_create(thread, alice.user, "What does this say?", files={"error.png": png()})
    discord_fake.delete_attachment(posted["attachments"][0])  # deleted before the bot got to it
    discord_fake.dispatch("MESSAGE_CREATE", posted)
    await discord_fake.wait_until(lambda: bot_messages(discord_fake, thread), timeout=15)
    await handled(bot, posted)

    shown = "\n".join(m.content for m in bot_messages(discord_fake, thread))
    assert "error.png" in shown and "post it again" in shown
    assert "Traceback" not in shown and "404" not in shown
    assert discord_fake.cdn_downloads() and not discord_fake.violations
    assert cloud.chat_count == 0


async def test_a_file_over_the_limit_is_refused_without_downloading_it(
    cloud: FakeOpenAI,
    vision_channel: dict[str, Any],
    bot,
    discord_fake: FakeDiscord,
    alice: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_FILE_MAX_MB", "0.01")  # 10,485 bytes
    reload_settings()
    dm = discord_fake.dm_channel(discord_fake.user)
    posted = alice.says(dm, "Summarise this", files={"dump.txt": b"y" * 20_000})
    await discord_fake.wait_until(lambda: bot_messages(discord_fake, dm), timeout=15)
    await handled(bot, posted)

    (told,) = bot_messages(discord_fake, dm)
    assert "dump.txt is 20 KB" in told.content and "at most 10 KB" in told.content  # the limit, named
    assert not discord_fake.cdn_downloads()  # Discord said how big it is: nothing to fetch
    assert cloud.chat_count == 0


# ---------------------------------------------------------------------- the download alone
async def test_download_fetches_through_the_cdn_base(discord_fake: FakeDiscord) -> None:
    data = b"name,score\nada,10\n"
    attachment = discord_fake.upload(int(discord_fake.channel["id"]), "scores.csv", data)
    assert attachment["url"].startswith("https://cdn.discordapp.com/attachments/")
    assert await download(attachment["url"]) == data
    (got,) = discord_fake.cdn_downloads()
    assert got.path == attachment["url"].removeprefix("https://cdn.discordapp.com").split("?")[0]


async def test_download_of_a_gone_or_expired_attachment_says_so(discord_fake: FakeDiscord) -> None:
    channel = int(discord_fake.channel["id"])
    expired = discord_fake.upload(channel, "old.png", png())
    discord_fake.cdn_time_passes(25 * 3600)
    gone = r"^Discord no longer has it \(it was deleted, or its link expired\); post it again$"
    with pytest.raises(FileUnavailable, match=gone):
        await download(expired["url"])
    deleted = discord_fake.upload(channel, "new.png", png())
    discord_fake.delete_attachment(deleted)
    with pytest.raises(FileUnavailable, match=gone):
        await download(deleted["url"])


async def test_download_stops_at_the_file_limit(discord_fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_FILE_MAX_MB", "0.01")  # 10,485 bytes
    reload_settings()
    channel = int(discord_fake.channel["id"])
    small = discord_fake.upload(channel, "small.txt", b"x" * 10_000)
    big = discord_fake.upload(channel, "big.txt", b"x" * 20_000)
    too_large = r"^it is larger than 0\.01 MB, the most a file may be here$"
    for sends_length in (True, False):  # told the size up front, or only by reading it
        discord_fake.cdn_sends_length = sends_length
        assert len(await download(small["url"])) == 10_000
        with pytest.raises(FileUnavailable, match=too_large):
            await download(big["url"])


async def test_download_from_an_unreachable_cdn_is_unavailable(
    discord_fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    attachment = discord_fake.upload(int(discord_fake.channel["id"]), "a.txt", b"a")
    monkeypatch.setenv("DISCORD_CDN_BASE", "http://127.0.0.1:9")  # discard: nothing listens
    reload_settings()
    with pytest.raises(FileUnavailable, match="Discord could not be reached; try again in a moment"):
        await download(attachment["url"])


def test_cdn_url_swaps_scheme_and_host_only_when_a_base_is_set() -> None:
    url = "https://cdn.discordapp.com/attachments/1/2/a_b.png?ex=6&is=5&hm=ab&"
    assert cdn_url(url, "") == url
    assert cdn_url(url, "http://127.0.0.1:8080") == "http://127.0.0.1:8080/attachments/1/2/a_b.png?ex=6&is=5&hm=ab&"
    assert cdn_url(url, "https://proxy.example/discord/") == (
        "https://proxy.example/discord/attachments/1/2/a_b.png?ex=6&is=5&hm=ab&"
    )
