"""Tools: the MCP servers whose tools threads may use. Each server with where it runs (a command on this machine or
a remote URL), where it is enabled, its health and how many of its tools are offered; adding one; and per server a
test that lists its tools again, its tools with their input schemas, which are offered and which ask the user
first, where it is enabled, its credential (write-only) and removal."""

from __future__ import annotations

import streamlit as st

from admin import sync, tool_forms, ui
from core import formatting as fmt
from core.settings import get_settings
from core.tools.health import check
from core.tools.servers import ServerView, allowed_hosts, list_servers

TESTED = "_tools_tests"


def trust_note() -> None:
    hosts = ", ".join(sorted(allowed_hosts())) or "none yet"
    st.info(
        "Tools run with the bot's rights. A **stdio** server is a command run on this machine as the bot's user, "
        "so only admins add one. A **remote** server may only be on a host in SWITCHBOARD_MCP_ALLOWED_HOSTS "
        f"(now: {hosts}). What a tool returns is cut to {get_settings().tool_result_max_chars:,} characters and "
        "only ever read as text by the model, never executed.",
        icon=":material/shield:",
    )


def where_it_runs(s: ServerView) -> str:
    return (s.command or "") if s.transport == "stdio" else (s.url or "")


def health(s: ServerView) -> str:
    if s.last_check_ok is None:
        return "unchecked"
    return "ok" if s.last_check_ok else "failing"


def offered(s: ServerView) -> str:
    if not s.tools:
        return "none listed yet" if s.last_check_ok is None else "none listed"
    return f"{len(s.offered)} of {len(s.tools)}"


def credential(s: ServerView) -> str:
    if s.transport == "stdio":
        return ""
    return f"{s.auth_header}: {s.secret_hint}" if s.has_secret else "none"


def servers_table(servers: list[ServerView]) -> None:
    st.dataframe(
        [
            {
                "name": s.name,
                "transport": "stdio" if s.transport == "stdio" else "HTTP",
                "command or URL": where_it_runs(s),
                "enabled in": s.scope_label if s.enabled else "off",
                "health": health(s),
                "checked": fmt.ago(s.last_check_at),
                "latency": fmt.latency(s.last_check_latency_ms),
                "tools offered": offered(s),
                "ask first": len(s.consent_tools),
                "secret": credential(s),
                "problem": s.last_check_error or "",
            }
            for s in servers
        ],
        hide_index=True,
        column_config={
            "name": st.column_config.TextColumn(pinned=True),
            "command or URL": st.column_config.TextColumn(width="medium"),
            "problem": st.column_config.TextColumn(width="large"),
        },
    )


def health_line(s: ServerView) -> None:
    where = "Runs `" + where_it_runs(s) + "` on this machine" if s.transport == "stdio" else f"Remote at {s.url}"
    st.caption(f"{where} · enabled {s.scope_label if s.enabled else 'nowhere (disabled)'}")
    if s.last_check_ok is None:
        st.info("Not checked yet: test it to list its tools.", icon=":material/help:")
    elif s.last_check_ok:
        st.success(
            f"Up: checked {fmt.ago(s.last_check_at)}, answered in {fmt.latency(s.last_check_latency_ms)}; "
            f"{offered(s)} tools offered.",
            icon=":material/check_circle:",
        )
    else:
        st.error(
            f"Failing since the check {fmt.ago(s.last_check_at)}: {s.last_check_error or 'no answer'}. Its tools "
            "are not offered until a check succeeds.",
            icon=":material/error:",
        )


def test_now(s: ServerView) -> None:
    """Connect, list the tools and store what was found (as the scheduled check does); say how it went. The
    outcome is kept for this session, so the table and the health line above show it after the rerun too."""
    if st.button("Test now", key=f"test-{s.name}", icon=":material/play_arrow:"):
        with ui.user_errors(), st.spinner(f"Connecting to {s.name} and listing its tools…"):
            checked = sync.run(check(s.name))
            if checked.last_check_ok:
                names = ", ".join(t.name for t in checked.tools) or "no tools"
                took = fmt.latency(checked.last_check_latency_ms)
                outcome = (True, f"{s.name} answered in {took} and lists {names}.")
            else:
                outcome = (False, f"{s.name} failed its test: {checked.last_check_error or 'no answer'}")
            st.session_state.setdefault(TESTED, {})[s.name] = outcome
            st.rerun()
    tested = st.session_state.get(TESTED, {}).get(s.name)
    if tested is not None:
        ok, message = tested
        (st.success if ok else st.error)(message, icon=":material/check_circle:" if ok else ":material/error:")


def tools_table(s: ServerView) -> None:
    """The tools its last check listed, with what threads are offered; each tool's input schema on demand."""
    if not s.tools:
        st.caption("No tools listed yet." if s.last_check_ok is None else "The last check listed no tools.")
        return
    offered_names = {t.name for t in s.offered}
    st.dataframe(
        [
            {
                "tool": t.name,
                "description": t.description,
                "offered": t.name in offered_names,
                "asks first": t.consent,
                "arguments": ", ".join(t.input_schema.get("properties", {})) or "none",
            }
            for t in s.tools
        ],
        hide_index=True,
        column_config={
            "tool": st.column_config.TextColumn(pinned=True),
            "description": st.column_config.TextColumn(width="large"),
        },
    )
    st.caption("Input schemas, as the model is given them:")
    for t in s.tools:
        with st.expander(f"{t.name}", icon=":material/data_object:"):
            st.json(t.input_schema or {}, expanded=True)


def server_detail(s: ServerView) -> None:
    health_line(s)
    test_now(s)
    st.subheader("Tools")
    tools_table(s)
    tool_forms.tools_form(s)
    st.subheader("Settings")
    tool_forms.settings_form(s)
    if s.transport == "http":
        tool_forms.secret_form(s)
    tool_forms.remove_section(s)


def render() -> None:
    st.title("Tools")
    trust_note()
    servers = list_servers()
    if servers:
        servers_table(servers)
    else:
        st.info("No MCP servers yet. Add one below: a command this machine runs, or a remote server's URL.")
    tool_forms.add_forms()
    if not servers:
        return
    st.divider()
    names = [s.name for s in servers]
    if st.session_state.get(tool_forms.PICKED) not in names:
        st.session_state[tool_forms.PICKED] = names[0]
    chosen = st.selectbox("Server", names, key=tool_forms.PICKED)
    server_detail(next(s for s in servers if s.name == chosen))


render()
