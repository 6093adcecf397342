"""The Tools page's forms: add an MCP server (a command run over stdio, or a remote server over HTTP with an auth
header whose value is written here once and never shown again), and per server its tools (allowlist and consent),
where it is enabled, its secret, and removal. A form that shows an error saved nothing and keeps what was typed."""

from __future__ import annotations

import streamlit as st

from admin import ui
from core.config.prompts import list_presets
from core.errors import UserError
from core.tools.servers import SCOPE_KINDS, ServerView, add_server, remove_server, update_server

SCOPES = {
    "global": "Everywhere",
    "workspace": "A workspace",
    "channel": "A channel",
    "preset": "Threads on a preset",
}
WHAT = {"workspace": "workspace id", "channel": "channel id", "preset": "preset name"}
DEFAULT_HEADER = "Authorization"
PICKED = "tools-pick"
ADD_RESET = "_tools_add_reset"
STDIO_KEYS = ("add-stdio-name", "add-stdio-command", "add-stdio-scope-value")
HTTP_KEYS = ("add-http-name", "add-http-url", "add-http-secret", "add-http-scope-value")


def scope_text(kind: str, value: str) -> str:
    """The store's scope for what the form says (`global`, `workspace:T1`, `preset:research`)."""
    value = value.strip()
    if kind == "global":
        if value:
            raise UserError("'Everywhere' needs no id or name: clear 'Workspace, channel or preset', or pick a scope.")
        return "global"
    if not value:
        raise UserError(f"Enter the {WHAT[kind]} the server is enabled for.")
    return f"{kind}:{value}"


def scope_inputs(prefix: str, kind: str = "global", value: str = "") -> tuple[str, str]:
    """Where a server is enabled: a kind and its id or name (inside a form; checked by `scope_text`)."""
    presets = [p.name for p in list_presets()]
    c1, c2 = st.columns(2)
    picked = c1.selectbox(
        "Enabled in", SCOPE_KINDS, index=SCOPE_KINDS.index(kind), format_func=SCOPES.__getitem__, key=f"{prefix}-kind"
    )
    typed = c2.text_input(
        "Workspace, channel or preset",
        value=value,
        key=f"{prefix}-scope-value",
        help="A Slack team id or Discord server id, a channel id, or a preset's name "
        f"({', '.join(presets) if presets else 'no presets yet'}). Empty for everywhere.",
    )
    return picked, typed


def _reset_add_forms() -> None:
    if st.session_state.pop(ADD_RESET, False):  # set, not deleted: the browser then shows the empty form
        for key in (*STDIO_KEYS, *HTTP_KEYS):
            st.session_state[key] = ""
        st.session_state["add-http-header"] = DEFAULT_HEADER
        for key in ("add-stdio-kind", "add-http-kind"):
            st.session_state.pop(key, None)


def _added(view: ServerView) -> None:
    ui.flash(f"Added MCP server '{view.name}' ({view.scope_label}). Test it below to list its tools.")
    st.session_state[ADD_RESET] = True
    st.session_state[PICKED] = view.name  # the server picker below is not drawn yet in this run
    st.rerun()


def add_forms() -> None:
    """Two ways to add a server, one tab each."""
    _reset_add_forms()
    st.session_state.setdefault("add-http-header", DEFAULT_HEADER)
    st.markdown("**Add a server**")
    local, remote = st.tabs([":material/terminal: Command on this machine (stdio)", ":material/public: Remote (HTTP)"])
    with local, st.form("add-stdio", clear_on_submit=False):
        name = st.text_input("Name", placeholder="e.g. tickets", key="add-stdio-name", help="Lowercase: tickets.search")
        command = st.text_input(
            "Command",
            placeholder="e.g. uvx mcp-server-tickets --readonly",
            key="add-stdio-command",
            help="Run on this machine, as the bot's user, with the bot's rights. Only admins can add one.",
        )
        kind, value = scope_inputs("add-stdio")
        submitted = st.form_submit_button("Add server", type="primary")
    if submitted:
        with ui.user_errors():
            _added(add_server(name.strip(), command=command.strip() or None, scope=scope_text(kind, value)))
    with remote, st.form("add-http", clear_on_submit=False):
        c1, c2 = st.columns([1, 2])
        name = c1.text_input("Name", placeholder="e.g. docs", key="add-http-name")
        url = c2.text_input(
            "URL",
            placeholder="https://mcp.example.com/mcp",
            key="add-http-url",
            help="Streamable HTTP, on a host in SWITCHBOARD_MCP_ALLOWED_HOSTS.",
        )
        c3, c4 = st.columns([1, 2])
        header = c3.text_input("Auth header", key="add-http-header", help="The header the server reads its key from.")
        secret = c4.text_input(
            "Header value",
            type="password",
            key="add-http-secret",
            placeholder="e.g. Bearer …",
            help="Stored encrypted; never shown again (only a masked hint). Empty: no credential.",
        )
        kind, value = scope_inputs("add-http")
        submitted = st.form_submit_button("Add server", type="primary")
    if submitted:
        with ui.user_errors():
            has_secret = bool(secret.strip())
            _added(
                add_server(
                    name.strip(),
                    url=url.strip() or None,
                    auth_header=(header.strip() or DEFAULT_HEADER) if has_secret else None,
                    secret=secret.strip() if has_secret else None,
                    scope=scope_text(kind, value),
                )
            )


