"""The Tools page driven in-process (Streamlit's AppTest) against the real store: servers listed with where they
run, where they are enabled, health, tools offered and the secret's masked hint only; adding a stdio and a remote
server (a refused one keeps the form); the allowlist and consent set from the listed tools; scope and enabled;
rotating the secret; removing after a confirmation."""

from __future__ import annotations

import pytest

from core import secrets
from core.tools.servers import ToolInfo, add_server, get_server, record_check
from tests.adminkit import AdminApp
from tests.mcpkit import HttpMcp, stdio_command

TOKEN = "Bearer tok-0123456789abcdef"
LISTED = [
    ToolInfo("tickets", "lookup_ticket", "Look up a ticket.", {"type": "object", "properties": {"ticket_id": {}}}),
    ToolInfo("tickets", "close_ticket", "Close a ticket.", {"type": "object", "properties": {"ticket_id": {}}}),
]


def add_remote(admin: AdminApp) -> AdminApp:
    """Click the remote form's 'Add server' (the stdio form's comes first)."""
    [b for b in admin.at.button if b.label == "Add server"][1].click()
    return admin.run()


@pytest.fixture
def allowed_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_MCP_ALLOWED_HOSTS", "mcp.example.com")


def test_adding_servers_and_a_refused_one_keeps_what_was_typed(allowed_host: None) -> None:
    admin = AdminApp.signed_in().open("tools")
    assert "No MCP servers yet" in admin.infos[1]
    assert "(now: mcp.example.com)" in admin.infos[0] and "never executed" in admin.infos[0]

    admin.fill("Name", "docs", index=1).fill("URL", "https://evil.example.org/mcp").fill("Header value", TOKEN)
    add_remote(admin)
    assert any("Host 'evil.example.org' is not in SWITCHBOARD_MCP_ALLOWED_HOSTS" in e for e in admin.errors)
    assert admin._widget("text_input", "URL").value == "https://evil.example.org/mcp"  # nothing lost
    assert get_server("docs") is None

    add_remote(admin.fill("URL", "https://mcp.example.com/mcp"))
    assert admin.successes == ["Added MCP server 'docs' (everywhere). Test it below to list its tools."]
    assert admin._widget("text_input", "Header value").value == ""  # an add that worked empties the form
    assert secrets.get_secret("mcp:docs") == TOKEN
    assert TOKEN not in admin.text() and "tok-0123456789abcdef" not in admin.text()

    admin.fill("Name", "tickets").fill("Command", "python -m tickets_mcp --readonly")
    admin.choose("Enabled in", "channel").fill("Workspace, channel or preset", "C42").submit("Add server")
    listed = admin.table_with("enabled in")
    assert listed.loc["tickets", "runs"] == "stdio: python -m tickets_mcp --readonly"
    assert listed.loc["docs", "runs"] == "HTTP: https://mcp.example.com/mcp"
    assert listed.loc["tickets", "enabled in"] == "channel C42" and listed.loc["docs", "enabled in"] == "everywhere"
    assert listed.loc["docs", "secret"] == "Authorization: Bearer tok-…cdef" and listed.loc["tickets", "secret"] == ""
    assert (listed.loc["tickets", "health"], listed.loc["tickets", "tools"]) == ("unchecked", "none listed yet")


