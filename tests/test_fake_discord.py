"""The Discord fake against the real discord.py client: gateway, events, slash commands, REST, faults, the CDN."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import FakeDiscord, pointed_at, running
from tests.fakes.discord.cdn import CDN_HOST
from tests.fileskit import png

MODELS = [f"gpt-{i}" for i in range(40)] + ["claude-sonnet", "llama3.2"]
READY = 0.05  # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE for on_ready


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    with FakeDiscord() as f, pointed_at(f):
        yield f


def content_intents() -> discord.Intents:
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


# ---------------------------------------------------------------------- a bot with application commands
@app_commands.command(name="ask", description="Ask a model")
async def ask(interaction: discord.Interaction, model: str, prompt: str) -> None:
    await interaction.response.defer(thinking=True)
    interaction.client.seen.append(interaction)  # type: ignore[attr-defined]
    await interaction.edit_original_response(content=f"{model} says: {prompt[::-1]}")


@ask.autocomplete("model")
async def ask_model(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=m, value=m) for m in MODELS if current in m][:25]


@app_commands.command(name="sloppy", description="Autocomplete that breaks Discord's limits")
async def sloppy(interaction: discord.Interaction, model: str) -> None:
    await interaction.response.send_message(model)


@sloppy.autocomplete("model")
async def sloppy_model(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=m, value=m) for m in MODELS[:30]]


@app_commands.command(name="slow", description="Answers after 3 s")
async def slow(interaction: discord.Interaction, defer: bool) -> None:
    if defer:
        await interaction.response.defer()
    await asyncio.sleep(3.2)
    if defer:
        await interaction.edit_original_response(content="late but deferred")
    else:
        await interaction.response.send_message("too late")


class AskBot(commands.Bot):
    def __init__(self, guild_id: int, **options: Any) -> None:
        super().__init__(command_prefix="!", intents=content_intents(), guild_ready_timeout=READY, **options)
        self.guild_id = guild_id
        self.seen: list[discord.Interaction] = []

    async def setup_hook(self) -> None:
        guild = discord.Object(self.guild_id)
        self.tree.add_command(ask, guild=guild)
        self.tree.add_command(sloppy, guild=guild)
        self.tree.add_command(slow, guild=guild)
        await self.tree.sync(guild=guild)


# ---------------------------------------------------------------------- connection
async def test_client_connects_and_caches_the_guild(fake: FakeDiscord) -> None:
    thread = fake.add_thread(fake.channel, "older thread")
    client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        assert client.user is not None and client.user.id == int(fake.bot["id"])
        guild = client.get_guild(int(fake.guild["id"]))
        assert guild is not None and guild.name == fake.guild["name"]
        channel = guild.get_channel(int(fake.channel["id"]))
        assert isinstance(channel, discord.TextChannel) and channel.name == "general"
        cached_thread = guild.get_thread(int(thread["id"]))
        assert cached_thread is not None and cached_thread.parent_id == channel.id
        assert guild.me is not None and guild.me.guild_permissions.send_messages
    assert fake.gateway_connects[0]["query"] == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    assert fake.identifies[0].intents == content_intents().value
    assert [c.action for c in fake.api_calls()][:2] == ["get_me", "application_info"]


async def test_privileged_intent_not_enabled_fails_like_discord() -> None:
    with FakeDiscord(allowed_privileged_intents=0) as f, pointed_at(f):
        client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with running(client, f):
                pass


async def test_reconnect_resumes_on_resume_gateway_url(fake: FakeDiscord) -> None:
    client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        resumed = asyncio.create_task(client.wait_for("resumed", timeout=5))
        await asyncio.sleep(0)
        fake.reconnect()
        await resumed
        (session,) = fake.sessions.values()
        assert session.resumes == 1 and fake.gateway_connects[-1]["path"] == "/resume"
        waiter = asyncio.create_task(client.wait_for("message", timeout=5))
        await asyncio.sleep(0)
        fake.dispatch("MESSAGE_CREATE", fake.message_create(fake.channel, content="after resume"))
        assert (await waiter).content == "after resume"


# ---------------------------------------------------------------------- messages and intents
async def test_message_create_reaches_on_message(fake: FakeDiscord) -> None:
    client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        waiter = asyncio.create_task(client.wait_for("message", timeout=5))
        await asyncio.sleep(0)
        assert fake.dispatch("MESSAGE_CREATE", fake.message_create(fake.channel, content="hi", mentions=[fake.bot]))
        message = await waiter
        assert message.content == f"<@{fake.bot['id']}> hi"
        assert client.user in message.mentions
        assert isinstance(message.author, discord.Member) and message.author.name == "alice"
        assert message.channel.id == int(fake.channel["id"])


async def test_without_message_content_intent_only_mentions_carry_text(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=READY)
    async with running(client, fake):
        got: list[discord.Message] = []
        client.event(on_message := _collector(got))  # noqa: F841
        fake.dispatch("MESSAGE_CREATE", fake.message_create(fake.channel, content="plain"))
        fake.dispatch("MESSAGE_CREATE", fake.message_create(fake.channel, content="ping", mentions=[fake.bot]))
        await fake.wait_until(lambda: len(got) == 2)
        assert got[0].content == ""
        assert got[1].content.endswith("ping")


async def test_direct_messages_need_their_intent(fake: FakeDiscord) -> None:
    intents = content_intents()
    intents.dm_messages = False
    client = discord.Client(intents=intents, guild_ready_timeout=READY)
    async with running(client, fake):
        dm = fake.dm_channel(fake.user)
        assert fake.dispatch("MESSAGE_CREATE", fake.message_create(dm, content="psst")) == 0
        assert fake.dropped[-1][1] == "MESSAGE_CREATE"
        reply = await client.get_partial_messageable(int(dm["id"])).send("hello alice")
    assert fake.messages[reply.id].data["channel_id"] == dm["id"]


def _collector(into: list[discord.Message]) -> Any:
    async def on_message(message: discord.Message) -> None:
        into.append(message)

    return on_message


async def test_send_and_edits_are_recorded_with_server_times(fake: FakeDiscord) -> None:
    client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        channel = client.get_channel(int(fake.channel["id"]))
        assert isinstance(channel, discord.TextChannel)
        echoed = asyncio.create_task(client.wait_for("message", timeout=5))
        sent = await channel.send("draft", file=discord.File(__file__, filename="notes.py"))
        assert (await echoed).id == sent.id  # Discord echoes the bot's own message on the gateway
        await sent.edit(content="draft 2")
        await asyncio.sleep(1.05)
        await sent.edit(content="final")
        await sent.edit(content="final!")  # too soon after the previous edit: flagged, not refused
    first = fake.api_calls("send_message")[0]
    assert first.json["content"] == "draft" and first.files[0]["filename"] == "notes.py"  # multipart payload_json
    stored = fake.messages[sent.id]
    assert stored.content == "final!" and stored.data["author"]["id"] == fake.bot["id"]
    assert stored.data["attachments"][0]["filename"] == "notes.py"
    assert [e.content for e in stored.edits] == ["draft 2", "final", "final!"]
    times = stored.edit_times()
    assert times[1] - times[0] >= 1.0
    assert [v.kind for v in fake.violations] == ["edits_too_fast"]
    assert not fake.violations[0].rejected


async def _get(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def test_attachments_are_served_by_the_cdn_until_their_links_expire(fake: FakeDiscord) -> None:
    image = png(3, 2)
    client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        waiter = asyncio.create_task(client.wait_for("message", timeout=5))
        await asyncio.sleep(0)
        fake.dispatch("MESSAGE_CREATE", fake.message_create(fake.channel, files={"my screenshot.png": image}))
        (attachment,) = (await waiter).attachments
        channel = client.get_channel(int(fake.channel["id"]))
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send(file=discord.File(io.BytesIO(b"a,b\n1,2\n"), filename="table.csv"))
    assert attachment.filename == "my_screenshot.png" and attachment.size == len(image)
    assert attachment.content_type == "image/png" and (attachment.width, attachment.height) == (3, 2)
    url = urlsplit(attachment.url)
    assert url.scheme == "https" and url.netloc == "cdn.discordapp.com"
    assert url.path == f"/attachments/{fake.channel['id']}/{attachment.id}/my_screenshot.png"
    assert set(parse_qs(url.query)) == {"ex", "is", "hm"}
    assert urlsplit(attachment.proxy_url).netloc == "media.discordapp.net"
    local = fake.cdn_base + url.path

    assert await _get(f"{local}?{url.query}") == (200, "image/png", image)
    (bot_upload,) = sent.attachments  # the bot's own uploads live on the CDN too, typed by their name
    csv = (200, "text/csv; charset=utf-8", b"a,b\n1,2\n")
    assert await _get(fake.cdn_base + bot_upload.url.removeprefix(CDN_HOST)) == csv

    gone = (404, "text/plain; charset=utf-8", b"This content is no longer available.")
    assert await _get(local) == gone  # without its signature
    assert await _get(f"{local}?{url.query.replace('hm=', 'hm=0')}") == gone  # a signature that does not match
    fake.cdn_time_passes(23 * 3600)
    assert (await _get(f"{local}?{url.query}"))[0] == 200
    fake.cdn_time_passes(3600)  # 24 h after it was issued
    assert await _get(f"{local}?{url.query}") == gone
    fresh = fake.attachment_object(fake.cdn_files[(int(fake.channel["id"]), attachment.id)])
    assert (await _get(fake.cdn_base + fresh["url"].removeprefix(CDN_HOST)))[0] == 200  # a re-signed link works
    fake.delete_attachment(fresh)
    assert await _get(fake.cdn_base + fresh["url"].removeprefix(CDN_HOST)) == gone
    assert len(fake.cdn_downloads()) == 8


async def test_thread_from_message(fake: FakeDiscord) -> None:
    client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        waiter = asyncio.create_task(client.wait_for("message", timeout=5))
        await asyncio.sleep(0)
        fake.dispatch("MESSAGE_CREATE", fake.message_create(fake.channel, content="start a thread"))
        message = await waiter
        created = asyncio.create_task(client.wait_for("thread_create", timeout=5))
        thread = await message.create_thread(name="Switchboard: start a thread")
        assert (await created).id == thread.id
        await thread.send("first reply")
        assert client.get_channel(thread.id) is not None
    call = fake.api_calls("create_thread_from_message")[0]
    assert call.path == f"/channels/{fake.channel['id']}/messages/{message.id}/threads"
    assert thread.id == message.id and thread.parent_id == int(fake.channel["id"])
    (stored_thread,) = fake.threads_of(fake.channel)
    assert stored_thread["type"] == 11 and stored_thread["message_count"] == 1
    assert [m.content for m in fake.messages_in(thread.id)] == ["first reply"]


# ---------------------------------------------------------------------- slash commands
async def test_slash_command_defers_then_edits_original(fake: FakeDiscord) -> None:
    bot = AskBot(int(fake.guild["id"]))
    async with running(bot, fake):
        (sync,) = fake.api_calls("bulk_upsert_guild_commands")
        assert {c["name"] for c in sync.json} == {"ask", "sloppy", "slow"}
        thread = fake.add_thread(fake.channel, "a conversation")
        await fake.wait_until(lambda: bot.get_channel(int(thread["id"])))
        payload = fake.slash_command("ask", {"model": "llama3.2", "prompt": "olleh"}, channel=thread)
        assert payload["data"]["guild_id"] == fake.guild["id"]  # guild-scoped command, as synced
        fake.dispatch("INTERACTION_CREATE", payload)
        edit = await fake.wait_for_call("edit_original")
        (interaction,) = bot.seen
        assert isinstance(interaction.channel, discord.Thread)
    callback = fake.api_calls("interaction_callback")[0]
    assert callback.path == f"/interactions/{payload['id']}/{payload['token']}/callback"
    assert callback.json == {"type": 5} and callback.query == {"with_response": "1"}
    assert edit.path == f"/webhooks/{fake.application['id']}/{payload['token']}/messages/@original"
    assert edit.json["content"] == "llama3.2 says: hello"
    original = fake.original_message(payload)
    assert original is not None and original.content == "llama3.2 says: hello"
    assert original.channel_id == int(thread["id"]) and not original.data["flags"] & 128  # no longer loading
    assert not fake.violations


async def test_autocomplete_limits(fake: FakeDiscord) -> None:
    bot = AskBot(int(fake.guild["id"]))
    async with running(bot, fake):
        good = fake.autocomplete("ask", "model", "gpt", {"prompt": "x"})
        bad = fake.autocomplete("sloppy", "model", "")
        fake.dispatch("INTERACTION_CREATE", good)
        fake.dispatch("INTERACTION_CREATE", bad)
        await fake.wait_for_call("interaction_callback", count=2)
    by_id = {c.params["interaction_id"]: c for c in fake.api_calls("interaction_callback")}
    ok = by_id[good["id"]]
    assert ok.status == 200 and ok.json["type"] == 8 and len(ok.json["data"]["choices"]) == 25
    refused = by_id[bad["id"]]
    assert refused.status == 400 and refused.response["code"] == 50035
    assert [v.kind for v in fake.violations] == ["invalid_autocomplete"]


async def test_three_second_rule(fake: FakeDiscord) -> None:
    bot = AskBot(int(fake.guild["id"]))
    async with running(bot, fake):
        deferred = fake.slash_command("slow", {"defer": True})
        direct = fake.slash_command("slow", {"defer": False})
        fake.dispatch("INTERACTION_CREATE", deferred)
        fake.dispatch("INTERACTION_CREATE", direct)
        await fake.wait_for_call("interaction_callback", count=2, timeout=8)
        await fake.wait_for_call("edit_original", timeout=8)
    late = next(c for c in fake.api_calls("interaction_callback") if c.params["interaction_id"] == direct["id"])
    assert late.status == 404 and late.response == {"message": "Unknown interaction", "code": 10062}
    original = fake.original_message(deferred)
    assert original is not None and original.content == "late but deferred"
    assert [v.kind for v in fake.violations] == ["late_interaction_response"]


async def test_component_click_updates_message(fake: FakeDiscord) -> None:
    clicks: list[str] = []

    class Buttons(discord.ui.View):
        @discord.ui.button(label="Retry", custom_id="retry")
        async def retry(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
            clicks.append(button.custom_id or "")
            await interaction.response.edit_message(content="retrying")

    client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        channel = client.get_channel(int(fake.channel["id"]))
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("answer", view=Buttons())
        fake.dispatch("INTERACTION_CREATE", fake.component_click("retry", sent.id))
        call = await fake.wait_for_call("interaction_callback")
    assert clicks == ["retry"] and call.json["type"] == 7
    assert fake.messages[sent.id].content == "retrying"


# ---------------------------------------------------------------------- faults
async def test_missing_permissions_is_forbidden(fake: FakeDiscord) -> None:
    fake.forbid("send_message")
    client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        channel = client.get_channel(int(fake.channel["id"]))
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.Forbidden) as err:
            await channel.send("hello")
    assert err.value.code == 50013 and err.value.text == "Missing Permissions" and err.value.status == 403


async def test_429_is_waited_out_and_retried(fake: FakeDiscord) -> None:
    fake.rate_limit("send_message", retry_after=0.3)
    fake.rate_limit("edit_original", retry_after=0.2)
    bot = AskBot(int(fake.guild["id"]))
    async with running(bot, fake):
        channel = bot.get_channel(int(fake.channel["id"]))
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("eventually")
        payload = fake.slash_command("ask", {"model": "m", "prompt": "p"})
        fake.dispatch("INTERACTION_CREATE", payload)
        await fake.wait_for_call("edit_original", count=2)
    first, second = fake.api_calls("send_message")
    assert (first.status, second.status) == (429, 200) and second.at - first.at >= 0.3
    assert first.response["retry_after"] == 0.3
    assert [c.status for c in fake.api_calls("edit_original")] == [429, 200]  # the webhook path retries too
    assert fake.messages[sent.id].content == "eventually"


async def test_bucket_headers_make_discord_py_wait(fake: FakeDiscord) -> None:
    fake.set_bucket("POST /channels/{channel_id}/messages", limit=2, per=0.6)
    client = discord.Client(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        channel = client.get_channel(int(fake.channel["id"]))
        assert isinstance(channel, discord.TextChannel)
        for n in range(3):
            await channel.send(f"m{n}")
    calls = fake.api_calls("send_message")
    assert [c.status for c in calls] == [200, 200, 200]  # waited pre-emptively: no 429
    assert calls[2].at - calls[0].at >= 0.5


# ---------------------------------------------------------------------- sharding
class TwoShards(discord.AutoShardedClient):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # the default sleeps 5 s between IDENTIFYs (max_concurrency 1)


async def test_auto_sharded_client_connects_both_shards(fake: FakeDiscord) -> None:
    other = fake.add_guild("Second Guild", shard=(1 - (int(fake.guild["id"]) >> 22) % 2, 2))
    other_channel = fake.add_text_channel(other, "lobby")
    client = TwoShards(intents=content_intents(), shard_count=2, shard_ids=[0, 1], guild_ready_timeout=READY)
    async with running(client, fake):
        assert sorted(i.shard for i in fake.identifies) == [(0, 2), (1, 2)]  # type: ignore[type-var]
        assert {g.id for g in client.guilds} == {int(fake.guild["id"]), int(other["id"])}
        assert {g.shard_id for g in client.guilds} == {0, 1}
        waiter = asyncio.create_task(client.wait_for("message", timeout=5))
        await asyncio.sleep(0)
        assert fake.dispatch("MESSAGE_CREATE", fake.message_create(other_channel, content="on shard")) == 1
        message = await waiter
        assert message.guild is not None and message.guild.id == int(other["id"])
    assert not fake.api_calls("get_gateway_bot")  # shard_count given: discord.py goes to the default gateway


async def test_auto_sharded_client_without_count_asks_gateway_bot(fake: FakeDiscord) -> None:
    client = discord.AutoShardedClient(intents=content_intents(), guild_ready_timeout=READY)
    async with running(client, fake):
        assert client.shard_count == 1
    assert len(fake.api_calls("get_gateway_bot")) == 1
