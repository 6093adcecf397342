"""The admin's login gate: nothing before sign-in, wrong passwords refused, sessions that end, single sign-on
only for allowed addresses; and `switchboard admin set-password`, which stores only a salted hash."""

from __future__ import annotations

import time

import pytest
from sqlmodel import select

from core.admins import AdminAccountError, admin_usernames, remove_admin, set_password, verify_login
from core.providers.store import add_provider
from core.storage.db import session
from core.storage.tables import AdminUser
from tests.adminkit import PASSWORD, USERNAME, AdminApp
from tests.conftest import Cli
from tests.ollamakit import set_env

OIDC = {
    "auth": {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "a-long-random-cookie-secret-for-tests",
        "client_id": "switchboard",
        "client_secret": "not-a-real-secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
}


def test_nothing_but_the_login_form_renders_before_sign_in() -> None:
    add_provider("secret-provider", "ollama")
    set_password(USERNAME, PASSWORD)
    app = AdminApp().run()

    assert app.titles == ["Switchboard admin"]
    assert [w.label for w in app.at.text_input] == ["Username", "Password"]
    assert not app.at.dataframe and not app.at.metric
    assert "secret-provider" not in app.text()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.at.switch_page("views/providers.py")  # no page but the login form is registered


def test_without_an_admin_account_the_page_says_how_to_create_one() -> None:
    app = AdminApp().run()
    assert not app.at.text_input
    assert any("switchboard admin set-password" in i for i in app.infos)


def test_a_wrong_password_is_refused_and_a_right_one_opens_the_overview() -> None:
    set_password(USERNAME, PASSWORD)
    add_provider("local", "ollama")
    app = AdminApp().run()

    app.sign_in(USERNAME, "not the password")
    assert app.errors == ["Wrong username or password."]
    assert app.titles == ["Switchboard admin"] and not app.at.dataframe
    app.sign_in("nobody", PASSWORD)
    assert app.errors == ["Wrong username or password."]

    app.sign_in(USERNAME, PASSWORD)
    assert app.titles == ["Overview"]
    assert "local" in app.table_with("provider")["provider"].tolist()
    assert f"Signed in as **{USERNAME}**" in app.at.sidebar.caption[0].value


def test_an_idle_session_ends_and_sign_out_works(monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]) -> None:
    set_env(monkeypatch, sb_env, SWITCHBOARD_ADMIN_SESSION_MINUTES="0.02")  # 1.2 s
    app = AdminApp.signed_in()
    time.sleep(1.5)
    app.run()
    assert app.titles == ["Switchboard admin"]
    assert app.warnings == ["Your session ended after 0.02 minutes without activity. Sign in again."]

    set_env(monkeypatch, sb_env, SWITCHBOARD_ADMIN_SESSION_MINUTES="60")
    app.sign_in(USERNAME, PASSWORD)
    assert app.titles == ["Overview"]
    app.at.sidebar.button[0].click()
    app.run()
    assert app.titles == ["Switchboard admin"] and not app.at.dataframe


def test_single_sign_on_admits_only_allowed_addresses(monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]) -> None:
    set_env(monkeypatch, sb_env, SWITCHBOARD_ADMIN_EMAILS="ops@example.com, @admins.example.org")

    visitor = AdminApp()
    visitor.at.secrets = dict(OIDC)
    visitor.run()
    assert [b.label for b in visitor.at.button] == ["Sign in with single sign-on"]
    assert not visitor.at.text_input  # no local admin account: only single sign-on is offered

    stranger = AdminApp()
    stranger.at.secrets = dict(OIDC)
    stranger.at.user = {"is_logged_in": True, "email": "someone@gmail.com"}
    stranger.run()
    assert stranger.titles == ["Switchboard admin"] and not stranger.at.dataframe
    assert "someone@gmail.com may not use the Switchboard admin" in stranger.errors[0]

    for email in ("ops@example.com", "lee@admins.example.org"):
        member = AdminApp()
        member.at.secrets = dict(OIDC)
        member.at.user = {"is_logged_in": True, "email": email}
        member.run()
        assert member.titles == ["Overview"], member.describe()


def test_set_password_stores_a_salted_hash_and_checks_length(cli: Cli) -> None:
    short = cli("admin", "set-password", input="short\n")
    assert short.returncode == 2 and "too short" in short.stderr

    created = cli("admin", "set-password", "ops", input=f"{PASSWORD}\n")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("Created admin 'ops'")
    changed = cli.subprocess("admin", "set-password", "ops", input="another good passphrase\n")
    assert changed.returncode == 0 and "Changed the password of admin 'ops'" in changed.stdout

    assert verify_login("ops", "another good passphrase") and not verify_login("ops", PASSWORD)
    with session() as s:
        stored = s.exec(select(AdminUser.password_hash)).one()
    assert stored.startswith("scrypt$") and "another" not in stored
    assert cli("admin", "list").stdout.split() == ["ops"]


def test_an_idle_single_sign_on_session_ends_too(monkeypatch: pytest.MonkeyPatch, sb_env: dict[str, str]) -> None:
    set_env(monkeypatch, sb_env, SWITCHBOARD_ADMIN_EMAILS="*", SWITCHBOARD_ADMIN_SESSION_MINUTES="0.02")
    member = AdminApp()
    member.at.secrets = dict(OIDC)
    member.at.user = {"is_logged_in": True, "email": "ops@example.com"}
    member.run()
    assert member.titles == ["Overview"]
    time.sleep(1.5)
    member.run()
    # The identity cookie was dropped too: the admin must go through single sign-on again.
    assert member.titles == ["Switchboard admin"] and not member.at.dataframe
    assert [b.label for b in member.at.button] == ["Sign in with single sign-on"]
    assert member.warnings == ["Your session ended after 0.02 minutes without activity. Sign in again."]


def test_admin_accounts_on_sqlite_and_postgresql(any_db: str) -> None:
    assert set_password("ops", PASSWORD) is True
    assert set_password("ops", "a different passphrase") is False
    assert verify_login("ops", "a different passphrase") and not verify_login("ops", PASSWORD)
    assert not verify_login("ghost", PASSWORD)
    with pytest.raises(AdminAccountError, match="not a valid username"):
        set_password("has space", PASSWORD)
    with pytest.raises(AdminAccountError, match="starts or ends with whitespace"):
        set_password("ops", f" {PASSWORD}")
    assert admin_usernames() == ["ops"]
    remove_admin("ops")
    assert admin_usernames() == []