def test_tools_consent_scope_secret_and_removal(allowed_host: None) -> None:
    add_server("tickets", command="python -m tickets_mcp")
    add_server("docs", url="https://mcp.example.com/mcp", auth_header="X-Api-Key", secret="key-aaaa1111bbbb")
    record_check("tickets", ok=True, error=None, latency_ms=42.0, tools=LISTED)
    record_check("docs", ok=False, error="connection refused", latency_ms=None, tools=None)
    admin = AdminApp.signed_in().open("tools")
    listed = admin.table_with("enabled in")
    assert listed.loc["tickets", "health"] == "ok · 42 ms · just now"
    assert listed.loc["tickets", "tools"] == "2 of 2 offered"
    assert (listed.loc["docs", "health"], listed.loc["docs", "problem"]) == ("failing · just now", "connection refused")
    assert listed.loc["docs", "secret"] == "X-Api-Key: key-…bbbb" and listed.loc["tickets", "secret"] == ""

    admin.choose("Server", "tickets").run()
    tools = admin.table_with("asks first")
    assert tools.loc["lookup_ticket", "arguments"] == "ticket_id" and (tools["asks first"] == "no").all()
    assert [e.label for e in admin.at.expander][:2] == ["lookup_ticket", "close_ticket"]

    admin.tick("Offer every tool it lists", False).choose_many("Only these tools", ["lookup_ticket"])
    admin.choose_many("Ask the user before running", ["close_ticket"]).submit("Save tools")
    saved = get_server("tickets")
    assert saved is not None and saved.allowed_tools == ("lookup_ticket",) and saved.consent_tools == ("close_ticket",)
    assert admin.successes[0] == "Saved the tools of 'tickets'."
    assert admin.table_with("enabled in").loc["tickets", "tools"] == "1 of 2 offered · 1 asks first"

    admin.tick("Offer every tool it lists", False).choose_many("Only these tools", []).submit("Save tools")
    assert admin.errors == ["Pick at least one tool to offer, or tick 'Offer every tool it lists'."]

    admin.choose("Enabled in", "preset", index=2).fill("Workspace, channel or preset", "nope", index=2).submit("Save")
    assert any("There is no preset 'nope'" in e for e in admin.errors)
    admin.choose("Enabled in", "workspace", index=2).fill("Workspace, channel or preset", "T1", index=2)
    admin.tick("Enabled", False).submit("Save")
    assert admin.successes[0] == "Saved 'tickets': disabled."
    saved = get_server("tickets")
    assert saved is not None and (saved.scope_kind, saved.scope_value, saved.enabled) == ("workspace", "T1", False)

    admin.choose("Server", "docs").run()
    assert any("Failing since the check" in e and "connection refused" in e for e in admin.errors)
    admin.fill("New header value", "key-cccc2222dddd").submit("Rotate secret")
    assert admin.successes[0] == "Rotated the secret of 'docs' (now key-…dddd)."
    assert secrets.get_secret("mcp:docs") == "key-cccc2222dddd" and "key-cccc2222dddd" not in admin.text()

    assert admin.button("Remove server").disabled
    admin.tick("Yes, remove 'docs'").run().click("Remove server")
    assert get_server("docs") is None and admin.successes[0] == "Removed MCP server 'docs'."


def test_test_now_lists_the_loopback_servers_tools_or_says_why_it_failed() -> None:
    add_server("tickets", command=stdio_command())  # /…/python /…/tests/fakes/mcp_server.py stdio
    add_server("broken", command="/nonexistent/mcp-server --stdio")
    admin = AdminApp.signed_in().open("tools").choose("Server", "tickets").run()
    admin.click("Test now")
    (tested,) = [s for s in admin.successes if s.startswith("Tested just now: tickets answered in")]
    assert "lookup_ticket" in tested and "close_ticket" in tested
    tools = admin.table_with("asks first")
    assert {"lookup_ticket", "close_ticket"} <= set(tools.index)
    listed = admin.table_with("enabled in")
    assert listed.loc["tickets", "health"].startswith("ok · ")
    assert listed.loc["tickets", "tools"] == f"{len(tools)} of {len(tools)} offered"
    assert listed.loc["tickets", "runs"].endswith(" mcp_server.py stdio")  # paths cut to their last part

    admin.choose("Server", "broken").run().click("Test now")
    assert any(e.startswith("Tested just now: broken failed: ") for e in admin.errors), admin.errors
    assert admin.table_with("enabled in").loc["broken", "health"] == "failing · just now"


def test_a_remote_server_is_tested_with_its_secret_and_a_rotated_wrong_one_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SWITCHBOARD_MCP_ALLOWED_HOSTS", "127.0.0.1")
    with HttpMcp(token="t0k-good-0123456789") as remote:
        admin = AdminApp.signed_in().open("tools")
        admin.fill("Name", "remote", index=1).fill("URL", remote.url).fill("Header value", "Bearer t0k-good-0123456789")
        add_remote(admin)
        admin.click("Test now")
        (tested,) = [s for s in admin.successes if s.startswith("Tested just now: remote answered in")]
        assert "lookup_ticket" in tested

        admin.fill("New header value", "Bearer t0k-wrong-000000000").submit("Rotate secret").click("Test now")
        assert any(e.startswith("Tested just now: remote failed: ") for e in admin.errors), admin.errors
        listed = admin.table_with("enabled in")
        assert listed.loc["remote", "secret"] == "Authorization: Bearer t0k-…0000"
        assert listed.loc["remote", "health"].startswith("failing") and listed.loc["remote", "problem"]
        assert "t0k-wrong-000000000" not in admin.text() and "t0k-good-0123456789" not in admin.text()
