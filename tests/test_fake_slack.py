"""The Slack fakes behave like Slack for the real slack-sdk and bolt clients.

FakeSlack is driven by the real `AsyncWebClient`; SlackSender's signed requests go over real HTTP to a real
bolt `AsyncApp` served by uvicorn through bolt's ASGI adapter (production HTTP mode).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests import slackkit
from tests.fakes.slack import AsgiServer, FakeSlack, SlackSender, Workspace, sign

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0GENERAL01"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.workspace().token, base_url=fake.api_url)


# bolt runs listeners after the HTTP ack, so their effects are polled for (5 s here: these are bare bolt apps)
wait_for = functools.partial(slackkit.wait_for, timeout=5.0)


# ----------------------------------------------------------------------------------------- Web API


async def test_auth_test_maps_tokens_to_workspaces(fake: FakeSlack) -> None:
    beta = fake.add_workspace(token="xoxb-beta", team_id="T0000000002", team="Beta", domain="beta")
    alpha = fake.workspace()
    a = await AsyncWebClient(token=alpha.token, base_url=fake.api_url).auth_test()
    b = await AsyncWebClient(token=beta.token, base_url=fake.api_url).auth_test()
    assert a["team_id"] == alpha.team_id and a["user_id"] == alpha.bot_user_id and a["bot_id"] == alpha.bot_id
    assert a["url"] == "https://acme.slack.com/" and a["team"] == "Acme" and a["is_enterprise_install"] is False
    assert b["team_id"] == "T0000000002" and b["user_id"] == beta.bot_user_id != alpha.bot_user_id
    assert "chat:write" in a.headers["x-oauth-scopes"]
    assert [c.team_id for c in fake.api_calls_to("auth.test")] == [alpha.team_id, beta.team_id]

    with pytest.raises(SlackApiError) as bad:
        await AsyncWebClient(token="xoxb-nope", base_url=fake.api_url).auth_test()
    assert bad.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as none:
        await AsyncWebClient(base_url=fake.api_url).auth_test()
    assert none.value.response["error"] == "not_authed"
    fake.revoke(beta.token)
    with pytest.raises(SlackApiError) as revoked:
        await AsyncWebClient(token=beta.token, base_url=fake.api_url).auth_test()
    assert revoked.value.response["error"] == "token_revoked"


async def test_post_message_threads_and_replies(fake: FakeSlack, client: AsyncWebClient) -> None:
    ws = fake.workspace()
    user_msg = fake.add_message(CHANNEL, "what is 2+2?", user="U0USER00001")
    top = await client.chat_postMessage(channel=CHANNEL, text="thinking…")
    reply = await client.chat_postMessage(channel=CHANNEL, text="4", thread_ts=user_msg.ts)
    assert top["channel"] == CHANNEL and float(top["ts"]) > float(user_msg.ts)
    assert top["message"]["bot_id"] == ws.bot_id and top["message"]["user"] == ws.bot_user_id
    assert top["message"]["type"] == "message" and "thread_ts" not in top["message"]
    assert reply["message"]["thread_ts"] == user_msg.ts and reply["message"]["parent_user_id"] == "U0USER00001"

    # slack-sdk sends chat.postMessage as JSON; the fake parses it the same as a form.
    call = fake.api_calls_to("chat.postMessage")[1]
    assert call.content_type == "application/json" and call.params["thread_ts"] == user_msg.ts
    assert fake.calls_to("chat.postMessage")[0] == {"channel": CHANNEL, "text": "thinking…"}

    replies = await client.conversations_replies(channel=CHANNEL, ts=user_msg.ts)
    parent, child = replies["messages"]
    assert parent["reply_count"] == 1 and parent["reply_users"] == [ws.bot_user_id]
    assert parent["latest_reply"] == reply["ts"] and child["text"] == "4"
    assert replies["has_more"] is False
    assert fake.thread_text(CHANNEL, user_msg.ts) == "4"
    assert [m.text for m in fake.messages(CHANNEL)] == ["what is 2+2?", "thinking…", "4"]
    assert [m.text for m in fake.bot_messages(CHANNEL, thread_ts=user_msg.ts)] == ["4"]

    # Posting to a user id lands in the app's DM with that user.
    dm = await client.chat_postMessage(channel="U0USER00002", text="psst")
    assert dm["channel"].startswith("D")
    info = await client.conversations_info(channel=dm["channel"])
    assert info["channel"]["is_im"] is True and info["channel"]["user"] == "U0USER00002"


async def test_replies_paginate_with_cursor(fake: FakeSlack, client: AsyncWebClient) -> None:
    root = fake.add_message(CHANNEL, "root")
    for i in range(4):
        await client.chat_postMessage(channel=CHANNEL, text=f"r{i}", thread_ts=root.ts)
    texts: list[str] = []
    cursor = None
    for _ in range(5):
        page = await client.conversations_replies(channel=CHANNEL, ts=root.ts, limit=2, cursor=cursor)
        texts += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            break
    assert texts == ["root", "r0", "r1", "r2", "r3"]
    with pytest.raises(SlackApiError) as missing:
        await client.conversations_replies(channel=CHANNEL, ts="1.000001")
    assert missing.value.response["error"] == "thread_not_found"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_text_and_block_limits(client: AsyncWebClient) -> None:
    assert (await client.chat_postMessage(channel=CHANNEL, text="x" * 40_000))["ok"]
    with pytest.raises(SlackApiError) as long_text:
        await client.chat_postMessage(channel=CHANNEL, text="x" * 40_001)
    assert long_text.value.response["error"] == "msg_too_long"

    section = {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3000}}
    assert (await client.chat_postMessage(channel=CHANNEL, text="ok", blocks=[section]))["ok"]
    section["text"]["text"] += "y"  # type: ignore[index]
    with pytest.raises(SlackApiError) as big_section:
        await client.chat_postMessage(channel=CHANNEL, text="fallback", blocks=[section])
    assert big_section.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/text/text" in big_section.value.response["errors"][0]

    with pytest.raises(SlackApiError) as too_many:
        await client.chat_postMessage(channel=CHANNEL, text="t", blocks=[{"type": "divider"}] * 51)
    assert too_many.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as empty:
        await client.chat_postMessage(channel=CHANNEL, text="")
    assert empty.value.response["error"] == "no_text"
    markdown = {"type": "markdown", "text": "**big**" * 2000}
    with pytest.raises(SlackApiError) as big_md:
        await client.chat_postMessage(channel=CHANNEL, text="t", blocks=[markdown])
    assert big_md.value.response["error"] == "invalid_blocks"


async def test_update_delete_ephemeral_and_edit_cadence(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=CHANNEL, text="a")
    ts = posted["ts"]
    for text in ("ab", "abc"):
        await asyncio.sleep(0.15)
        updated = await client.chat_update(channel=CHANNEL, ts=ts, text=text)
        assert updated["ts"] == ts and updated["text"] == text and updated["message"]["edited"]["ts"]
    assert [e.text for e in fake.edits(CHANNEL, ts)] == ["ab", "abc"]
    gaps = fake.update_intervals(CHANNEL, ts)
    assert len(gaps) == 2 and all(g >= 0.14 for g in gaps)
    assert fake.message(CHANNEL, ts).text == "abc"

    with pytest.raises(SlackApiError) as too_long:
        await client.chat_update(channel=CHANNEL, ts=ts, text="z" * 40_001)
    assert too_long.value.response["error"] == "msg_too_long"
    people = fake.add_message(CHANNEL, "a person's words")
    with pytest.raises(SlackApiError) as not_ours:
        await client.chat_update(channel=CHANNEL, ts=people.ts, text="edited by bot")
    assert not_ours.value.response["error"] == "cant_update_message"

    # chat.delete is sent as query params (slack-sdk `params=`), not JSON.
    deleted = await client.chat_delete(channel=CHANNEL, ts=ts)
    assert deleted["ts"] == ts and fake.api_calls_to("chat.delete")[0].params == {
        "channel": CHANNEL,
        "ts": ts,
    }
    assert fake.messages(CHANNEL) == [people]
    with pytest.raises(SlackApiError) as gone:
        await client.chat_update(channel=CHANNEL, ts=ts, text="again")
    assert gone.value.response["error"] == "message_not_found"

    eph = await client.chat_postEphemeral(channel=CHANNEL, user="U0USER00001", text="only you", thread_ts=people.ts)
    assert eph["message_ts"]
    assert [(e.user, e.text, e.thread_ts) for e in fake.ephemerals] == [("U0USER00001", "only you", people.ts)]


async def test_conversations_users_reactions(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_channel(CHANNEL, "general")
    info = await client.conversations_info(channel=CHANNEL)
    assert info["channel"]["name"] == "general" and info["channel"]["is_channel"] is True
    assert info["channel"]["is_im"] is False

    bot = await client.users_info(user=fake.workspace().bot_user_id)
    assert bot["user"]["is_bot"] is True and bot["user"]["team_id"] == fake.workspace().team_id
    fake.add_user("U0USER00001", "ada", real_name="Ada Lovelace", email="ada@example.com")
    ada = await client.users_info(user="U0USER00001")
    assert ada["user"]["profile"]["real_name"] == "Ada Lovelace" and ada["user"]["tz"]

    msg = fake.add_message(CHANNEL, "hello")
    assert (await client.reactions_add(channel=CHANNEL, timestamp=msg.ts, name="eyes"))["ok"]
    with pytest.raises(SlackApiError) as twice:
        await client.reactions_add(channel=CHANNEL, timestamp=msg.ts, name="eyes")
    assert twice.value.response["error"] == "already_reacted"
    assert fake.message(CHANNEL, msg.ts).reactions == {"eyes": [fake.workspace().bot_user_id]}
    await client.reactions_remove(channel=CHANNEL, timestamp=msg.ts, name="eyes")
    assert fake.message(CHANNEL, msg.ts).reactions == {}

    history = await client.conversations_history(channel=CHANNEL)
    assert [m["text"] for m in history["messages"]] == ["hello"]
    link = await client.chat_getPermalink(channel=CHANNEL, message_ts=msg.ts)
    assert link["permalink"] == f"https://acme.slack.com/archives/{CHANNEL}/p{msg.ts.replace('.', '')}"

    fake.strict = True
    with pytest.raises(SlackApiError) as no_channel:
        await client.conversations_info(channel="C0MISSING01")
    assert no_channel.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as no_user:
        await client.users_info(user="U0NOBODY001")
    assert no_user.value.response["error"] == "user_not_found"


async def test_views_open_update_publish_and_triggers(fake: FakeSlack, client: AsyncWebClient) -> None:
    modal = {
        "type": "modal",
        "callback_id": "pick_model",
        "title": {"type": "plain_text", "text": "Pick"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Choose"}}],
        "private_metadata": "C0GENERAL01|123.456",
    }
    trigger = fake.new_trigger_id()
    opened = await client.views_open(trigger_id=trigger, view=modal)
    view = opened["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "pick_model" and view["hash"]
    assert view["state"] == {"values": {}} and view["app_id"] == fake.workspace().app_id
    with pytest.raises(SlackApiError) as reused:
        await client.views_open(trigger_id=trigger, view=modal)
    assert reused.value.response["error"] == "exchanged_trigger_id"

    fake.trigger_ttl_s = 0.05
    late = fake.new_trigger_id()
    await asyncio.sleep(0.1)
    with pytest.raises(SlackApiError) as expired:
        await client.views_open(trigger_id=late, view=modal)
    assert expired.value.response["error"] == "expired_trigger_id"

    updated = await client.views_update(view_id=view["id"], hash=view["hash"], view={**modal, "callback_id": "v2"})
    assert updated["view"]["callback_id"] == "v2" and updated["view"]["hash"] != view["hash"]
    with pytest.raises(SlackApiError) as conflict:
        await client.views_update(view_id=view["id"], hash=view["hash"], view=modal)
    assert conflict.value.response["error"] == "hash_conflict"

    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}
    published = await client.views_publish(user_id="U0USER00001", view=home)
    assert published["view"]["type"] == "home" and fake.home_views["U0USER00001"].body == home


async def test_assistant_threads_and_generic_fallback(fake: FakeSlack, client: AsyncWebClient) -> None:
    key = ("D0DM0000001", "1700000000.000100")
    await client.assistant_threads_setStatus(channel_id=key[0], thread_ts=key[1], status="is thinking…")
    await client.assistant_threads_setStatus(channel_id=key[0], thread_ts=key[1], status="")
    prompts = [{"title": "Summarise", "message": "Summarise this channel"}]
    await client.assistant_threads_setSuggestedPrompts(channel_id=key[0], thread_ts=key[1], prompts=prompts)
    await client.assistant_threads_setTitle(channel_id=key[0], thread_ts=key[1], title="Maths")
    assert fake.assistant_status[key] == ["is thinking…", ""]
    assert fake.assistant_prompts[key] == prompts and fake.assistant_titles[key] == "Maths"

    # Methods the fake does not model answer ok and are still recorded.
    resp = await client.bookmarks_list(channel_id=CHANNEL)
    assert resp["ok"] is True and fake.calls_to("bookmarks.list") == [{"channel_id": CHANNEL}]


async def test_fail_next_surfaces_as_slack_api_error(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", error="channel_not_found")
    fake.fail_next("chat.update", error="fatal_error", status=500)
    with pytest.raises(SlackApiError) as failed:
        await client.chat_postMessage(channel=CHANNEL, text="hello")
    assert failed.value.response["error"] == "channel_not_found" and failed.value.response.status_code == 200
    ok = await client.chat_postMessage(channel=CHANNEL, text="hello")  # the fault was used up
    with pytest.raises(SlackApiError) as server_error:
        await client.chat_update(channel=CHANNEL, ts=ok["ts"], text="x")
    assert server_error.value.response.status_code == 500
    assert [c.ok for c in fake.api_calls_to("chat.postMessage")] == [False, True]
    assert len(fake.messages(CHANNEL)) == 1


async def test_rate_limit_is_retried_by_slack_sdk_handler(fake: FakeSlack) -> None:
    posted = await fake.client().chat_postMessage(channel=CHANNEL, text="v1")

    fake.rate_limit_next("chat.update", retry_after=1)
    plain = fake.client()
    with pytest.raises(SlackApiError) as limited:
        await plain.chat_update(channel=CHANNEL, ts=posted["ts"], text="v2")
    assert limited.value.response.status_code == 429 and limited.value.response["error"] == "ratelimited"
    assert limited.value.response.headers["Retry-After"] == "1"

    fake.rate_limit_next("chat.update", retry_after=1)
    retrying = fake.client(retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    started = time.monotonic()
    resp = await retrying.chat_update(channel=CHANNEL, ts=posted["ts"], text="v2")
    elapsed = time.monotonic() - started
    assert resp["ok"] and fake.message(CHANNEL, posted["ts"]).text == "v2"
    # The handler sleeps Retry-After + random [0, 1) seconds before the second attempt.
    attempts = fake.api_calls_to("chat.update")[-2:]
    assert [a.status for a in attempts] == [429, 200]
    assert 1.0 <= attempts[1].at - attempts[0].at < 2.5 and elapsed >= 1.0


async def test_sliding_window_rate_limit(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.set_rate_limit("chat.postMessage", 1, 1.0, scope="channel")
    await client.chat_postMessage(channel=CHANNEL, text="one")
    await client.chat_postMessage(channel="C0OTHER0001", text="other channel is fine")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=CHANNEL, text="two")
    assert limited.value.response.status_code == 429 and limited.value.response.headers["Retry-After"] == "1"


async def test_chat_stream_round_trip(fake: FakeSlack, client: AsyncWebClient) -> None:
    ws = fake.workspace()
    question = fake.add_message(CHANNEL, "tell me a story")
    streamer = await client.chat_stream(
        channel=CHANNEL,
        thread_ts=question.ts,
        recipient_team_id=ws.team_id,
        recipient_user_id="U0USER00001",
        buffer_size=10,
    )
    pieces = ["Once ", "upon a ", "time, ", "there was ", "a fake."]
    for piece in pieces:
        await streamer.append(markdown_text=piece)
    feedback = [{"type": "context", "elements": [{"type": "mrkdwn", "text": "was this useful?"}]}]
    stopped = await streamer.stop(blocks=feedback)

    methods = [c.method for c in fake.api_calls if c.method.startswith("chat.")]
    assert methods[0] == "chat.startStream" and methods[-1] == "chat.stopStream"
    assert set(methods[1:-1]) <= {"chat.appendStream"}
    start = fake.api_calls_to("chat.startStream")[0]
    assert start.content_type == "application/json"
    assert start.params["chunks"][0]["type"] == "markdown_text"  # slack-sdk sends chunks, not markdown_text
    assert start.params["recipient_user_id"] == "U0USER00001"

    ts = streamer.ts
    assert ts is not None and stopped["ts"] == ts and stopped["message"]["text"] == "".join(pieces)
    msg = fake.message(CHANNEL, ts)
    assert msg.thread_ts == question.ts and msg.stream_state == "completed" and msg.blocks == feedback
    assert fake.stream_text(CHANNEL, ts) == fake.thread_text(CHANNEL, question.ts) == "".join(pieces)
    assert [e.method for e in msg.edits][-1] == "chat.stopStream"

    with pytest.raises(SlackApiError) as done:
        await client.chat_appendStream(channel=CHANNEL, ts=ts, markdown_text="more")
    assert done.value.response["error"] == "message_not_in_streaming_state"


async def test_response_url_records_and_applies_posts(fake: FakeSlack, client: AsyncWebClient) -> None:
    url = fake.response_url(channel=CHANNEL, user="U0USER00001")
    hook = AsyncWebhookClient(url)
    assert (await hook.send(text="only you see this")).status_code == 200
    assert (await hook.send(text="everyone sees this", response_type="in_channel")).status_code == 200
    assert [p["text"] for p in fake.posts_to_response_url(url)] == ["only you see this", "everyone sees this"]
    assert fake.ephemerals[0].via == "response_url" and fake.ephemerals[0].user == "U0USER00001"
    assert [m.text for m in fake.bot_messages(CHANNEL)] == ["everyone sees this"]

    posted = await client.chat_postMessage(channel=CHANNEL, text="pick a model")
    replace = fake.response_url(channel=CHANNEL, user="U0USER00001", message_ts=posted["ts"])
    await AsyncWebhookClient(replace).send(text="picked gpt-4o", replace_original=True)
    assert fake.message(CHANNEL, posted["ts"]).text == "picked gpt-4o"
    assert (await AsyncWebhookClient(url).send_dict({})).status_code == 400  # no_text


# ------------------------------------------------------------------------------------- signed sender


async def test_sender_signatures_verify_with_slack_sdk() -> None:
    sender = SlackSender("http://127.0.0.1:9/unused", SECRET)
    verifier = SignatureVerifier(SECRET)
    body = json.dumps(sender.envelope(sender.app_mention("hi")))
    good = sender.signed_headers(body, "application/json")
    assert verifier.is_valid(body, good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"])
    assert good["X-Slack-Signature"] == sign(SECRET, body, good["X-Slack-Request-Timestamp"])
    bad = sender.signed_headers(body, "application/json", bad_signature=True)
    assert not verifier.is_valid(body, bad["X-Slack-Request-Timestamp"], bad["X-Slack-Signature"])
    stale = sender.signed_headers(body, "application/json", stale=True)
    assert not verifier.is_valid(body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"])
    assert verifier.is_valid_request(body, {k.lower(): v for k, v in good.items()})
    retry = sender.signed_headers(body, "application/json", retry_num=2, retry_reason="http_error")
    assert retry["X-Slack-Retry-Num"] == "2" and retry["X-Slack-Retry-Reason"] == "http_error"


def test_payload_shapes() -> None:
    sender = SlackSender("http://127.0.0.1:9/unused", SECRET, workspace=Workspace())
    env = sender.envelope(sender.message("hello", channel="D0DM0000001"))
    assert env["type"] == "event_callback" and env["event_id"].startswith("Ev") and env["api_app_id"]
    assert env["authorizations"][0]["user_id"] == sender.ws.bot_user_id
    assert env["event"]["channel_type"] == "im" and "bot_id" not in env["event"]
    mention = sender.app_mention("help", thread_ts="1700000000.000001")
    assert mention["text"] == f"<@{sender.ws.bot_user_id}> help" and mention["thread_ts"] == "1700000000.000001"
    assert mention["blocks"][0]["elements"][0]["elements"][0] == {
        "type": "user",
        "user_id": sender.ws.bot_user_id,
    }
    own = sender.message("bot says", bot_id=sender.ws.bot_id, user=sender.ws.bot_user_id)
    assert own["bot_id"] == sender.ws.bot_id and own["app_id"] == sender.ws.app_id
    changed = sender.message_changed("1700000000.000002", "new", old_text="old")
    assert changed["subtype"] == "message_changed" and changed["previous_message"]["text"] == "old"
    command = sender.slash_command("/ask", "gpt-4o hi")
    assert set(command) >= {
        "command",
        "text",
        "user_id",
        "channel_id",
        "team_id",
        "response_url",
        "trigger_id",
    }
    action = sender.block_actions("model", "gpt-4o", message_ts="1700000000.000003", thread_ts="1700000000.000001")
    assert action["container"]["thread_ts"] == "1700000000.000001"
    assert action["actions"][0]["selected_option"]["value"] == "gpt-4o"
    assert sender.block_suggestion("model", "gp")["value"] == "gp"
    shortcut = sender.message_action("summarise", message_ts="1700000000.000003")
    assert shortcut["message"]["ts"] == "1700000000.000003" and shortcut["callback_id"] == "summarise"
    started = sender.assistant_thread_started(context_channel=CHANNEL)
    assert started["assistant_thread"]["context"]["channel_id"] == CHANNEL


async def test_files_are_served_only_with_a_bearer_token_that_may_see_them(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    ws = fake.workspace()
    other = fake.add_workspace(token="xoxb-other", team_id="T0000000009")
    unscoped = fake.add_workspace(token="xoxb-unscoped", team_id=ws.team_id, scopes="chat:write")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 40
    f = fake.upload(png, "screen shot.png")
    sender = SlackSender("http://127.0.0.1:9/unused", SECRET, fake=fake)
    event = sender.message("what is this?", thread_ts="1700000000.000001", files=[f])
    assert event["subtype"] == "file_share" and event["upload"] is True and event["text"] == "what is this?"
    (obj,) = event["files"]
    described = [obj[k] for k in ("id", "name", "mimetype", "filetype", "size")]
    assert described == [f.id, "screen shot.png", "image/png", "png", len(png)]
    assert obj["url_private_download"] == f"{fake.url}/files-pri/{ws.team_id}-{f.id}/download/screen%20shot.png"
    only_files = sender.message("", files=[f])
    assert only_files["text"] == "" and "blocks" not in only_files and only_files["subtype"] == "file_share"
    assert sender.app_mention("", files=[f])["files"][0]["id"] == f.id
    replies = await client.conversations_replies(channel=CHANNEL, ts=event["ts"])
    assert [m["files"][0]["id"] for m in replies["messages"] if "files" in m] == [f.id]

    async with httpx.AsyncClient() as http:
        ok = await http.get(obj["url_private_download"], headers={"Authorization": f"Bearer {ws.token}"})
        assert ok.status_code == 200 and ok.content == png and ok.headers["content-type"] == "image/png"
        assert "attachment" in ok.headers["content-disposition"]
        assert (await http.get(obj["url_private"], headers={"Authorization": f"Bearer {ws.token}"})).content == png
        for token in (None, "xoxb-nope", other.token, unscoped.token):  # Slack sends them to its sign-in page
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            refused = await http.get(obj["url_private"], headers=headers)
            assert refused.status_code == 302 and "?redir=%2Ffiles-pri%2F" in refused.headers["location"]
            page = await http.get(obj["url_private"], headers=headers, follow_redirects=True)
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert b"Sign in" in page.content and png not in page.content
        assert [status for status, _ in fake.downloads(f.id)] == [200, 200, 302, 302, 302, 302, 302, 302, 302, 302]

        info = await client.files_info(file=f.id)
        assert info["file"]["url_private"] == obj["url_private"] and info["file"]["size"] == len(png)
        with pytest.raises(SlackApiError) as scope:
            await AsyncWebClient(token=unscoped.token, base_url=fake.api_url).files_info(file=f.id)
        assert scope.value.response["error"] == "missing_scope" and scope.value.response["needed"] == "files:read"
        fake.delete_file(f.id)
        gone = await http.get(obj["url_private"], headers={"Authorization": f"Bearer {ws.token}"})
        assert gone.status_code == 404 and png not in gone.content
        with pytest.raises(SlackApiError) as deleted:
            await client.files_info(file=f.id)
        assert deleted.value.response["error"] == "file_deleted"
        assert sender.message("", files=[f])["files"] == [{"id": f.id, "mode": "tombstone"}]

    shared = fake.upload(b"a,b\n1,2\n", "data.csv", team_id=other.team_id, connect=True)  # from another org
    (stub,) = sender.message("", files=[shared])["files"]
    assert stub["file_access"] == "check_file_info" and "url_private" not in stub
    full = (await client.files_info(file=shared.id))["file"]
    assert full["mimetype"] == "text/csv" and full["filetype"] == "csv"
    async with httpx.AsyncClient() as http:
        got = await http.get(full["url_private_download"], headers={"Authorization": f"Bearer {ws.token}"})
    assert got.content == b"a,b\n1,2\n"


# ------------------------------------------------------------------------------ real bolt over HTTP


@pytest.fixture
async def bolt(fake: FakeSlack) -> AsyncIterator[tuple[AsyncApp, SlackSender, list[dict[str, Any]]]]:
    """A bolt AsyncApp in production HTTP mode: ASGI handler under uvicorn, client pointed at the fake."""
    seen: list[dict[str, Any]] = []
    app = AsyncApp(signing_secret=SECRET, client=fake.client())

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        seen.append(event)
        await say(text=f"echo: {event['text']}", thread_ts=event.get("thread_ts") or event["ts"])

    with AsgiServer(AsyncSlackRequestHandler(app)) as server:
        yield app, SlackSender(f"{server.url}/slack/events", SECRET, fake=fake), seen


async def test_bolt_answers_signed_app_mention(fake: FakeSlack, bolt: Any) -> None:
    _, sender, seen = bolt
    event = sender.app_mention("hello there")
    resp = await sender.send_event(event)
    assert resp.status == 200 and resp.text == ""
    posts = await wait_for(lambda: fake.calls_to("chat.postMessage"))
    assert posts[0]["channel"] == CHANNEL and posts[0]["thread_ts"] == event["ts"]
    assert posts[0]["text"] == f"echo: <@{fake.workspace().bot_user_id}> hello there"
    # The user's message and the bot's reply form one thread in the fake.
    assert fake.thread_text(CHANNEL, event["ts"]) == posts[0]["text"]
    # Bolt called auth.test lazily on the first request, once; it caches the result.
    await sender.send_event(sender.app_mention("again"))
    await wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 2)
    assert len(fake.calls_to("auth.test")) == 1 and len(seen) == 2


async def test_bolt_rejects_bad_and_stale_signatures(fake: FakeSlack, bolt: Any) -> None:
    _, sender, seen = bolt
    bad = await sender.send_event(sender.app_mention("x"), bad_signature=True)
    stale = await sender.send_event(sender.app_mention("x"), stale=True)
    assert (bad.status, stale.status) == (401, 401) and bad.json() == {"error": "invalid request"}
    challenge = await sender.send_envelope(sender.url_verification("c-123"))
    assert challenge.status == 200 and challenge.json() == {"challenge": "c-123"}
    await asyncio.sleep(0.1)
    assert seen == [] and fake.calls_to("auth.test") == []


async def test_bolt_does_not_dedupe_retries(fake: FakeSlack, bolt: Any) -> None:
    _, sender, seen = bolt
    envelope = sender.envelope(sender.app_mention("once please"))
    await sender.send_envelope(envelope)
    retry = await sender.send_envelope(envelope, retry_num=1, retry_reason="http_timeout")
    assert retry.status == 200
    await wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 2)
    assert len(seen) == 2  # the app itself must drop retries (same event_id / X-Slack-Retry-Num)


async def test_bolt_ignores_its_own_bot_messages(fake: FakeSlack) -> None:
    app = AsyncApp(signing_secret=SECRET, client=fake.client())
    got: list[dict[str, Any]] = []

    @app.event("message")
    async def on_message(event: dict[str, Any]) -> None:
        got.append(event)

    with AsgiServer(AsyncSlackRequestHandler(app)) as server:
        sender = SlackSender(f"{server.url}/slack/events", SECRET, fake=fake)
        ws = sender.ws
        await sender.send_event(sender.message("from the bot", bot_id=ws.bot_id, user=ws.bot_user_id))
        await sender.send_event(sender.message("dm from a person", channel="D0DM0000001"))
        typo = sender.message("typo")
        await sender.send_event(typo)
        edited = await sender.send_event(sender.message_changed(typo["ts"], "fixed"))
        assert edited.status == 200
        await wait_for(lambda: len(got) == 3)
    texts = [e.get("text") or e["message"]["text"] for e in got]
    assert texts == ["dm from a person", "typo", "fixed"] and got[0]["channel_type"] == "im"


async def test_bolt_commands_and_interactivity(fake: FakeSlack) -> None:
    app = AsyncApp(signing_secret=SECRET, client=fake.client())
    chosen: list[str] = []

    @app.command("/ask")
    async def ask(ack: Any, respond: Any, command: dict[str, str]) -> None:
        await ack()
        await respond(f"asking: {command['text']}")

    @app.action("model")
    async def pick(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        chosen.append(f"{action['selected_option']['value']}@{body['container']['thread_ts']}")

    @app.options("model")
    async def options(ack: Any, payload: dict[str, Any]) -> None:
        names = [m for m in ("gpt-4o", "gpt-4o-mini", "llama3") if m.startswith(payload["value"])]
        await ack(options=[{"text": {"type": "plain_text", "text": n}, "value": n} for n in names])

    @app.shortcut("summarise")
    async def summarise(ack: Any, shortcut: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(
            trigger_id=shortcut["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "confirm",
                "title": {"type": "plain_text", "text": "Summary"},
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": shortcut["message"]["text"]}}],
            },
        )

    @app.view("confirm")
    async def submitted(ack: Any, view: dict[str, Any]) -> None:
        note = view["state"]["values"]["b1"]["note"]["value"]
        await ack(response_action="errors", errors={"b1": f"rejected {note}"})

    with AsgiServer(AsyncSlackRequestHandler(app)) as server:
        sender = SlackSender(f"{server.url}/slack/events", SECRET, fake=fake)
        command = sender.slash_command("/ask", "what is up")
        assert (await sender.send_command(command)).status == 200
        await wait_for(lambda: fake.posts_to_response_url(command["response_url"]))
        assert fake.posts_to_response_url(command["response_url"])[0]["text"] == "asking: what is up"

        root = fake.add_message(CHANNEL, "question")
        menu = await fake.client().chat_postMessage(
            channel=CHANNEL,
            thread_ts=root.ts,
            text="pick",
            blocks=[
                {
                    "type": "actions",
                    "block_id": "pick",
                    "elements": [{"type": "external_select", "action_id": "model"}],
                }
            ],
        )
        action = sender.block_actions("model", "llama3", element_type="external_select", message_ts=menu["ts"])
        assert action["actions"][0]["block_id"] == "pick" and action["message"]["blocks"]
        assert (await sender.send_interaction(action)).status == 200
        await wait_for(lambda: chosen)
        assert chosen == [f"llama3@{root.ts}"]

        suggestions = await sender.send_interaction(sender.block_suggestion("model", "gpt", message_ts=menu["ts"]))
        assert [o["value"] for o in suggestions.json()["options"]] == ["gpt-4o", "gpt-4o-mini"]

        shortcut = sender.message_action("summarise", message_ts=root.ts)
        assert (await sender.send_interaction(shortcut)).status == 200
        await wait_for(lambda: fake.views)
        view = next(iter(fake.views.values()))
        assert view.body["blocks"][0]["text"]["text"] == "question"

        values = {"b1": {"note": {"type": "plain_text_input", "value": "meh"}}}
        answer = await sender.send_interaction(sender.view_submission(values, view_id=view.id))
        assert answer.json() == {"response_action": "errors", "errors": {"b1": "rejected meh"}}


async def test_bolt_assistant_thread_started(fake: FakeSlack) -> None:
    app = AsyncApp(signing_secret=SECRET, client=fake.client())

    @app.event("assistant_thread_started")
    async def started(set_suggested_prompts: Any, set_status: Any) -> None:
        await set_suggested_prompts(prompts=[{"title": "Hi", "message": "Say hi"}])

    with AsgiServer(AsyncSlackRequestHandler(app)) as server:
        sender = SlackSender(f"{server.url}/slack/events", SECRET, fake=fake)
        event = sender.assistant_thread_started(context_channel=CHANNEL)
        assert (await sender.send_event(event)).status == 200
        key = ("D0DM0000001", event["assistant_thread"]["thread_ts"])
        await wait_for(lambda: key in fake.assistant_prompts)
    assert fake.assistant_prompts[key] == [{"title": "Hi", "message": "Say hi"}]


@pytest.mark.parametrize("before_response", [False, True])
async def test_bolt_process_before_response(fake: FakeSlack, before_response: bool) -> None:
    """Default: bolt acks at once and runs the listener afterwards; True: the HTTP response waits for it."""
    app = AsyncApp(signing_secret=SECRET, client=fake.client(), process_before_response=before_response)

    @app.event("app_mention")
    async def slow(event: dict[str, Any], say: Any) -> None:
        await asyncio.sleep(0.4)
        await say(text="done", thread_ts=event["ts"])

    with AsgiServer(AsyncSlackRequestHandler(app)) as server:
        sender = SlackSender(f"{server.url}/slack/events", SECRET, fake=fake)
        resp = await sender.send_event(sender.app_mention("slow"))
        posted_before_ack = bool(fake.calls_to("chat.postMessage"))
        await wait_for(lambda: fake.calls_to("chat.postMessage"))
    assert resp.status == 200
    assert posted_before_ack is before_response
    assert (resp.elapsed >= 0.4) is before_response


async def test_bolt_request_verification_disabled_and_bad_token(fake: FakeSlack) -> None:
    async def noop(ack: Any) -> None:
        await ack()

    unverified = AsyncApp(signing_secret=SECRET, client=fake.client(), request_verification_enabled=False)
    unverified.event("app_mention")(noop)
    unknown_token = AsyncWebClient(token="xoxb-unknown", base_url=fake.api_url)
    unauthorized = AsyncApp(signing_secret=SECRET, client=unknown_token)
    unauthorized.event("app_mention")(noop)
    with (
        AsgiServer(AsyncSlackRequestHandler(unverified)) as a,
        AsgiServer(AsyncSlackRequestHandler(unauthorized)) as b,
    ):
        lax = SlackSender(f"{a.url}/slack/events", SECRET, fake=fake)
        assert (await lax.send_event(lax.app_mention("x"), bad_signature=True)).status == 200
        strict = SlackSender(f"{b.url}/slack/events", SECRET, fake=fake)
        resp = await strict.send_event(strict.app_mention("x"))
    # auth.test -> invalid_auth: bolt answers 200 with a user-facing apology instead of running listeners.
    assert resp.status == 200 and "no longer available" in resp.text
    assert [c.response["error"] for c in fake.api_calls_to("auth.test") if c.response and not c.ok] == ["invalid_auth"]


def test_sync_bolt_app_verifies_token_at_startup(fake: FakeSlack) -> None:
    """Only the sync `App` has token_verification_enabled: it calls auth.test in its constructor."""
    from slack_bolt import App
    from slack_bolt.error import BoltError
    from slack_sdk import WebClient

    App(signing_secret=SECRET, client=WebClient(token=fake.workspace().token, base_url=fake.api_url))
    assert len(fake.calls_to("auth.test")) == 1
    with pytest.raises(BoltError):
        App(signing_secret=SECRET, client=WebClient(token="xoxb-bad", base_url=fake.api_url))
    App(
        signing_secret=SECRET,
        client=WebClient(token="xoxb-bad", base_url=fake.api_url),
        token_verification_enabled=False,
    )
    assert len(fake.calls_to("auth.test")) == 2


async def test_bolt_builtin_aiohttp_server_also_works(fake: FakeSlack) -> None:
    """`AsyncApp.web_app()` (what `app.start()` serves; bolt calls it a dev server) over aiohttp."""
    from aiohttp import web

    app = AsyncApp(signing_secret=SECRET, client=fake.client())

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text="via aiohttp", thread_ts=event["ts"])

    runner = web.AppRunner(app.web_app(path="/slack/events", port=0))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET, fake=fake)
        assert (await sender.send_event(sender.app_mention("hi"))).status == 200
        assert (await sender.send_event(sender.app_mention("hi"), stale=True)).status == 401
        await wait_for(lambda: fake.calls_to("chat.postMessage"))
    finally:
        await runner.cleanup()
