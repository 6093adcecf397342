"""MCP servers: registered from the CLI and the store, discovered and called over the real SDK (stdio pipes and
loopback streamable HTTP against tests/fakes/mcp_server.py), their health alerted once, their secret never shown."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.alerts import AlertView
from core.config.version import config_version
from core.errors import UserError
from core.tools import client, servers
from core.tools.servers import ServerView, ToolInfo
from tests.conftest import Cli
from tests.helpers import closed_port
from tests.mcpkit import HttpMcp, alive, stdio_command

TOKEN = "tok-s3cret-value-9876"


@pytest.fixture
def allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("SWITCHBOARD_MCP_ALLOWED_HOSTS", "127.0.0.1, mcp.example.com")
    get_settings.cache_clear()


def listed(server: str, *names: str) -> list[ToolInfo]:
    return [ToolInfo(server=server, name=n, description=f"{n} things") for n in names]


def test_a_server_is_stored_with_its_secret_kept_apart(any_db: str, allowed: None) -> None:
    before = config_version()
    view = servers.add_server(
        "tickets", url="https://mcp.example.com/mcp", auth_header="Authorization", secret=f"Bearer {TOKEN}"
    )
    assert view.transport == "http" and view.has_secret and view.scope_label == "everywhere"
    assert TOKEN not in view.secret_hint and view.secret_hint.startswith("Bearer ")
    assert config_version() > before
    assert servers.secret_of("tickets") == f"Bearer {TOKEN}"
    assert TOKEN not in repr(servers.get_server("tickets"))

    servers.record_check("tickets", ok=True, error=None, latency_ms=3.0, tools=listed("tickets", "lookup", "close"))
    changed = servers.update_server(
        "tickets", scope="channel:C1", allowed_tools=["lookup"], consent_tools=["close"], enabled=False
    )
    assert (changed.scope_kind, changed.scope_value, changed.enabled) == ("channel", "C1", False)
    assert [t.name for t in changed.offered] == ["lookup"]
    assert [t.name for t in changed.tools if t.consent] == ["close"]
    assert servers.update_server("tickets", allowed_tools=None).allowed_tools is None

    servers.remove_server("tickets")
    assert servers.get_server("tickets") is None and servers.secret_of("tickets") is None


def test_bad_input_is_refused_saying_what_to_fix(sb_env: dict[str, str], allowed: None) -> None:
    for bad in ("Bad Name", "a__b", "-x", "x" * 65, "tickets.v2"):
        with pytest.raises(UserError, match="not a valid MCP server name"):
            servers.add_server(bad, command="echo")
    with pytest.raises(UserError, match="exactly one of"):
        servers.add_server("both", command="echo", url="https://mcp.example.com/")
    with pytest.raises(UserError, match="exactly one of"):
        servers.add_server("neither")
    with pytest.raises(UserError, match="SWITCHBOARD_MCP_ALLOWED_HOSTS"):
        servers.add_server("far", url="https://evil.example.net/mcp")
    with pytest.raises(UserError, match="http:// or https://"):
        servers.add_server("ftp", url="ftp://mcp.example.com/")
    with pytest.raises(UserError, match=r"Unknown scope 'room:1'.*preset:NAME"):
        servers.add_server("s", command="echo", scope="room:1")
    with pytest.raises(UserError, match="no preset 'nope'"):
        servers.add_server("s", command="echo", scope="preset:nope")
    with pytest.raises(UserError, match="takes no auth header"):
        servers.add_server("s", command="echo", secret="x")
    assert servers.list_servers() == []

    servers.add_server("s", command="echo hi")
    with pytest.raises(UserError, match="already exists"):
        servers.add_server("s", command="echo")
    with pytest.raises(UserError, match="no MCP server named 'z'"):
        servers.update_server("z", enabled=False)


def test_allowlist_and_consent_name_listed_tools_with_suggestions(sb_env: dict[str, str]) -> None:
    servers.add_server("desk", command="echo")
    # nothing listed yet: any names are kept
    assert servers.update_server("desk", consent_tools=["later"]).consent_tools == ("later",)
    servers.record_check(
        "desk", ok=True, error=None, latency_ms=1.0, tools=listed("desk", "lookup_ticket", "close_ticket")
    )
    with pytest.raises(UserError) as refused:
        servers.update_server("desk", allowed_tools=["lookup_tiket", "launch_rockets"])
    text = str(refused.value)
    assert "'lookup_tiket'" in text and "'launch_rockets'" in text and "`lookup_ticket`" in text
    assert "launch_rockets', did you mean" not in text
    with pytest.raises(UserError, match=r"close_tickets.*did you mean `close_ticket`"):
        servers.update_server("desk", consent_tools=["close_tickets"])


def test_a_check_bumps_the_config_only_when_what_is_offered_changes(any_db: str) -> None:
    servers.add_server("desk", command="echo")
    tools = listed("desk", "a", "b")
    assert servers.record_check("desk", ok=True, error=None, latency_ms=1.0, tools=tools) is False
    v = config_version()
    assert servers.record_check("desk", ok=True, error=None, latency_ms=2.0, tools=tools) is False
    assert config_version() == v
    assert servers.record_check("desk", ok=True, error=None, latency_ms=2.0, tools=tools[:1]) is False
    assert config_version() > v
    v = config_version()
    assert servers.record_check("desk", ok=False, error="down", latency_ms=None, tools=None) is True
    assert config_version() > v and servers.get_server("desk").down  # type: ignore[union-attr]
    v = config_version()
    assert servers.record_check("desk", ok=False, error="still down", latency_ms=None, tools=None) is False
    assert config_version() == v
    assert [t.name for t in servers.get_server("desk").tools] == ["a"]  # type: ignore[union-attr]
    assert servers.record_check("desk", ok=True, error=None, latency_ms=1.0, tools=tools) is True


def test_the_snapshot_holds_the_servers(sb_env: dict[str, str]) -> None:
    from core import snapshot

    assert snapshot.current().mcp_servers == []
    servers.add_server("desk", command="echo")
    snapshot.invalidate()
    assert [s.name for s in snapshot.current().mcp_servers] == ["desk"]


# ---------------------------------------------------------------- the client, over real stdio and loopback HTTP


@pytest.fixture(scope="module")
def http_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpMcp]:
    """The fake over streamable HTTP, answering only `Authorization: Bearer TOKEN` (one for the module)."""
    with HttpMcp(token=TOKEN, log=tmp_path_factory.mktemp("http") / "closed.jsonl") as server:
        yield server


@pytest.fixture
def closed_log(tmp_path: Path) -> Path:
    return tmp_path / "closed.jsonl"


@pytest.fixture
def desk(sb_env: dict[str, str], closed_log: Path) -> ServerView:
    """The fake over stdio, registered as `desk`."""
    return servers.add_server("desk", command=stdio_command(closed_log))


async def test_discovery_over_stdio_lists_tools_with_their_consent_marks(desk: ServerView) -> None:
    servers.update_server("desk", consent_tools=["close_ticket"])
    tools = await client.discover(servers.get_server("desk"))  # type: ignore[arg-type]
    by_name = {t.name: t for t in tools}
    assert {"lookup_ticket", "close_ticket", "slow", "big", "fail"} <= set(by_name)
    assert by_name["close_ticket"].consent and not by_name["lookup_ticket"].consent
    assert "ticket" in by_name["lookup_ticket"].description
    assert by_name["lookup_ticket"].input_schema["required"] == ["ticket_id"]


async def test_discovery_over_http_sends_the_secret_header_and_a_wrong_one_fails_clearly(
    sb_env: dict[str, str], allowed: None, http_fake: HttpMcp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = servers.add_server("remote", url=http_fake.url, auth_header="Authorization", secret=f"Bearer {TOKEN}")
    assert "lookup_ticket" in {t.name for t in await client.discover(good)}

    wrong = "Bearer wr0ng-t0ken-5555"
    bad = servers.add_server("wrong", url=http_fake.url, auth_header="Authorization", secret=wrong)
    with pytest.raises(client.ToolFailure) as failed:
        await client.discover(bad)
    assert failed.value.kind == "error"
    assert "refused the credentials (HTTP 401)" in failed.value.message
    for secret in (TOKEN, wrong, "wr0ng-t0ken-5555"):
        assert secret not in failed.value.message + repr(failed.value) + caplog.text

    nothing = servers.add_server("nothing", url=http_fake.url)
    with pytest.raises(client.ToolFailure, match="HTTP 401"):
        await client.discover(nothing)


async def test_a_host_no_longer_allowed_is_refused_at_connect_time(
    sb_env: dict[str, str], allowed: None, http_fake: HttpMcp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.settings import get_settings

    view = servers.add_server("remote", url=http_fake.url, auth_header="Authorization", secret=f"Bearer {TOKEN}")
    monkeypatch.setenv("SWITCHBOARD_MCP_ALLOWED_HOSTS", "mcp.example.com")
    get_settings.cache_clear()
    with pytest.raises(client.ToolFailure) as refused:
        await client.discover(view)
    assert refused.value.kind == "refused" and "SWITCHBOARD_MCP_ALLOWED_HOSTS" in refused.value.message
    async with client.Sessions() as sessions:
        with pytest.raises(client.ToolFailure, match="not in SWITCHBOARD_MCP_ALLOWED_HOSTS"):
            await sessions.call(view, "lookup_ticket", {"ticket_id": "T-1"}, 5)


async def test_calls_over_one_session_ok_error_capped_and_described(desk: ServerView, closed_log: Path) -> None:
    async with client.Sessions(max_chars=100) as sessions:
        first = await sessions.call(desk, "pid", {}, 10)
        found = await sessions.call(desk, "lookup_ticket", {"ticket_id": "T-1"}, 10)
        assert found == client.CallOutcome(found.text, False, len(found.text))
        assert found.text.startswith("Ticket T-1: ") and "status open" in found.text

        failed = await sessions.call(desk, "fail", {}, 10)
        assert failed.is_error and "read-only today" in failed.text

        big = await sessions.call(desk, "big", {"chars": 5000}, 10)
        assert big.chars == 5000 and not big.is_error
        assert big.text.startswith("0123456789" * 10 + "\n")
        assert "the result was 5,000 characters; the limit is 100" in big.text

        picture = await sessions.call(desk, "picture", {}, 10)
        assert picture.text.startswith("[image/png, ") and picture.text.endswith(" B]")

        closed = await sessions.call(desk, "close_ticket", {"ticket_id": "T-9", "note": "done"}, 10)
        assert closed.text == "Closed T-9"
        assert json.loads(closed_log.read_text()) == {"closed": "T-9", "note": "done"}
        assert (await sessions.call(desk, "pid", {}, 10)).text == first.text  # the same session all along

        unknown = await sessions.call(desk, "launch_rockets", {}, 10)  # the server says so, as a failed call
        assert unknown.is_error and "launch_rockets" in unknown.text


def test_results_without_text_are_described_and_structured_content_is_compact_json() -> None:
    import mcp_types

    structured = mcp_types.CallToolResult(content=[], structured_content={"open": 3, "owner": "dana"})
    assert client.outcome(structured, 100) == client.CallOutcome('{"open":3,"owner":"dana"}', False, 25)
    mixed = mcp_types.CallToolResult(
        content=[
            mcp_types.TextContent(type="text", text="two files:"),
            mcp_types.AudioContent(type="audio", data="A" * 16_000, mime_type="audio/wav"),
            mcp_types.ResourceLink(type="resource_link", uri="https://mcp.example.com/t/1", name="t1"),
        ],
        structured_content={"ignored": "there is text"},
        is_error=True,
    )
    got = client.outcome(mixed, 1000)
    assert got.text == "two files:\n[audio/wav, 12 KB]\n[link: https://mcp.example.com/t/1]" and got.is_error


async def test_a_call_that_times_out_closes_its_session_and_the_next_gets_its_own_answer(desk: ServerView) -> None:
    async with client.Sessions() as sessions:
        before = int((await sessions.call(desk, "pid", {}, 10)).text)
        started = time.monotonic()
        with pytest.raises(client.ToolFailure) as late:
            await sessions.call(desk, "slow", {"seconds": 3}, 0.5)
        assert late.value.kind == "timeout" and "0.5 s" in late.value.message
        assert time.monotonic() - started < 2.5
        after = await sessions.call(desk, "lookup_ticket", {"ticket_id": "T-2"}, 10)
        assert after.text.startswith("Ticket T-2:")  # never the slow call's late "Waited 3 s"
        assert int((await sessions.call(desk, "pid", {}, 10)).text) != before
    assert not alive(before)


async def test_calls_at_once_share_a_session_and_a_timeout_spares_the_others(desk: ServerView) -> None:
    async with client.Sessions() as sessions:
        one, two = await asyncio.gather(sessions.call(desk, "pid", {}, 10), sessions.call(desk, "pid", {}, 10))
        assert one.text == two.text
        done, late = await asyncio.gather(
            sessions.call(desk, "slow", {"seconds": 1.5}, 10),
            sessions.call(desk, "slow", {"seconds": 8}, 0.5),
            return_exceptions=True,
        )
        assert isinstance(done, client.CallOutcome) and done.text == "Waited 1.5 s"
        assert isinstance(late, client.ToolFailure) and late.kind == "timeout"
        assert (await sessions.call(desk, "pid", {}, 10)).text != one.text  # a fresh session after the timeout


async def test_a_stdio_server_gets_none_of_the_bots_environment(desk: ServerView) -> None:
    async with client.Sessions() as sessions:
        names = (await sessions.call(desk, "environment", {}, 10)).text.split()
    assert "PATH" in names
    assert not [n for n in names if n.startswith(("SWITCHBOARD_", "SLACK_", "DISCORD_")) or n == "DATABASE_URL"]
    assert os.environ["SWITCHBOARD_SECRET_KEY"]  # what it was not given


async def test_a_cancelled_reply_leaves_no_server_process_behind(desk: ServerView) -> None:
    pids: list[int] = []

    async def reply() -> None:
        async with client.Sessions() as sessions:
            pids.append(int((await sessions.call(desk, "pid", {}, 10)).text))
            await sessions.call(desk, "slow", {"seconds": 60}, 120)

    task = asyncio.create_task(reply())
    while not pids:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert alive(pids[0])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not alive(pids[0])


async def test_a_reply_cancelled_while_a_server_starts_stops_waiting_at_once(sb_env: dict[str, str]) -> None:
    mute = servers.add_server("mute", command=f"{sys.executable} -c 'import time; time.sleep(60)'")

    async def reply() -> None:
        async with client.Sessions() as sessions:
            await sessions.call(mute, "anything", {}, 5)

    task = asyncio.create_task(reply())
    await asyncio.sleep(0.5)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 6  # not the 10 s connect timeout on top of the SDK's shutdown


async def test_a_server_that_dies_mid_reply_fails_the_call_at_once_and_the_next_call_reconnects(
    desk: ServerView, allowed: None
) -> None:
    async with client.Sessions() as sessions:
        pid = int((await sessions.call(desk, "pid", {}, 10)).text)
        os.kill(pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        started = time.monotonic()
        with pytest.raises(client.ToolFailure) as ended:
            await sessions.call(desk, "pid", {}, 10)
        assert ended.value.kind == "unreachable" and "the server's process ended" in ended.value.message
        assert time.monotonic() - started < 2
        assert int((await sessions.call(desk, "pid", {}, 10)).text) != pid

    fake = HttpMcp(token=TOKEN).start()
    remote = servers.add_server("remote", url=fake.url, auth_header="Authorization", secret=f"Bearer {TOKEN}")
    try:
        async with client.Sessions() as sessions:
            running = asyncio.create_task(sessions.call(remote, "slow", {"seconds": 30}, 60))
            await asyncio.sleep(0.5)
            fake.stop()
            with pytest.raises(client.ToolFailure) as lost:
                await running
            assert lost.value.kind == "unreachable" and "lost the connection to 127.0.0.1:" in lost.value.message
            with pytest.raises(client.ToolFailure, match=r"cannot connect to 127\.0\.0\.1:"):
                await sessions.call(remote, "pid", {}, 10)
    finally:
        fake.stop()


async def test_servers_that_cannot_be_reached_fail_fast_and_say_why(sb_env: dict[str, str], allowed: None) -> None:
    missing = servers.add_server("missing", command="no-such-mcp-command --flag")
    with pytest.raises(client.ToolFailure) as failed:
        await client.discover(missing)
    assert failed.value.kind == "unreachable" and "`no-such-mcp-command`: no such command" in failed.value.message

    crashing = servers.add_server("crashing", command=f"{sys.executable} -c 'raise SystemExit(\"config is missing\")'")
    with pytest.raises(client.ToolFailure) as ended:
        await client.discover(crashing)
    assert ended.value.kind == "unreachable" and "config is missing" in ended.value.message

    closed = servers.add_server("closed", url=f"http://127.0.0.1:{closed_port()}/mcp")
    with pytest.raises(client.ToolFailure) as refused:
        await client.discover(closed)
    assert refused.value.kind == "unreachable" and "cannot connect to 127.0.0.1:" in refused.value.message


async def test_a_server_that_never_answers_times_out(sb_env: dict[str, str], allowed: None) -> None:
    with socket.socket() as silent:  # listens, so connecting succeeds; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        view = servers.add_server("silent", url=f"http://127.0.0.1:{silent.getsockname()[1]}/mcp")
        started = time.monotonic()
        with pytest.raises(client.ToolFailure) as failed:
            await client.discover(view, connect_timeout_s=1.0)
        assert failed.value.kind == "timeout"
        assert time.monotonic() - started < 5

    mute = servers.add_server("mute", command=f"{sys.executable} -c 'import time; time.sleep(60)'")
    started = time.monotonic()
    with pytest.raises(client.ToolFailure) as waited:
        await client.discover(mute, connect_timeout_s=1.0)
    assert waited.value.kind == "timeout" and "no answer within 1 s" in waited.value.message
    assert time.monotonic() - started < 8  # the SDK's shutdown: stdin closed, 2 s, then SIGTERM


# ---------------------------------------------------------------- health


async def test_a_server_that_goes_down_is_alerted_once_and_resolved_when_back(any_db: str, allowed: None) -> None:
    from core.alerts import recent_alerts
    from core.tools import health

    def mcp_alerts() -> list[AlertView]:
        return [a for a in recent_alerts(kind="mcp")]

    fake = HttpMcp(token=TOKEN)
    servers.add_server("remote", url=fake.url, auth_header="Authorization", secret=f"Bearer {TOKEN}")
    with fake:
        up = await health.check("remote")
    assert up.last_check_ok and up.last_check_latency_ms and "lookup_ticket" in {t.name for t in up.tools}
    assert mcp_alerts() == []

    down = await health.check("remote")  # the fake has stopped
    assert down.down and "cannot connect to 127.0.0.1" in (down.last_check_error or "")
    assert [t.name for t in down.tools] == [t.name for t in up.tools]  # what it listed is kept, not offered
    (alert,) = mcp_alerts()
    assert alert.open and "MCP server 'remote' is down: cannot connect" in alert.text
    await health.check_all()
    await health.check("remote")
    assert len(mcp_alerts()) == 1  # still the one alert

    with HttpMcp(token=TOKEN, port=fake.port):
        back = await health.check("remote")
    assert back.last_check_ok and not back.down
    (closed,) = mcp_alerts()
    assert not closed.open and closed.resolution == "MCP server 'remote' answers again"
    assert all(TOKEN not in a.text for a in recent_alerts())


def test_the_scheduler_checks_mcp_servers_every_configured_interval(
    sb_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.scheduler import build_scheduler
    from core.jobs import Leadership
    from core.settings import get_settings

    monkeypatch.setenv("SWITCHBOARD_MCP_CHECK_MINUTES", "3")
    get_settings.cache_clear()
    jobs = {j.id: j for j in build_scheduler(Leadership()).get_jobs()}
    assert jobs["check_mcp_servers"].trigger.interval.total_seconds() == 180


# ---------------------------------------------------------------- the CLI


def test_an_operator_registers_and_tunes_servers_from_the_cli(
    cli: Cli, allowed: None, http_fake: HttpMcp, closed_log: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    added = cli("mcp", "add", "desk", "--command", stdio_command(closed_log))
    assert added.returncode == 0, added.stderr
    assert "Added MCP server 'desk' (stdio, everywhere)." in added.stdout
    assert "lookup_ticket" in added.stdout and "close_ticket" in added.stdout

    remote = cli(
        "mcp", "add", "remote", "--url", http_fake.url, "--header", "Authorization", "--scope", "channel:C9",
        input=f"Bearer {TOKEN}\n",
    )  # fmt: skip
    assert remote.returncode == 0, remote.stderr
    assert "Added MCP server 'remote' (http, channel C9, Authorization Bearer " in remote.stdout

    listed = cli("mcp", "list")
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[2:]}
    assert "stdio" in rows["desk"] and "everywhere" in rows["desk"] and "ok (" in rows["desk"]
    assert "http://127.0.0.1:" in rows["remote"] and "channel C9" in rows["remote"]

    refused = cli("mcp", "set", "desk", "--allow", "lookup_tiket")
    assert refused.returncode == 2 and "did you mean `lookup_ticket`" in refused.stderr
    tuned = cli("mcp", "set", "desk", "--allow", "lookup_ticket,close_ticket", "--consent", "close_ticket")
    assert tuned.returncode == 0, tuned.stderr
    assert "offers lookup_ticket, close_ticket; asks first: close_ticket" in tuned.stdout
    tools = {line.split()[0]: line for line in cli("mcp", "tools", "desk").stdout.splitlines()[2:]}
    assert "asks first" in tools["close_ticket"] and tools["close_ticket"].rstrip().endswith("yes")
    assert "asks first" not in tools["lookup_ticket"] and tools["slow"].rstrip().endswith("no")
    assert "2 of 8" in cli("mcp", "list").stdout
    assert "every tool" in cli("mcp", "set", "desk", "--allow-all").stdout

    tested = cli("mcp", "test", "remote")
    assert tested.returncode == 0 and tested.stdout.startswith("OK: 'remote' answered in ")
    as_json = json.loads(cli("mcp", "list", "--json").stdout)
    assert {s["name"]: s["has_secret"] for s in as_json} == {"desk": False, "remote": True}

    outputs = [added, remote, listed, tested, cli("mcp", "tools", "remote"), cli("mcp", "list", "--json")]
    for out in outputs:
        assert TOKEN not in out.stdout + out.stderr
    assert TOKEN not in caplog.text

    removed = cli("mcp", "remove", "remote")
    assert removed.returncode == 0 and "Removed MCP server 'remote'." in removed.stdout
    assert "remote" not in cli("mcp", "list").stdout


def test_the_cli_refuses_hosts_not_allowed_and_reports_a_failing_server(
    cli: Cli, allowed: None, http_fake: HttpMcp
) -> None:
    far = cli("mcp", "add", "far", "--url", "https://evil.example.net/mcp")
    assert far.returncode == 2 and "not in SWITCHBOARD_MCP_ALLOWED_HOSTS" in far.stderr
    both = cli("mcp", "add", "both", "--url", http_fake.url, "--command", "echo")
    assert both.returncode == 2 and "exactly one of" in both.stderr

    wrong = "Bearer wr0ng-t0ken-5555"
    added = cli("mcp", "add", "wrong", "--url", http_fake.url, "--secret-stdin", input=wrong + "\n")
    assert added.returncode == 0
    assert "refused the credentials (HTTP 401)" in added.stderr
    tested = cli("mcp", "test", "wrong")
    assert tested.returncode == 1 and "FAILED: the server refused the credentials (HTTP 401)" in tested.stdout
    listed = cli("mcp", "list")
    assert "down" in listed.stdout and "wrong: the server refused the credentials" in listed.stdout
    for out in (added, tested, listed):
        assert "wr0ng-t0ken-5555" not in out.stdout + out.stderr
