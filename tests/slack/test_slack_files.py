"""Files posted in Slack threads: downloaded with the workspace's bot token from the fake Slack's private URLs (real
HTTP), refused with a sentence the user can act on, and carried to the model by the real app in HTTP mode."""

from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

from bot.slack.files import SlackFile, download, files_of
from core.settings import reload_settings
from core.types import FileUnavailable
from tests.chatkit import World
from tests.fakes.slack import FakeSlack, SlackSender, Workspace
from tests.fakes.slack.files import File
from tests.slackkit import SECRET, Bot, footer_of, install, serve, stored, wait_for

DM = "D0DM0000001"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def posted(fake: FakeSlack, *files: File) -> tuple[SlackFile, ...]:
    """The files as the app reads them from a `file_share` message event."""
    return files_of(SlackSender("http://127.0.0.1:9/unused", SECRET, fake=fake).message("", files=list(files)))


@pytest.fixture
def at_fake(fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    """Settings pointing the app's Slack at the fake (the hosts a bot token may be sent to)."""
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    reload_settings()
    return fake


async def refusal(file: SlackFile, fake: FakeSlack, token: str, scopes: list[str] | None = None) -> str:
    with pytest.raises(FileUnavailable) as refused:
        await download(file, fake.client(token), token, scopes)
    assert token not in str(refused.value)
    return str(refused.value)


# ---------------------------------------------------------------------------------- the download, against the fake


async def test_a_file_is_downloaded_with_the_token_of_the_workspace(at_fake: FakeSlack) -> None:
    ws, image = at_fake.workspace(), png()
    shot = at_fake.upload(image, "screen shot.png")
    (file,) = posted(at_fake, shot)
    assert (file.id, file.name, file.mime, file.size) == (shot.id, "screen shot.png", "image/png", len(image))
    assert await download(file, at_fake.client(), ws.token, ws.scopes.split(",")) == image
    assert at_fake.downloads(shot.id) == [(200, ws.token)]


async def test_a_file_slack_will_not_serve_is_refused_never_read_as_its_sign_in_page(
    at_fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = at_fake.workspace()
    other = at_fake.add_workspace(token="xoxb-other-team", team_id="T0000000009")
    theirs = at_fake.upload(png(), "theirs.png", team_id=other.team_id)
    (file,) = posted(at_fake, theirs)
    expected = "Slack would not let the app read it; post it again in this thread, or add the app to its channel"
    assert await refusal(file, at_fake, ws.token) == expected
    assert at_fake.downloads(theirs.id) == [(302, ws.token)]  # the way to the sign-in page was not taken
    # a sign-in page answered straight away (200, HTML) is no file either
    assert await refusal(replace(file, url=f"{at_fake.url}/"), at_fake, ws.token) == expected

    gone = at_fake.upload(b"minutes\n", "minutes.txt")
    (file,) = posted(at_fake, gone)
    at_fake.delete_file(gone.id)
    assert await refusal(file, at_fake, ws.token) == "it was deleted from Slack"
    assert at_fake.downloads(gone.id) == [(404, ws.token)]
    (tombstone,) = posted(at_fake, gone)  # posted after it was deleted: nothing to ask for
    assert await refusal(tombstone, at_fake, ws.token) == "it was deleted from Slack"
    assert len(at_fake.downloads(gone.id)) == 1

    elsewhere = SlackFile("F0ELSEWHERE", "x.png", "image/png", 10, url="https://files.example.com/x.png")
    assert await refusal(elsewhere, at_fake, ws.token) == "Slack gave an address outside Slack for it"
    link = {"id": "F0GDRIVE01", "name": "Plan", "mode": "external", "is_external": True, "external_type": "gdrive"}
    (linked,) = files_of({"files": [link]})
    assert (await refusal(linked, at_fake, ws.token)).startswith("it is a link to a file on gdrive, not a file in")
    assert all(ws.token not in r.getMessage() for r in caplog.records)


async def test_without_files_read_the_user_is_told_to_reinstall_and_nothing_is_asked(at_fake: FakeSlack) -> None:
    ws = at_fake.workspace()
    note = at_fake.upload(b"hello\n", "note.txt")
    (file,) = posted(at_fake, note)
    message = await refusal(file, at_fake, ws.token, ["app_mentions:read", "chat:write"])
    assert message.startswith("the app lacks Slack's files:read permission in this workspace; an admin can")
    assert "reinstall" in message and at_fake.downloads(note.id) == []


async def test_downloads_stop_at_the_file_size_limit(at_fake: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_FILE_MAX_MB", "0.01")  # 10,485 bytes
    reload_settings()
    ws = at_fake.workspace()
    big = at_fake.upload(b"x" * 20_000, "big.log")
    (file,) = posted(at_fake, big)
    message = await refusal(file, at_fake, ws.token)
    assert message == "it is 20 KB, more than the 0.01 MB a file may be here"
    assert at_fake.downloads(big.id) == []  # the event said how large it is: not fetched at all
    unsized = replace(file, size=None)  # the download's own Content-Length stops it
    assert await refusal(unsized, at_fake, ws.token) == message
    assert at_fake.downloads(big.id) == [(200, ws.token)]
    small = at_fake.upload(b"y" * 10_000, "small.log")
    assert await download(*posted(at_fake, small), at_fake.client(), ws.token) == b"y" * 10_000


class ChunkedSlack(FakeSlack):
    """Sends file bytes chunked, without a Content-Length (as a proxy in front of Slack may)."""

    async def _file_bytes(self, request: web.Request) -> web.StreamResponse:
        whole = await super()._file_bytes(request)
        if whole.status != 200 or not isinstance(whole, web.Response) or not isinstance(whole.body, bytes):
            return whole
        chunked = web.StreamResponse(headers={"Content-Type": whole.content_type})
        chunked.enable_chunked_encoding()
        await chunked.prepare(request)
        for start in range(0, len(whole.body), 4096):
            await chunked.write(whole.body[start : start + 4096])
        await chunked.write_eof()
        return chunked


async def test_a_download_without_a_stated_length_stops_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    with ChunkedSlack() as fake:
        monkeypatch.setenv("SLACK_API_URL", fake.api_url)
        monkeypatch.setenv("SWITCHBOARD_FILE_MAX_MB", "0.01")
        reload_settings()
        ws = fake.workspace()
        (big,) = posted(fake, fake.upload(b"x" * 50_000, "big.log"))
        message = await refusal(replace(big, size=None), fake, ws.token)
        assert message == "it is larger than 0.01 MB, the most a file may be here"
        (small,) = posted(fake, fake.upload(b"y" * 10_000, "small.log"))
        assert await download(replace(small, size=None), fake.client(), ws.token) == b"y" * 10_000


async def test_a_file_shared_from_another_organisation_is_looked_up_first(at_fake: FakeSlack) -> None:
    ws = at_fake.workspace()
    partner = at_fake.add_workspace(token="xoxb-partner", team_id="T0000000007")
    shared = at_fake.upload(b"a,b\n1,2\n", "data.csv", team_id=partner.team_id, connect=True)
    (file,) = posted(at_fake, shared)
    assert file.url == "" and file.mode == "file_access"  # Slack Connect events carry a stub
    assert await download(file, at_fake.client(), ws.token) == b"a,b\n1,2\n"
    assert at_fake.calls_to("files.info") == [{"file": shared.id}]


# ---------------------------------------------------------------------------------- the app, end to end


async def mention_with(bot: Bot, text: str, files: list[File], *, thread_ts: str | None = None) -> dict[str, Any]:
    """`@switchboard text` with files attached: Slack sends `app_mention` and a `file_share` message for it."""
    event = bot.ada.app_mention(text, thread_ts=thread_ts, files=files)
    await bot.deliver(event)
    await bot.deliver(bot.ada.message(event["text"], ts=event["ts"], thread_ts=thread_ts, files=files))
    return event


async def thread_on(bot: Bot, model: str) -> str:
    """A conversation whose model is `model`: a mention, its reply, then `!model` in the thread."""
    ts = (await bot.mention("hello"))["ts"]
    await bot.finished(ts)
    await bot.say(f"!model {model}", thread_ts=ts)
    await wait_for(lambda: [m for m in bot.replies(ts) if "now uses" in m.text], what="the model switched")
    return ts


def sent_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The content parts of the last message a model was sent (a plain string is one text part)."""
    content = body["messages"][-1]["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


async def test_an_image_posted_with_a_mention_reaches_the_vision_model(world: World, bot: Bot) -> None:
    ts = await thread_on(bot, "gpt-4o")
    image = png()
    shot = bot.fake.upload(image, "screenshot.png")
    await mention_with(bot, "what does this show?", [shot], thread_ts=ts)
    replies = await bot.finished(ts, count=2)
    assert footer_of(replies[-1]).startswith("oa/gpt-4o · ") and "tokens" in footer_of(replies[-1])

    parts = sent_parts(world.cloud.chat_calls("gpt-4o")[-1])
    (picture,) = [p for p in parts if p["type"] == "image_url"]
    url = picture["image_url"]["url"]
    assert url.startswith("data:image/png;base64,") and base64.b64decode(url.split(",", 1)[1]) == image
    assert any("what does this show?" in p.get("text", "") for p in parts)
    await bot.settled()
    assert bot.fake.downloads(shot.id) == [(200, bot.fake.workspace().token)]  # two events, one download


async def test_a_file_alone_is_a_turn_in_a_thread_with_a_mention_and_in_a_dm(world: World, bot: Bot) -> None:
    ts = (await bot.mention("hello"))["ts"]
    await bot.finished(ts)
    notes = bot.fake.upload(b"The launch moved to Friday.\n", "notes.txt")
    event = await bot.say("", thread_ts=ts, files=[notes])
    assert event["subtype"] == "file_share"
    replies = await bot.finished(ts, count=2)
    assert footer_of(replies[-1]).startswith("local/llama-big · ")
    sent = json.dumps(world.local.chat_calls("llama-big")[-1]["messages"])
    assert "notes.txt" in sent and "The launch moved to Friday." in sent

    # a mention with only a file starts a conversation about it (no help text)
    plan = bot.fake.upload(b"Step 1: write the tests.\n", "plan.txt")
    started = await mention_with(bot, "", [plan])
    (reply,) = await bot.finished(started["ts"])  # a model's answer, not !help's
    assert footer_of(reply).startswith("local/llama-big · ")
    assert "Step 1: write the tests." in json.dumps(world.local.chat_calls("llama-big")[-1]["messages"])

    # a file alone in a DM starts a conversation
    todo = bot.fake.upload(b"- buy milk\n", "todo.md", mimetype="text/markdown")
    dm = await bot.say("", channel=DM, files=[todo])
    await bot.finished(dm["ts"], channel=DM)
    assert "buy milk" in json.dumps(world.local.chat_calls("llama-big")[-1]["messages"])


async def test_a_file_slack_refuses_gets_a_clear_reply_in_the_thread(world: World, bot: Bot) -> None:
    other = bot.fake.add_workspace(token="xoxb-other-team", team_id="T0000000009")
    ts = (await bot.mention("hello"))["ts"]
    await bot.finished(ts)
    theirs = bot.fake.upload(b"secret plans\n", "plans.txt", team_id=other.team_id)
    await bot.say("summarise this", thread_ts=ts, files=[theirs])
    refused = "plans.txt could not be downloaded: Slack would not let the app read it; post it again in this thread"
    await wait_for(lambda: refused in bot.fake.thread_text(bot.ada.channel_id, ts), what="the refusal")

    gone = bot.fake.upload(b"old notes\n", "old.txt")
    event = bot.ada.message("and this one?", thread_ts=ts, files=[gone])
    bot.fake.delete_file(gone.id)  # deleted between posting and the bot reading it
    await bot.deliver(event)
    deleted = "old.txt could not be downloaded: it was deleted from Slack."
    await wait_for(lambda: deleted in bot.fake.thread_text(bot.ada.channel_id, ts), what="the deletion")
    await bot.settled()
    thread = bot.fake.thread_text(bot.ada.channel_id, ts)
    assert "Traceback" not in thread and "secret plans" not in json.dumps(world.local.chat_calls())
    assert bot.fake.workspace().token not in thread


async def test_a_redelivered_file_share_is_fetched_and_answered_once(world: World, bot: Bot) -> None:
    ts = (await bot.mention("hello"))["ts"]
    await bot.finished(ts)
    notes = bot.fake.upload(b"Budget: 12 apples.\n", "budget.txt")
    envelope = await bot.deliver(bot.ada.message("how many apples?", thread_ts=ts, files=[notes]))
    await bot.redeliver(envelope)
    await bot.finished(ts, count=2)
    await bot.settled()
    assert sum(1 for m in bot.replies(ts) if footer_of(m)) == 2
    assert [m.content for m in stored("user")] == ["hello", "how many apples?"]
    assert len(bot.fake.downloads(notes.id)) == 1 and world.local.chat_count == 2


async def test_each_workspace_downloads_with_its_own_installation_token(world: World) -> None:
    alpha = Workspace()
    beta = Workspace(token="xoxb-beta-0002", team_id="T0000000002", team="Beta", domain="beta", bot_user_id="UB2")
    with FakeSlack([alpha, beta]) as fake:
        async with serve(fake, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="client-secret-0001") as bot:
            for ws in (alpha, beta):
                install("111.222", ws)
            bob = bot.person("U0BOB000001", "bob", workspace=beta)
            report = fake.upload(b"Beta's numbers: 7.\n", "report.txt", team_id=beta.team_id, user=bob.user_id)
            event = bob.app_mention("what are the numbers?", files=[report])
            await bot.deliver(event, by=bob)
            await bot.finished(event["ts"])
            assert fake.downloads(report.id) == [(200, beta.token)]
            assert "Beta's numbers: 7." in json.dumps(world.local.chat_calls("llama-big")[-1]["messages"])


async def test_an_install_without_files_read_is_told_to_reinstall(world: World) -> None:
    old = Workspace(scopes="app_mentions:read,assistant:write,channels:history,chat:write,commands,users:read")
    with FakeSlack([old]) as fake:
        async with serve(fake) as bot:
            ts = (await bot.mention("hello"))["ts"]
            await bot.finished(ts)
            note = fake.upload(b"hi\n", "hi.txt")
            await bot.say("read this", thread_ts=ts, files=[note])
            told = "hi.txt could not be downloaded: the app lacks Slack's files:read permission"
            await wait_for(lambda: told in fake.thread_text(bot.ada.channel_id, ts), what="the missing scope")
            assert fake.downloads(note.id) == []
