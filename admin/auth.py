"""The login gate: a local password (hashed in the database) and, when `.streamlit/secrets.toml` has an `[auth]`
section, single sign-on through Streamlit's OIDC (`st.login`); on a first run, the one-time setup link that
creates the first admin account.

A sign-in is a session in the database (core.admins), not only this tab's state: the browser keeps its token in
an HttpOnly cookie (admin/cookie.py, admin/server.py), so a reload, a new tab or a bookmarked page finds it again
through `st.context.cookies`. Every run checks the session in the database, so signing out in one tab (or
`switchboard admin end-sessions`) ends it in all of them at their next run. A session ends after
SWITCHBOARD_ADMIN_SESSION_MINUTES without activity: every full page run extends it; background refreshes
(fragments) do not. Nothing but the login form renders before sign-in.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import streamlit as st

from admin import cookie, ui
from core import admins
from core.settings import get_settings

log = logging.getLogger("switchboard.admin")
SESSION_KEY = "_switchboard_login"
NOTICE_KEY = "_switchboard_login_notice"
END_SSO_KEY = "_switchboard_end_sso"
TICKET_KEY = "_switchboard_cookie_ticket"
DROP_COOKIE_KEY = "_switchboard_drop_cookie"
SEEN_COOKIE_KEY = "_switchboard_seen_cookie"
SETUP_KEY = "_switchboard_setup_token"
NO_SIDEBAR = ("stSidebar", "stExpandSidebarButton")


@dataclass(frozen=True)
class Login:
    user: str
    method: str  # password | oidc
    expires_at: float  # epoch seconds: the end of the session unless there is activity first
    session_id: int = 0
    seen_at: float = 0.0  # epoch seconds the database last recorded activity


def _login(view: admins.SessionView) -> Login:
    return Login(view.username, view.method, view.expires_at.timestamp(), view.id, view.last_seen_at.timestamp())


def _auth_section() -> dict[str, Any] | None:
    """The `[auth]` section of Streamlit's secrets, if one is configured."""
    try:
        if "auth" not in st.secrets:
            return None
        section = st.secrets["auth"]
    except Exception:  # no secrets.toml at all (Streamlit raises its own FileNotFoundError subclass)
        return None
    return dict(section) if hasattr(section, "keys") else None


def oidc_providers() -> list[str | None]:
    """The OIDC providers to offer: None for a single provider configured directly under [auth]."""
    section = _auth_section()
    if section is None:
        return []
    if section.get("client_id"):
        return [None]
    return [name for name, value in section.items() if hasattr(value, "keys")]


def email_allowed(email: str) -> bool:
    """SSO users must match SWITCHBOARD_ADMIN_EMAILS: an address, `@domain`, or `*` (anyone the IdP signs in)."""
    allowed = [e.strip().lower() for e in get_settings().admin_emails.split(",") if e.strip()]
    email = email.strip().lower()
    if not email:
        return False
    return any(a == "*" or a == email or (a.startswith("@") and email.endswith(a)) for a in allowed)


def _why_ended(view: admins.SessionView | None) -> str:
    if view is None or view.ended_at is not None:
        return "You were signed out: in another tab or window, or on the server. Sign in again."
    limit = view.created_at + timedelta(hours=admins.MAX_SESSION_HOURS)
    if view.expires_at >= limit - timedelta(seconds=1):
        return f"Your session ended {admins.MAX_SESSION_HOURS:g} hours after you signed in. Sign in again."
    minutes = get_settings().admin_session_minutes
    return f"Your session ended after {minutes:g} minutes without activity. Sign in again."


def _forget(login: Login | None, view: admins.SessionView | None, *, notice: bool) -> None:
    """This tab's login (or its browser's cookie) no longer holds: say why, and drop what is left of it."""
    st.session_state.pop(SESSION_KEY, None)
    if view is None or view.status() == "ended":
        st.session_state[DROP_COOKIE_KEY] = True  # an idle one stays, so the next tab says why it must sign in
    if notice:
        st.session_state[NOTICE_KEY] = _why_ended(view)
    method = login.method if login else view.method if view else ""
    if method == "oidc":
        st.session_state[END_SSO_KEY] = True  # else the identity cookie would sign them straight back in


