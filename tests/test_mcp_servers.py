"""MCP servers: registered from the CLI and the store, discovered and called over the real SDK (stdio pipes and
loopback streamable HTTP against tests/fakes/mcp_server.py), their health alerted once, their secret never shown."""

from __future__ import annotations

import pytest

from core.config.version import config_version
from core.errors import UserError
from core.tools import servers
from core.tools.servers import ToolInfo

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
    with pytest.raises(UserError, match="not a valid MCP server name"):
        servers.add_server("Bad Name", command="echo")
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


def test_a_check_bumps_the_config_only_when_what_is_offered_changes(sb_env: dict[str, str]) -> None:
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
