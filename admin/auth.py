"""The login gate: a local password (hashed in the database, set with `switchboard admin set-password`) and,
when `.streamlit/secrets.toml` has an `[auth]` section, single sign-on through Streamlit's OIDC (`st.login`).

A login lives in this browser session's state with an idle timeout (SWITCHBOARD_ADMIN_SESSION_MINUTES): every
full page run extends it; background refreshes (fragments) do not. Nothing but the login form renders before.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core import admins
from core.settings import get_settings

log = logging.getLogger("switchboard.admin")
SESSION_KEY = "_switchboard_login"
NOTICE_KEY = "_switchboard_login_notice"
END_SSO_KEY = "_switchboard_end_sso"


@dataclass(frozen=True)
class Login:
    user: str
    method: str  # password | oidc
    expires_at: float  # epoch seconds


def _session_seconds() -> float:
    return max(1.0, get_settings().admin_session_minutes * 60)


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


def current_login() -> Login | None:
    """This session's login, or None (an expired one is forgotten, with a note for the login form)."""
    raw = st.session_state.get(SESSION_KEY)
    if not isinstance(raw, Login):
        return None
    if time.time() >= raw.expires_at:
        del st.session_state[SESSION_KEY]
        minutes = get_settings().admin_session_minutes
        st.session_state[NOTICE_KEY] = f"Your session ended after {minutes:g} minutes without activity. Sign in again."
        if raw.method == "oidc":
            st.session_state[END_SSO_KEY] = True  # else the identity cookie would sign them straight back in
        return None
    return raw


def who() -> str:
    """Who is acting, for `updated_by` columns: `admin:<user>`."""
    login = current_login()
    return f"admin:{login.user if login else '?'}"[:64]


def touch(login: Login) -> Login:
    """Extend the session on activity."""
    renewed = Login(login.user, login.method, time.time() + _session_seconds())
    st.session_state[SESSION_KEY] = renewed
    return renewed


def _start(user: str, method: str) -> None:
    st.session_state[SESSION_KEY] = Login(user, method, time.time() + _session_seconds())
    st.session_state.pop(NOTICE_KEY, None)
    log.info("admin sign-in: %s (%s)", user, method)


def sign_out() -> None:
    login = st.session_state.pop(SESSION_KEY, None)
    if isinstance(login, Login) and login.method == "oidc" and _st_user_logged_in():
        st.logout()  # also drops the identity cookie, or the next run would sign them in again


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


def login_page() -> None:
    """What a visitor sees before signing in: the login form(s), nothing else."""
    st.title("Switchboard admin")
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
            "No admin account exists yet. On the server, run `switchboard admin set-password` to create one "
            "(the password is read from a hidden prompt), then reload this page."
        )


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
        if st.button("Sign out", key="sign-out"):
            sign_out()
            st.rerun()