def current_login() -> Login | None:
    """This tab's login, checked against the database on every call (None once it ended anywhere). A tab
    without one looks for the session of its browser's cookie (a reload, a new tab, a bookmark)."""
    raw = st.session_state.get(SESSION_KEY)
    if isinstance(raw, Login):
        view = admins.session_by_id(raw.session_id)
        if view is not None and view.status() == "active":
            return Login(raw.user, raw.method, view.expires_at.timestamp(), raw.session_id, raw.seen_at)
        _forget(raw, view, notice=True)
        return None
    token = cookie.token()
    if not token or st.session_state.get(SEEN_COOKIE_KEY) == token:
        return None
    st.session_state[SEEN_COOKIE_KEY] = token  # looked at once per tab: its cookies do not change meanwhile
    view = admins.session_by_token(token)
    if view is None:
        return None  # not a token of this database (nothing to say, nothing to drop)
    if view.status() == "active":
        login = _login(view)
        st.session_state[SESSION_KEY] = login
        return login
    _forget(None, view, notice=view.status() == "idle")  # a deliberate sign-out needs no notice
    return None


def who() -> str:
    """Who is acting, for `updated_by` columns: `admin:<user>`."""
    login = current_login()
    return f"admin:{login.user if login else '?'}"[:64]


def touch(login: Login) -> Login:
    """Extend the session on activity (the database is written at most every few seconds)."""
    now = time.time()
    step = min(30.0, get_settings().admin_session_minutes * 6)  # a tenth of the idle period, at most 30 s
    if now - login.seen_at < step:
        return login
    view = admins.touch_session(login.session_id)
    if view is None:
        return login  # it ended meanwhile: the next run shows the login form
    renewed = _login(view)
    st.session_state[SESSION_KEY] = renewed
    return renewed


def _start(user: str, method: str) -> None:
    view, ticket = admins.start_session(user, method)
    st.session_state[SESSION_KEY] = _login(view)
    st.session_state[TICKET_KEY] = ticket
    for key in (NOTICE_KEY, DROP_COOKIE_KEY, SETUP_KEY):
        st.session_state.pop(key, None)
    log.info("admin sign-in: %s (%s)", user, method)


def sign_out() -> None:
    login = st.session_state.pop(SESSION_KEY, None)
    if isinstance(login, Login):
        admins.end_session(login.session_id)
        log.info("admin sign-out: %s", login.user)
    st.session_state[DROP_COOKIE_KEY] = True
    if isinstance(login, Login) and login.method == "oidc" and _st_user_logged_in():
        st.logout()  # also drops the identity cookie, or the next run would sign them in again


def browser_cookie() -> None:
    """Send the browser what its cookie needs after this tab signed in or out (nothing on other runs)."""
    ticket = st.session_state.pop(TICKET_KEY, None)
    if ticket:
        cookie.hand_over(ticket)
    elif st.session_state.pop(DROP_COOKIE_KEY, False):
        cookie.drop()  # harmless when the browser's cookie is of a newer session: that one is kept


def _st_user_logged_in() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except Exception:
        return False


def require_fresh_login() -> None:
    """For fragments that refresh on their own: if the session ended, rerun the whole app (the login form)."""
    if current_login() is None:
        st.rerun(scope="app")


# ---------------------------------------------------------------- the login page


def signed_out_pages(specs: Any) -> list[st.Page]:
    """Before sign-in every page's URL shows the login form (and only that), so a bookmarked page asks to sign
    in instead of "Page not found", and opens once signed in: a page is known by its URL path, so the real page
    with the same path takes over after the rerun that follows sign-in."""
    return [
        st.Page(login_page, title="Sign in", url_path=spec.url_path, default=spec.default, visibility="hidden")
        for spec in specs
    ]


