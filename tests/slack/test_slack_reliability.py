"""What Slack and operators count on: signatures, long replies, rate limits, and workspaces kept apart."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot.slack.render import MESSAGE_LIMIT
from core.settings import get_settings
from core.storage.db import get_engine, session
from core.storage.tables import Conversation, ScopeSetting, Secret
from core.threads import conversations
from tests.chatkit import World
from tests.fakes.openai import Reply
from tests.fakes.slack import FakeSlack, Workspace
from tests.slackkit import CHANNEL, Bot, FakeSlackOAuth, footer_of, install, serve, stored, wait_for

NO_AI_SCOPES = "app_mentions:read,channels:history,chat:write,commands,im:history,users:read"


def nothing_stored() -> bool:
    with session() as s:
        return not s.exec(select(Conversation)).all() and not s.exec(select(ScopeSetting)).all()


async def test_a_bad_signature_gets_401_and_nothing_is_stored(world: World, bot: Bot) -> None:
    mention = await bot.ada.send_event(bot.ada.app_mention("do something"), bad_signature=True)
    command = await bot.ada.send_command(bot.ada.slash_command("/model", "llama-small"), bad_signature=True)
    click = await bot.ada.send_interaction(bot.ada.block_actions("sb_thread_model", "x"), bad_signature=True)
    assert (mention.status, command.status, click.status) == (401, 401, 401)
    await asyncio.sleep(0.3)
    assert stored() == [] and nothing_stored() and bot.fake.api_calls == [] and world.local.chat_count == 0


async def test_a_stale_timestamp_gets_401(world: World, bot: Bot) -> None:
    replayed = await bot.ada.send_event(bot.ada.app_mention("an old request"), stale=True)
    assert replayed.status == 401
    await asyncio.sleep(0.3)
    assert stored() == [] and bot.fake.api_calls == [] and world.local.chat_count == 0


async def test_a_long_reply_is_split_into_thread_messages_without_breaking_code(
    world: World, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 27,000 characters: ~3,200 words as the fake streams them (one token each), ~6,600 tokens by a real
    # tokenizer: within a 4,096-token output limit either way (the core holds a reply to at most twice its limit)
    monkeypatch.setenv("SWITCHBOARD_MAX_OUTPUT_TOKENS", "4096")
    get_settings.cache_clear()
    prose = [f"Paragraph {i}. " + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 25 for i in range(14)]
    code = "```python\n" + "\n".join(f"value_{i}=compute({i})*2  #step_{i}" for i in range(200)) + "\n```"
    answer = "\n\n".join([*prose[:5], code, *prose[5:]])
    assert len(answer) > 2 * MESSAGE_LIMIT
    world.local.script("llama-big", Reply(text=answer))
    event = await bot.mention("write me something long")
    messages = await bot.finished(event["ts"])
    assert len(messages) == 3 and all(m.thread_ts == event["ts"] for m in messages)
    assert all(len(m.text) <= MESSAGE_LIMIT for m in messages)
    assert all(m.text.count("```") % 2 == 0 for m in messages)  # each message renders its code on its own
    assert [bool(footer_of(m)) for m in messages] == [False, False, True]
    squeeze = re.compile(r"\s+|```(python)?")
    assert squeeze.sub("", "".join(m.text for m in messages)) == squeeze.sub("", answer)


async def test_slack_rate_limits_are_retried_after_retry_after(world: World) -> None:
    world.local.script("llama-big", Reply(text=" ".join(f"w{i}" for i in range(30)), token_delay_s=0.08))
    with FakeSlack([Workspace(scopes=NO_AI_SCOPES)]) as fake:
        fake.rate_limit_next("chat.update", retry_after=1)
        async with serve(fake) as bot:
            event = await bot.mention("go")
            (reply,) = await bot.finished(event["ts"])
    first, second = fake.api_calls_to("chat.update")[:2]
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0  # Retry-After: 1, honoured
    assert reply.text == " ".join(f"w{i}" for i in range(30)) and footer_of(reply)
    assert min(fake.update_intervals(CHANNEL, reply.ts)) >= 1.0


async def test_nothing_done_in_one_workspace_reads_or_changes_another(any_db: str, world: World) -> None:
    alpha = Workspace()
    beta = Workspace(token="xoxb-beta-0002", team_id="T0000000002", team="Beta", domain="beta", bot_user_id="UB2")
    with FakeSlack([alpha, beta]) as fake:
        async with serve(fake, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="client-secret-0001") as bot:
            for ws in (alpha, beta):
                install("111.222", ws)
            bob = bot.person("U0BOB000001", "bob", workspace=beta)
            await bot.command("/model", "llama-small")  # ada, in alpha
            world.local.script("llama-small", Reply(text="The launch is on Tuesday."))
            secret = await bot.mention("remember: the launch is on Tuesday")
            await bot.finished(secret["ts"])

            # beta, using alpha's channel and thread ids: no mention -> not a conversation there, ignored
            await bot.say("what is alpha's launch date?", by=bob, thread_ts=secret["ts"])
            # beta's own conversation in "the same" thread: none of alpha's turns, none of alpha's defaults
            await bot.mention("what did the others say?", by=bob, thread_ts=secret["ts"])
            replies = await bot.finished(secret["ts"], count=2)
            picker = await bot.command("/model", by=bob)
            (answer,) = await wait_for(lambda: fake.posts_to_response_url(picker["response_url"]))

    assert footer_of(replies[-1]).startswith("local/llama-big · ")  # not alpha's llama-small default
    seen_by_beta = [m["content"] for m in world.local.chat_calls("llama-big")[-1]["messages"]]
    assert not any("Tuesday" in c for c in seen_by_beta)
    assert "New threads here use *local/llama-big*" in answer["text"]
    a = conversations.find_conversation("slack", alpha.team_id, CHANNEL, secret["ts"])
    b = conversations.find_conversation("slack", beta.team_id, CHANNEL, secret["ts"])
    assert a is not None and b is not None and a.id != b.id
    assert [(t.role, t.content) for t in conversations.history(a.id)] == [
        ("user", "remember: the launch is on Tuesday"),
        ("assistant", "The launch is on Tuesday."),
    ]
    # each workspace was answered with its own bot token
    posters = {c.token for c in fake.api_calls if c.method in ("chat.postMessage", "chat.startStream")}
    assert posters == {alpha.token, beta.token}


async def test_oauth_install_keeps_tokens_encrypted_and_out_of_bolts_tables(any_db: str, world: World) -> None:
    newcomer = Workspace(
        token="xoxb-newcomer-token-0009", team_id="T0000000009", team="Newco", domain="newco", bot_user_id="UB9"
    )
    with FakeSlackOAuth() as fake:
        fake.grant("install-code-1", newcomer)
        async with serve(fake, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="client-secret-0001") as bot:
            base = bot.url.removesuffix("/slack/events")
            async with httpx.AsyncClient(base_url=base) as http:
                page = await http.get("/slack/install")
                match = re.search(r"state=([\w-]+)", page.text)
                assert page.status_code == 200 and match is not None
                # the browser keeps the state cookie (marked Secure: a real install runs over https)
                cookie = page.headers["set-cookie"].split(";")[0]
                done = await http.get(
                    "/slack/oauth_redirect",
                    params={"code": "install-code-1", "state": match[1]},
                    headers={"cookie": cookie},
                )
            assert done.status_code == 200, done.text
            carol = bot.person("U0CAROL0001", "carol", workspace=newcomer)
            event = await bot.mention("hello from the new workspace", by=carol)
            (reply,) = await bot.finished(event["ts"])
            health = httpx.get(f"{base}/healthz")

            assert reply.text == "echo: hello from the new workspace" and health.text == "ok"
            posters = {c.token for c in fake.api_calls if c.method in ("chat.postMessage", "chat.startStream")}
            assert posters == {newcomer.token}
            rows = installation_rows()
            assert rows and all(r["bot_token"].startswith("secret:") for r in rows)
            assert not any(newcomer.token in str(v) for r in rows for v in r.values())
            assert secret_names() and not any(newcomer.token in c for c in ciphertexts())

            # uninstalling removes the installation and its tokens
            gone = await carol.send_event({"type": "app_uninstalled", "event_ts": "1700000000.000001"})
            assert gone.status == 200
            await wait_for(lambda: not installation_rows(), what="the installation to be removed")
            assert not [n for n in secret_names() if n.startswith("slack:")]


def installation_rows() -> list[dict[str, object]]:
    with get_engine().connect() as conn:
        return [
            dict(r._mapping)
            for t in ("slack_bots", "slack_installations")
            for r in conn.execute(sa.text(f"SELECT * FROM {t}"))
        ]


def secret_names() -> list[str]:
    with session() as s:
        return [row.username for row in s.exec(select(Secret)).all()]


def ciphertexts() -> list[str]:
    with session() as s:
        return [row.ciphertext for row in s.exec(select(Secret)).all()]
