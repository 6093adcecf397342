"""Tools in threads, through `core.chat.handle`: the real litellm against the loopback fake OpenAI (which streams tool
calls as OpenAI does), the real MCP SDK against the loopback MCP server (tests/fakes/mcp_server.py) over stdio,
real SQLite. Each test asserts on what the thread shows and what was stored and charged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from core.budgets import ledger
from core.budgets.store import add_budget
from core.chat import handle
from core.config.chains import save_chain
from core.reports.performance import request_detail, request_log
from core.settings import get_settings
from core.snapshot import invalidate
from core.storage.db import session
from core.storage.tables import Message
from core.threads.recovery import recover_stale_replies
from core.tools import client, health, servers
from core.types import ToolActivity
from tests.chatkit import Said, Thread, World
from tests.fakes.openai import Reply as Say
from tests.fakes.openai import ServerError, ToolCall
from tests.mcpkit import HttpMcp, alive, stdio_command
from tests.toolskit import BIG, CLOSE, LOOKUP, SLOW, add_tickets, closed, tool_world


@pytest.fixture
async def world():  # type: ignore[no-untyped-def]
    async with tool_world("gpt-4o", "gpt-4o-mini", ttft_s=0.0) as made:
        yield made


@pytest.fixture
def closed_log(tmp_path: Path) -> Path:
    return tmp_path / "closed.jsonl"


async def tickets_thread(
    log: Path, monkeypatch: pytest.MonkeyPatch | None = None, *, consent: tuple[str, ...] = (), **env: str
) -> Thread:
    """Settings from `env` (SWITCHBOARD_...), the fake helpdesk registered, and a thread on oa/gpt-4o."""
    for key, value in env.items():
        assert monkeypatch is not None
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    await add_tickets(log, consent=consent)
    thread = Thread()
    await on_gpt4o(thread)
    return thread


async def on_gpt4o(thread: Thread) -> None:
    said = await thread.say("!model gpt-4o")
    assert "oa/gpt-4o" in said.text


def activities(said: Said) -> list[ToolActivity]:
    return [e for e in said.events if isinstance(e, ToolActivity)]


def rows(role: str) -> list[Message]:
    with session() as s:
        return list(s.exec(select(Message).where(Message.role == role).order_by(col(Message.id))).all())


def tool_messages(body: dict) -> list[dict]:  # type: ignore[type-arg]
    return [m for m in body["messages"] if m.get("role") == "tool"]


async def test_a_question_that_needs_a_tool_runs_it_in_the_thread_and_answers_with_its_result(
    any_db: str, world: World, closed_log: Path
) -> None:
    thread = await tickets_thread(closed_log)
    world.cloud.script(
        "gpt-4o",
        Say(text="Let me look.", tool_calls=(ToolCall(LOOKUP, {"ticket_id": "T-1"}),)),
        Say(text="T-1 is about a printer; dana owns it."),
    )
    said = await thread.say("who owns ticket T-1?")

    first, second = world.cloud.chat_calls("gpt-4o")[-2:]
    offered = {t["function"]["name"] for t in first["tools"]}
    assert {LOOKUP, CLOSE, SLOW} <= offered
    result = tool_messages(second)
    assert len(result) == 1 and result[0]["content"].startswith("Ticket T-1: ")  # the MCP server's real answer
    assert "owner" in result[0]["content"]
    assert second["messages"][-2]["tool_calls"][0]["function"] == {"name": LOOKUP, "arguments": '{"ticket_id": "T-1"}'}

    running, ended = activities(said)
    assert (running.tool, running.state, running.args) == ("lookup_ticket", "running", 'ticket_id: "T-1"')
    assert ended.call_id == running.call_id and ended.state == "ok" and ended.seconds is not None
    assert said.streamed.endswith("T-1 is about a printer; dana owns it.")
    assert "oa/gpt-4o" in said.footer and "1 tool round" in said.footer and "s in tools" in said.footer

    (tool_row,) = rows("tool")
    reply = rows("assistant")[-1]
    assert tool_row.parent_id == reply.id and tool_row.model == "oa/gpt-4o" and tool_row.cost_usd
    (call,) = tool_row.tool_calls or []
    assert call["status"] == "ok" and call["tool"] == "lookup_ticket" and call["result"].startswith("Ticket T-1")
    assert reply.tool_rounds == 1 and reply.tool_ms and reply.content == "T-1 is about a printer; dana owns it."
    # the footer adds up both model calls; each row keeps its own
    assert said.done is not None
    total = said.done.result.cost_usd
    assert total == pytest.approx((tool_row.cost_usd or 0) + (reply.cost_usd or 0))

    # a later turn is given the earlier tool call as a note, readable by any model
    world.cloud.script("gpt-4o", Say(text="Yes."))
    await thread.say("and is it still open?")
    later = world.cloud.chat_calls("gpt-4o")[-1]
    assistant = [m for m in later["messages"] if m["role"] == "assistant"][-1]
    assert "tickets.lookup_ticket" in assistant["content"] and "Ticket T-1" in assistant["content"]


async def test_a_tool_that_needs_consent_asks_first_and_runs_only_when_allowed(
    any_db: str, world: World, closed_log: Path
) -> None:
    thread = await tickets_thread(closed_log, consent=("close_ticket",))
    world.cloud.script(
        "gpt-4o",
        Say(tool_calls=(ToolCall(CLOSE, {"ticket_id": "T-7", "note": "fixed"}),)),
        Say(text="Closed T-7 for you."),
    )
    asked = await thread.say("close T-7 please")
    (question,) = [r for r in asked.replies if r.kind == "confirm"]
    assert "tickets.close_ticket" in question.text and 'ticket_id: "T-7"' in question.text
    assert [c.command for c in question.choices] == ["!confirm", "!confirm always", "!cancel"]
    assert activities(asked) == []  # the question names the call; its line comes when it runs
    assert closed(closed_log) == []  # not run
    assert len(world.cloud.chat_calls("gpt-4o")) == 1

    given = await thread.say("!confirm")
    assert [a.state for a in activities(given)] == ["running", "ok"]
    assert closed(closed_log) == [{"closed": "T-7", "note": "fixed"}]
    assert given.streamed == "Closed T-7 for you." and "1 tool round" in given.footer
    assert tool_messages(world.cloud.chat_calls("gpt-4o")[-1])[0]["content"] == "Closed T-7"
    reply = rows("assistant")[-1]
    assert reply.status == "ok" and reply.content == "Closed T-7 for you."

    # "Always in this thread": asked once, then remembered for the thread
    world.cloud.script(
        "gpt-4o",
        Say(tool_calls=(ToolCall(CLOSE, {"ticket_id": "T-8"}),)),
        Say(text="Closed T-8."),
        Say(tool_calls=(ToolCall(CLOSE, {"ticket_id": "T-9"}),)),
        Say(text="Closed T-9."),
    )
    again = await thread.say("close T-8")
    assert any(r.kind == "confirm" for r in again.replies)
    always = await thread.say("!confirm always")
    assert always.streamed == "Closed T-8."
    third = await thread.say("close T-9")
    assert not any(r.kind == "confirm" for r in third.replies) and third.streamed == "Closed T-9."
    assert [c["closed"] for c in closed(closed_log)] == ["T-7", "T-8", "T-9"]
    tools_listing = await thread.say("!tools")
    assert "allowed in this thread" in tools_listing.text


async def test_a_refused_tool_never_runs_and_the_model_is_told(world: World, closed_log: Path) -> None:
    thread = await tickets_thread(closed_log, consent=("close_ticket",))
    world.cloud.script(
        "gpt-4o",
        Say(tool_calls=(ToolCall(CLOSE, {"ticket_id": "T-2"}),)),
        Say(text="OK, I left T-2 open."),
    )
    await thread.say("close T-2")
    refused = await thread.say("!cancel")
    assert [a.state for a in activities(refused)] == ["declined"]
    assert refused.streamed == "OK, I left T-2 open."
    assert closed(closed_log) == []
    told = tool_messages(world.cloud.chat_calls("gpt-4o")[-1])
    assert "declined" in told[0]["content"]
    (tool_row,) = rows("tool")
    assert (tool_row.tool_calls or [])[0]["status"] == "declined"


async def test_a_tool_that_takes_too_long_is_stopped_and_the_model_goes_on(
    world: World, closed_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = await tickets_thread(closed_log, monkeypatch, SWITCHBOARD_TOOL_TIMEOUT_SECONDS="0.5")
    world.cloud.script(
        "gpt-4o",
        Say(tool_calls=(ToolCall(SLOW, {"seconds": 30}),)),
        Say(text="The tool was too slow; try later."),
    )
    said = await thread.say("run the slow thing")
    ended = activities(said)[-1]
    assert ended.state == "timeout" and "0.5 s" in ended.detail
    assert ended.seconds is not None and ended.seconds < 10
    assert "did not answer within 0.5 s" in tool_messages(world.cloud.chat_calls("gpt-4o")[-1])[0]["content"]
    assert said.streamed == "The tool was too slow; try later."


async def test_a_server_that_is_down_is_skipped_and_the_thread_is_told(world: World, tmp_path: Path) -> None:
    dead = f"{sys.executable} -c \"import sys; sys.exit('no database')\""
    await asyncio.to_thread(servers.add_server, "tickets", command=dead)
    checked = await health.check("tickets")
    assert checked.last_check_ok is False
    invalidate()
    thread = Thread()
    await on_gpt4o(thread)
    world.cloud.script("gpt-4o", Say(text="I can answer without tools."))
    said = await thread.say("who owns T-1?")
    assert any("`tickets` are unavailable" in n and "down" in n for n in said.notices)
    assert "tools" not in world.cloud.chat_calls("gpt-4o")[-1]  # nothing offered from a dead server
    assert said.streamed == "I can answer without tools."
    listing = await thread.say("!tools")
    assert "tickets" in listing.text and "is down" in listing.text


async def test_a_model_that_cannot_call_tools_is_not_offered_them_and_the_thread_learns_which_can(
    world: World, closed_log: Path
) -> None:
    await add_tickets(closed_log)
    thread = Thread()
    said = await thread.say("hello")  # a new thread starts on the free local model, which cannot call tools
    assert "local/llama-big" in said.footer
    (note,) = [n for n in said.notices if "cannot call tools" in n]
    assert "oa/gpt-4o" in note
    assert "tools" not in world.local.chat_calls("llama-big")[-1]
    again = await thread.say("hello again")
    assert not [n for n in again.notices if "cannot call tools" in n]  # said once


async def test_the_round_limit_stops_a_model_that_keeps_calling_tools(
    world: World, closed_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = await tickets_thread(closed_log, monkeypatch, SWITCHBOARD_TOOL_MAX_ROUNDS="3")
    again = Say(tool_calls=(ToolCall(LOOKUP, {"ticket_id": "T-1"}),))
    world.cloud.set_default(again, model="gpt-4o")  # a model that would call tools for ever
    said = await thread.say("dig into T-1")
    calls = world.cloud.chat_calls("gpt-4o")[-3:]
    assert [c.get("tool_choice") for c in calls] == ["auto", "auto", "none"]
    assert len([a for a in activities(said) if a.state == "ok"]) == 2
    assert any("after 2 rounds" in n and "SWITCHBOARD_TOOL_MAX_ROUNDS" in n for n in said.notices)
    assert "2 tool rounds" in said.footer
    assert len(rows("tool")) == 2


async def test_a_budget_that_runs_out_between_rounds_stops_the_reply_and_charges_what_was_spent(
    any_db: str, world: World, closed_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = await tickets_thread(
        closed_log, monkeypatch, SWITCHBOARD_MAX_OUTPUT_TOKENS="200", SWITCHBOARD_CONFIRM_OVER_USD="1000"
    )
    budget = await asyncio.to_thread(add_budget, "global", "day", 0.004)  # one round's reservation, not two
    invalidate()
    world.cloud.script(
        "gpt-4o",
        Say(tool_calls=(ToolCall(BIG, {"chars": 6000}),)),
        Say(text="never sent"),
    )
    said = await thread.say("get me the big one")
    assert len(world.cloud.chat_calls("gpt-4o")) == 1  # the second round was never called
    assert any("not sent back to a model" in n and "budget" in n.lower() for n in said.notices)
    assert "No answer: the model could not be asked again" in said.streamed
    reply = rows("assistant")[-1]
    (tool_row,) = rows("tool")
    assert reply.status == "partial" and reply.tool_rounds == 1
    state = ledger.current([budget], tz="UTC")[budget.id]
    assert state.reserved == 0  # nothing held for the round that was never called
    assert state.spent == round((tool_row.cost_usd or 0) * 1_000_000)  # the first round, charged and stored


def test_the_shown_arguments_never_carry_a_secret() -> None:
    from core.logs import register_secret
    from core.tools.shown import summary

    register_secret("my-s3cret-val")  # a secret this process has read (core.secrets registers each one)
    shown = summary(
        json.dumps({"query": "refunds", "api_key": "abc123", "header": "Bearer abcdefghijklmnop", "x": "my-s3cret-val"})
    )
    assert 'query: "refunds"' in shown
    assert "abc123" not in shown and "abcdefghijklmn" not in shown and "my-s3cret-val" not in shown


async def test_a_round_that_costs_more_than_the_threshold_asks_and_goes_on_from_where_it_stopped(
    world: World, closed_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # round 1 is under the threshold; round 2 carries the tool's 6,000 characters and is over it
    thread = await tickets_thread(
        closed_log, monkeypatch, SWITCHBOARD_MAX_OUTPUT_TOKENS="200", SWITCHBOARD_CONFIRM_OVER_USD="0.004"
    )
    world.cloud.script("gpt-4o", Say(tool_calls=(ToolCall(BIG, {"chars": 6000}),)), Say(text="It is long."))
    asked = await thread.say("get me the big one")
    (question,) = [r for r in asked.replies if r.kind == "confirm"]
    assert "could cost up to" in question.text and len(world.cloud.chat_calls("gpt-4o")) == 1
    assert [a.state for a in activities(asked)] == ["running", "ok"]
    confirmed = await thread.say("!confirm")
    assert confirmed.streamed == "It is long." and "1 tool round" in confirmed.footer
    assert not activities(confirmed)  # the tool is not run again: the reply goes on from its stored round
    assert len(world.cloud.chat_calls("gpt-4o")) == 2 and len(rows("tool")) == 1
    assert len(tool_messages(world.cloud.chat_calls("gpt-4o")[-1])[0]["content"]) == 6000


async def test_bad_arguments_and_a_failing_tool_are_told_to_the_model_not_to_the_user_as_a_crash(
    world: World, closed_log: Path
) -> None:
    thread = await tickets_thread(closed_log)
    world.cloud.script(
        "gpt-4o",
        Say(tool_calls=(ToolCall(LOOKUP, '{"ticket_id": '), ToolCall("tickets__fail"), ToolCall("tickets__nope"))),
        Say(text="The helpdesk is having a bad day."),
    )
    said = await thread.say("look it up")
    ended = {a.tool: a for a in activities(said) if a.state != "running"}
    assert ended["lookup_ticket"].state == "error" and ended["lookup_ticket"].detail == "invalid arguments"
    assert ended["fail"].state == "error" and "read-only" in ended["fail"].detail
    assert ended["tickets__nope"].state == "unavailable"
    told = [m["content"] for m in tool_messages(world.cloud.chat_calls("gpt-4o")[-1])]
    assert "not valid JSON" in told[0] and "read-only" in told[1] and "No tool named tickets__nope" in told[2]
    assert said.streamed == "The helpdesk is having a bad day." and not [r for r in said.replies if r.kind == "error"]


async def test_a_remote_server_over_http_works_in_a_thread_and_its_secret_is_never_shown(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_MCP_ALLOWED_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    token = "tok-http-s3cret-4242"
    with HttpMcp(token=token, log=tmp_path / "closed.jsonl") as remote:
        await add_tickets(tmp_path / "unused.jsonl", url=remote.url, token=token)
        thread = Thread()
        await on_gpt4o(thread)
        world.cloud.script(
            "gpt-4o",
            Say(tool_calls=(ToolCall(LOOKUP, {"ticket_id": "T-3", "note": f"my token is {token}"}),)),
            Say(text="Found it."),
        )
        said = await thread.say("look up T-3")
    running, ended = activities(said)
    assert ended.state == "ok" and token not in running.args and token not in said.text
    assert 'ticket_id: "T-3"' in running.args and "•••" in running.args
    assert tool_messages(world.cloud.chat_calls("gpt-4o")[-1])[0]["content"].startswith("Ticket T-3: ")
    (row,) = rows("tool")
    assert token not in (row.tool_calls or [])[0]["shown"]


async def test_a_fallback_in_the_middle_of_a_tool_loop_keeps_the_calls_and_skips_models_without_tools(
    world: World, closed_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_RETRIES_SERVER_ERROR", "0")
    get_settings.cache_clear()
    await add_tickets(closed_log)
    await asyncio.to_thread(
        save_chain, "tools", ["local/llama-big", "oa/gpt-4o-mini"], for_model="oa/gpt-4o", allow_paid=True
    )
    invalidate()
    thread = Thread()
    await on_gpt4o(thread)
    world.cloud.script("gpt-4o", Say(tool_calls=(ToolCall(LOOKUP, {"ticket_id": "T-1"}),)), ServerError(503))
    world.cloud.script("gpt-4o-mini", Say(text="From the lookup: dana owns T-1."))
    said = await thread.say("who owns T-1?")
    assert said.streamed == "From the lookup: dana owns T-1."
    assert world.local.chat_calls("llama-big") == []  # it cannot read tool results: skipped
    mini = world.cloud.chat_calls("gpt-4o-mini")[-1]
    assert mini["messages"][-2]["tool_calls"][0]["function"]["name"] == LOOKUP
    assert tool_messages(mini)[0]["content"].startswith("Ticket T-1: ")
    assert "fallback from oa/gpt-4o" in said.footer and "1 tool round" in said.footer
    (reply,) = [r for r in rows("assistant") if r.status == "ok"]
    (failed,) = [r for r in rows("assistant") if r.status == "error"]  # the attempt that failed, for error rates
    (tool_row,) = rows("tool")
    assert (reply.model, failed.model, tool_row.model) == ("oa/gpt-4o-mini", "oa/gpt-4o", "oa/gpt-4o")


async def test_consent_given_in_a_thread_is_forgotten_with_its_server(world: World, closed_log: Path) -> None:
    thread = await tickets_thread(closed_log, consent=("close_ticket",))
    world.cloud.script("gpt-4o", Say(tool_calls=(ToolCall(CLOSE, {"ticket_id": "T-1"}),)), Say(text="Closed."))
    await thread.say("close T-1")
    await thread.say("!confirm always")
    assert "allowed in this thread" in (await thread.say("!tools")).text
    await asyncio.to_thread(servers.remove_server, "tickets")
    await add_tickets(closed_log, consent=("close_ticket",))  # another server, under the same name
    assert "runs after your OK" in (await thread.say("!tools")).text


async def pid_reply(world: World, thread: Thread) -> int:
    world.cloud.script("gpt-4o", Say(tool_calls=(ToolCall("tickets__pid"),)), Say(text="ok"))
    said = await thread.say("which process?")
    assert said.streamed == "ok"
    return int(tool_messages(world.cloud.chat_calls("gpt-4o")[-1])[0]["content"])


async def test_a_server_keeps_running_between_replies_until_it_is_idle_or_changed(
    world: World, closed_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_MCP_IDLE_MINUTES", "0.08")  # 4.8 s: longer than a reply on a loaded machine
    get_settings.cache_clear()
    await client.close_pool()
    thread = await tickets_thread(closed_log)
    first = await pid_reply(world, thread)
    assert alive(first) and await pid_reply(world, thread) == first  # the next reply uses the same process
    await asyncio.to_thread(servers.update_server, "tickets", consent_tools=["close_ticket"])
    invalidate()
    assert await pid_reply(world, thread) == first  # what it was opened with did not change
    other = f"{stdio_command(closed_log)} --log {closed_log}.2"
    await asyncio.to_thread(servers.remove_server, "tickets")
    await asyncio.to_thread(servers.add_server, "tickets", command=other)
    await health.check("tickets")
    invalidate()
    second = await pid_reply(world, thread)
    assert second != first  # a server added again with another command: a new process
    for _ in range(400):  # idle past SWITCHBOARD_MCP_IDLE_MINUTES: closed, its process gone
        if not alive(first) and not alive(second):
            break
        await asyncio.sleep(0.05)
    assert not alive(first) and not alive(second)
    third = await pid_reply(world, thread)
    assert third not in (first, second)
    await client.close_pool()
    for _ in range(100):
        if not alive(third):
            break
        await asyncio.sleep(0.05)
    assert not alive(third)


async def test_a_process_that_dies_while_its_tool_runs_is_charged_its_round_and_nothing_more(
    any_db: str, world: World, closed_log: Path
) -> None:
    thread = await tickets_thread(closed_log)
    budget = await asyncio.to_thread(add_budget, "global", "day", 5.0)
    invalidate()
    world.cloud.script("gpt-4o", Say(tool_calls=(ToolCall(SLOW, {"seconds": 30}),)))
    running = asyncio.Event()

    async def turn() -> None:
        async for event in handle(thread.message("run the slow thing")):
            if isinstance(event, ToolActivity) and event.state == "running":
                running.set()

    task = asyncio.create_task(turn())
    await asyncio.wait_for(running.wait(), 30)
    # the crash rules, as another process runs them once this one's claim has gone stale (here: at once)
    assert await asyncio.to_thread(recover_stale_replies, timedelta(seconds=-1)) == 1
    (tool_row,) = rows("tool")
    (reply,) = [r for r in rows("assistant") if r.id == tool_row.parent_id]
    assert reply.status == "interrupted" and not reply.cost_usd  # the round row holds what was spent
    state = ledger.current([budget], tz="UTC")[budget.id]
    assert state.reserved == 0 and state.spent == round((tool_row.cost_usd or 0) * 1_000_000) > 0
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_the_request_log_lists_every_model_call_of_a_tool_reply(world: World, closed_log: Path) -> None:
    thread = await tickets_thread(closed_log)
    world.cloud.script("gpt-4o", Say(tool_calls=(ToolCall(LOOKUP, {"ticket_id": "T-9"}),)), Say(text="Open."))
    await thread.say("is T-9 open?")
    await thread.say("and T-10?")  # a later message: the round still answers the one before it
    logged = await asyncio.to_thread(request_log)
    (round_row,) = [r for r in logged if r.id == rows("tool")[0].id]
    assert round_row.model == "oa/gpt-4o" and round_row.cost_usd
    detail = await asyncio.to_thread(request_detail, round_row.id)
    assert detail is not None and detail.answered is not None and detail.answered.content == "is T-9 open?"
    (call,) = detail.reply.rounds[0].calls
    assert (call.tool, call.shown, call.status) == ("lookup_ticket", 'ticket_id: "T-9"', "ok")
