"""Tools: the MCP servers whose tools threads may use. Each server with where it runs (a command on this machine or
a remote URL), where it is enabled, its health and how many of its tools are offered; adding one; and per server a
test that lists its tools again, its tools with their input schemas, which are offered and which ask the user
first, where it is enabled, its credential (write-only) and removal."""

from __future__ import annotations

import shlex

import pandas as pd
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


def health(s: ServerView) -> str:
    """`ok · 42 ms · 3 min ago`, `failing · just now`, or `unchecked`."""
    if s.last_check_ok is None:
        return "unchecked"
    if not s.last_check_ok:
        return f"failing · {fmt.ago(s.last_check_at)}"
    return f"ok · {fmt.latency(s.last_check_latency_ms)} · {fmt.ago(s.last_check_at)}"


def offered(s: ServerView) -> str:
    if not s.tools:
        return "none listed yet" if s.last_check_ok is None else "none listed"
    return f"{len(s.offered)} of {len(s.tools)}"


def tools_cell(s: ServerView) -> str:
    """`7 of 7 offered · 1 asks first`."""
    if not s.tools:
        return offered(s)
    n = len(s.consent_tools)
    asks = f" · {n} {'asks' if n == 1 else 'ask'} first" if n else ""
    return f"{offered(s)} offered{asks}"


def credential(s: ServerView) -> str:
    if s.transport == "stdio":
        return ""
    return f"{s.auth_header}: {s.secret_hint}" if s.has_secret else "none"


def short_command(command: str) -> str:
    """A command line with each path cut to its last part (`python mcp_server.py stdio`), for the table; the
    server's section shows it in full."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return command
    return " ".join(a.rsplit("/", 1)[-1] if "/" in a and "://" not in a else a for a in argv)


def servers_table(servers: list[ServerView]) -> None:
    """A static table: commands, URLs and problems are read in full, wrapped, so the table never grows wider than
    the page. The secret and problem columns appear when a server has one."""
    rows = []
    for s in servers:
        row = {
            "name": s.name,
            "runs": f"stdio: {short_command(s.command or '')}" if s.transport == "stdio" else f"HTTP: {s.url}",
            "enabled in": s.scope_label if s.enabled else "off",
            "health": health(s),
            "tools": tools_cell(s),
        }
        if any(x.transport == "http" for x in servers):
            row["secret"] = credential(s)
        if any(x.last_check_error for x in servers):
            row["problem"] = s.last_check_error or ""
        rows.append(row)
    with st.container(key="tool-servers"):  # a long unbroken argument wraps anywhere, other cells between words
        st.html("<style>.st-key-tool-servers td:nth-of-type(1) p {overflow-wrap: anywhere !important}</style>")
        st.table(pd.DataFrame(rows).set_index("name"))


def health_line(s: ServerView) -> None:
    """Where it runs, then how its last check went, or, right after Test now, how that test went (once)."""
    where = f"Runs `{s.command}` on this machine" if s.transport == "stdio" else f"Remote at {s.url}"
    st.caption(f"{where} · enabled {s.scope_label if s.enabled else 'nowhere (disabled)'}")
    tested = st.session_state.get(TESTED, {}).pop(s.name, None)
    if tested is not None:
        ok, message = tested
        (st.success if ok else st.error)(message, icon=":material/check_circle:" if ok else ":material/error:")
    elif s.last_check_ok is None:
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
    """Connect, list the tools and store what was found (as the scheduled check does); the rerun says how it went
    in the health line, and the tables show what it found."""
    if st.button("Test now", key=f"test-{s.name}", icon=":material/play_arrow:"):
        with ui.user_errors(), st.spinner(f"Connecting to {s.name} and listing its tools…"):
            checked = sync.run(check(s.name))
            if checked.last_check_ok:
                names = ", ".join(t.name for t in checked.tools) or "no tools"
                took = fmt.latency(checked.last_check_latency_ms)
                outcome = (True, f"Tested just now: {s.name} answered in {took} and lists {names}.")
            else:
                error = checked.last_check_error or "no answer"
                outcome = (
                    False,
                    f"Tested just now: {s.name} failed: {error}. Its tools are not offered until it passes.",
                )
            st.session_state.setdefault(TESTED, {})[s.name] = outcome
            st.rerun()


def tools_table(s: ServerView) -> None:
    """The tools its last check listed, with what threads are offered; each tool's input schema on demand."""
    if not s.tools:
        st.caption("No tools listed yet." if s.last_check_ok is None else "The last check listed no tools.")
        return
    offered_names = {t.name for t in s.offered}
    st.table(  # static: descriptions are read in full
        pd.DataFrame(
            [
                {
                    "tool": t.name,
                    "description": t.description,
                    "offered": "yes" if t.name in offered_names else "no",
                    "asks first": "yes" if t.consent else "no",
                    "arguments": ", ".join(t.input_schema.get("properties", {})) or "none",
                }
                for t in s.tools
            ]
        ).set_index("tool")
    )
    st.caption("Input schemas, as the model is given them:")
    for t in s.tools:
        with st.expander(f"{t.name}", icon=":material/data_object:"):
            st.json(t.input_schema or {}, expanded=True)


def server_detail(s: ServerView) -> None:
    health_line(s)
    test_now(s)
    st.subheader(f"Tools of {s.name}")
    tools_table(s)
    tool_forms.tools_form(s)
    st.subheader(f"Settings of {s.name}")
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