def tools_form(s: ServerView) -> None:
    """Which listed tools threads are offered, and which ask the user before each run."""
    listed = [t.name for t in s.tools]
    with st.form(f"tools-{s.name}"):
        st.markdown("**Tools threads may use**")
        every = st.checkbox(
            "Offer every tool it lists",
            value=s.allowed_tools is None,
            help="Also tools it lists later. Untick to offer only the tools chosen below.",
        )
        allowed = st.multiselect(
            "Only these tools",
            options=list(dict.fromkeys([*listed, *(s.allowed_tools or ())])),
            default=list(s.allowed_tools or ()),
            help="Used when 'Offer every tool it lists' is off.",
        )
        consent = st.multiselect(
            "Ask the user before running",
            options=list(dict.fromkeys([*listed, *s.consent_tools])),
            default=list(s.consent_tools),
            help="The thread shows a button; the tool runs only once someone in the thread allows it.",
        )
        submitted = st.form_submit_button("Save tools")
    if submitted:
        with ui.user_errors():
            if not every and not allowed:
                raise UserError("Pick at least one tool to offer, or tick 'Offer every tool it lists'.")
            update_server(s.name, allowed_tools=None if every else allowed, consent_tools=consent)
            ui.flash(f"Saved the tools of '{s.name}'.")
            st.rerun()


def settings_form(s: ServerView) -> None:
    """Where the server is enabled, and whether at all."""
    with st.form(f"settings-{s.name}"):
        st.markdown("**Where it is enabled**")
        kind, value = scope_inputs(f"edit-{s.name}", s.scope_kind, s.scope_value)
        enabled = st.checkbox("Enabled", value=s.enabled, help="A disabled server's tools are offered nowhere.")
        submitted = st.form_submit_button("Save")
    if submitted:
        with ui.user_errors():
            saved = update_server(s.name, scope=scope_text(kind, value), enabled=enabled)
            state = f"enabled {saved.scope_label}" if saved.enabled else "disabled"
            ui.flash(f"Saved '{s.name}': {state}.")
            st.rerun()


def secret_form(s: ServerView) -> None:
    """Rotate a remote server's credential: a new value (and header name), written once, never shown."""
    with st.form(f"secret-{s.name}", clear_on_submit=True):
        st.markdown("**Credential**")
        now = f"{s.auth_header}: {s.secret_hint}" if s.has_secret else "none"
        st.caption(f"Now: {now}. A new value replaces it; the old one is forgotten.")
        c1, c2 = st.columns([1, 2])
        header = c1.text_input("Auth header", value=s.auth_header or DEFAULT_HEADER, key=f"secret-header-{s.name}")
        secret = c2.text_input("New header value", type="password", key=f"secret-value-{s.name}")
        submitted = st.form_submit_button("Rotate secret")
    if submitted:
        with ui.user_errors():
            if not secret.strip():
                raise UserError("Enter the new header value (the old one stays until you do).")
            saved = update_server(s.name, auth_header=header.strip() or DEFAULT_HEADER, secret=secret.strip())
            ui.flash(f"Rotated the secret of '{s.name}' (now {saved.secret_hint}).")
            st.rerun()


def remove_section(s: ServerView) -> None:
    with st.expander(f"Remove '{s.name}'", icon=":material/delete:"):
        st.write(
            f"This deletes '{s.name}' and its stored credential; threads are no longer offered its tools. "
            "Transcripts keep the calls already made."
        )
        sure = st.checkbox(f"Yes, remove '{s.name}'", key=f"confirm-remove-{s.name}")
        if st.button("Remove server", key=f"remove-{s.name}", type="primary", disabled=not sure):
            with ui.user_errors():
                remove_server(s.name)
                st.session_state.pop(PICKED, None)
                ui.flash(f"Removed MCP server '{s.name}'.")
                st.rerun()
