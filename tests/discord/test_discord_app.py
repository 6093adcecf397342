"""The Discord bot as a process: settings, endpoints, command sync, sharding, the invite URL."""

from __future__ import annotations

import re
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest

from bot.discord.app import SwitchboardBot, create_bot, gateway_url, parse_ids
from bot.discord.permissions import PERMISSIONS, invite_url, required_permissions
from core.settings import Settings, reload_settings
from core.threads.conversations import find_conversation
from tests.conftest import ROOT
from tests.discordkit import READY_S, Person, replied
from tests.fakes.discord import FakeDiscord, running
from tests.fakes.openai import FakeOpenAI

COMMANDS = {"chat", "model", "models", "usage", "compare", "preset", "help"}


async def test_bot_connects_with_the_intents_it_needs_and_syncs_commands_to_the_dev_guild(
    bot: SwitchboardBot, discord_fake: FakeDiscord
) -> None:
    (identify,) = discord_fake.identifies
    wanted = discord.Intents.none()
    wanted.guilds = wanted.guild_messages = wanted.dm_messages = wanted.message_content = True
    assert identify.intents == wanted.value
    (sync,) = discord_fake.api_calls("bulk_upsert_guild_commands")
    assert sync.params["guild_id"] == discord_fake.guild["id"]
    assert {c["name"] for c in sync.json} == COMMANDS
    described = {c["name"]: c["description"] for c in sync.json}
    assert described["model"].startswith("Show or switch the model")  # docstrings are what users read
    model_option = next(o for o in next(c for c in sync.json if c["name"] == "model")["options"])
    assert model_option["autocomplete"] is True
    assert not discord_fake.api_calls("bulk_upsert_global_commands")


async def test_without_guild_ids_commands_sync_globally(
    discord_fake: FakeDiscord, llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISCORD_GUILD_IDS")
    reload_settings()
    async with running(create_bot(ready_timeout=READY_S), discord_fake):
        pass
    (sync,) = discord_fake.api_calls("bulk_upsert_global_commands")
    assert {c["name"] for c in sync.json} == COMMANDS


async def test_shards_from_settings_connect_each_guild_on_its_shard(
    discord_fake: FakeDiscord, llm: FakeOpenAI, alice: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = (int(discord_fake.guild["id"]) >> 22) % 2
    other = discord_fake.add_guild("Second Guild", owner=discord_fake.user, shard=(1 - home, 2))
    lobby = discord_fake.add_text_channel(other, "lobby")
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0,1")
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "2")
    reload_settings()
    bot = create_bot(ready_timeout=READY_S, identify_delay_s=0)
    async with running(bot, discord_fake):
        assert sorted(i.shard for i in discord_fake.identifies if i.shard) == [(0, 2), (1, 2)]
        assert {g.shard_id for g in bot.guilds} == {0, 1}
        alice.says(lobby, "hello from the other shard", mention=True)
        (thread,) = await discord_fake.wait_until(lambda: discord_fake.threads_of(lobby))
        await replied(discord_fake, thread)
    assert not discord_fake.api_calls("get_gateway_bot")  # the count came from settings
    # each guild is its own workspace, keyed by the guild id the gateway gave
    assert find_conversation("discord", other["id"], lobby["id"], thread["id"]) is not None
    assert find_conversation("discord", discord_fake.guild["id"], lobby["id"], thread["id"]) is None


def test_shard_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0,1")
    with pytest.raises(ValueError, match="needs DISCORD_SHARD_COUNT"):
        create_bot(reload_settings())
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "1")
    with pytest.raises(ValueError, match="below DISCORD_SHARD_COUNT"):
        create_bot(reload_settings())
    with pytest.raises(ValueError, match="not a Discord id"):
        parse_ids("123, general")


def test_gateway_url_follows_the_api_base_unless_set() -> None:
    assert gateway_url(Settings(DISCORD_API_BASE="http://127.0.0.1:8123/api/v10")) == "ws://127.0.0.1:8123/"
    assert gateway_url(Settings(DISCORD_API_BASE="https://proxy.example/api/v10")) == "wss://proxy.example/"
    explicit = Settings(DISCORD_API_BASE="http://a/api/v10", DISCORD_GATEWAY_URL="ws://b:1/gw")
    assert gateway_url(explicit) == "ws://b:1/gw"
    assert gateway_url(Settings()) == "wss://gateway.discord.gg/"


def test_readme_invite_url_asks_exactly_for_the_permissions_the_bot_uses() -> None:
    wanted = required_permissions()
    # Discord's documented bits: View Channels 10, Send Messages 11, Embed Links 14, Read Message History 16,
    # Create Public Threads 35, Send Messages in Threads 38. Nothing else (no admin, no manage_*).
    assert wanted.value == sum(1 << bit for bit in (10, 11, 14, 16, 35, 38)) == 309237730304
    url = invite_url(1234)
    assert f"permissions={wanted.value}" in url and "scope=bot+applications.commands" in url
    readme = (ROOT / "README.md").read_text()
    documented = re.findall(r"permissions=(\d+)", readme)
    assert documented and all(int(p) == wanted.value for p in documented)
    for label in PERMISSIONS.values():
        assert label in readme
    assert "Message Content Intent" in readme


def test_main_without_a_token_says_what_to_do(cli: Any) -> None:
    out = cli.subprocess("discord")
    assert out.returncode != 0 and "DISCORD_BOT_TOKEN is not set" in out.stderr