def login_page() -> None:
    """What a visitor sees before signing in: the login form(s), nothing else."""
    # No sidebar, not even the empty one (or its expand arrow) Streamlit leaves in a tab that just signed out.
    st.html(f"<style>{', '.join(f'[data-testid={t}]' for t in NO_SIDEBAR)} {{display: none}}</style>")
    st.title("Switchboard admin")
    setup = _setup_token()
    if setup is not None:
        if admins.setup_token_valid(setup):
            _first_admin_form(setup)
            return
        st.session_state.pop(SETUP_KEY, None)
        if admins.has_admins():
            st.info("An admin account exists already, so this setup link is spent: sign in below.")
        else:
            st.error(
                "This setup link no longer works (it was used, a newer one was printed, or it expired). "
                "Restart the admin for a new one."
            )
    notice = st.session_state.get(NOTICE_KEY)
    if notice:
        st.warning(notice)
    providers = oidc_providers()
    if providers:
        _sso(providers)
    if admins.has_admins():
        _password_form()
    elif not providers:
        st.info(
            "No admin account exists yet. Open the one-time setup link the admin printed in the terminal where "
            f"Switchboard was started (`make run`, `switchboard up` or `switchboard admin`): `{cookie.public_url()}"
            "?setup=…`. Lost it? Restart the admin for a new one, or create an account on the server with "
            "`switchboard admin set-password`."
        )


def forget_setup_link() -> None:
    """A signed-in admin who opens the (spent) setup link just lands in the app, without it in the address bar."""
    if "setup" in st.query_params:
        del st.query_params["setup"]


def _setup_token() -> str | None:
    """The first-run token from the link (`?setup=…`), taken off the address bar once read."""
    from_url = st.query_params.get("setup")
    if from_url:
        st.session_state[SETUP_KEY] = str(from_url)
        del st.query_params["setup"]
    value = st.session_state.get(SETUP_KEY)
    return str(value) if value else None


def _first_admin_form(token: str) -> None:
    st.subheader("Welcome! Create the first admin account")
    st.caption(
        "Choose the username and password you will sign in with from now on. This link works once: "
        "further admins are added later with `switchboard admin set-password NAME`."
    )
    with st.form("first-admin"):
        username = st.text_input("Username", value=admins.DEFAULT_USERNAME)
        password = st.text_input(
            "Password",
            type="password",
            help=f"At least {admins.MIN_PASSWORD_CHARS} characters; a passphrase of a few words is easy to remember.",
        )
        again = st.text_input("Repeat the password", type="password")
        submitted = st.form_submit_button("Create account and sign in", type="primary")
    if not submitted:
        return
    if password != again:
        st.error("The two passwords differ: type the same password twice.")
        return
    created: list[str] = []
    with ui.user_errors():
        created.append(admins.create_first_admin(token, username, password))
    if created:
        _start(created[0], "password")
        log.info("first admin account created: %s", created[0])
        ui.flash(
            f"Welcome, {created[0]}. Next: add a provider under Providers (a local Ollama, or a cloud API key).",
            icon=":material/waving_hand:",
        )
        st.rerun()


def _sso(providers: list[str | None]) -> None:
    if st.session_state.pop(END_SSO_KEY, False) and _st_user_logged_in():
        st.logout()
    if _st_user_logged_in():
        email = str(st.user.get("email") or "")
        if email_allowed(email):
            _start(email, "oidc")
            st.rerun()
        st.error(
            f"{email or 'This account'} may not use the Switchboard admin. An admin can allow it with "
            "SWITCHBOARD_ADMIN_EMAILS (an address, @your-domain, or *)."
        )
        if st.button("Sign out of single sign-on"):
            st.logout()
        return
    for provider in providers:
        label = f"Sign in with {provider}" if provider else "Sign in with single sign-on"
        if st.button(label, key=f"sso-{provider or 'default'}", type="primary"):
            try:
                if provider:
                    st.login(provider)
                else:
                    st.login()
            except Exception as exc:  # e.g. Authlib missing, or an incomplete [auth] section
                st.error(f"Single sign-on is not set up correctly: {exc}")


def _password_form() -> None:
    with st.form("login", clear_on_submit=True):
        username = st.text_input("Username", value=admins.DEFAULT_USERNAME)
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    if admins.verify_login(username, password):
        _start(username.strip(), "password")
        st.rerun()
    log.warning("admin sign-in refused for %r", username[:64])
    st.error("Wrong username or password.")


def sidebar(login: Login) -> None:
    """Who is signed in, and the way out."""
    with st.sidebar:
        minutes = max(1, round((login.expires_at - time.time()) / 60))
        st.caption(f"Signed in as **{login.user}** · session ends after {minutes} min without activity")
        st.button("Sign out", key="sign-out", on_click=sign_out)  # before the run, which then shows the login form
