"""The admin's login gate: nothing before sign-in, wrong passwords refused, sessions that end, single sign-on
only for allowed addresses; the first-run link that creates the first account once; sessions kept in the database
(ended everywhere by sign-out, a password change or `switchboard admin end-sessions`) and the route that hands the
browser its HttpOnly cookie; and `switchboard admin set-password`, which stores only a salted hash.

The browser side (a reload, a new tab, a bookmarked page, sign-out in another tab) is tests/e2e/test_admin_session.py.
"""

from __future__ import annotations

import time

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.routing import Route

from admin import cookie
from core import admins
from core.admins import AdminAccountError, admin_usernames, remove_admin, set_password, verify_login
from core.providers.store import add_provider
from core.storage.db import session
from core.storage.tables import AdminSession, AdminSetupToken, AdminUser
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
    (info,) = app.infos
    assert "Open the one-time setup link the admin printed in the terminal" in info and "?setup=" in info
    assert "switchboard admin set-password" in info


def test_the_setup_link_creates_the_first_admin_once_and_signs_them_in() -> None:
    token = admins.new_setup_token()
    assert token is not None
    with session() as s:
        (stored,) = s.exec(select(AdminSetupToken)).all()
    assert stored.token_hash != token and token not in stored.token_hash  # only its hash is kept

    stranger = AdminApp()
    stranger.at.query_params["setup"] = "a guessed token"
    stranger.run()
    assert stranger.errors and "no longer works" in stranger.errors[0] and not stranger.at.text_input

    admin = AdminApp()
    admin.at.query_params["setup"] = token
    admin.run()
    assert "setup" not in admin.at.query_params  # taken off the address bar
    assert [w.label for w in admin.at.text_input] == ["Username", "Password", "Repeat the password"]
    admin.fill("Username", "ops").fill("Password", PASSWORD).fill("Repeat the password", "a different one!")
    admin.submit("Create account and sign in")
    assert admin.errors == ["The two passwords differ: type the same password twice."] and not admin_usernames()
    admin.fill("Password", "short").fill("Repeat the password", "short").submit("Create account and sign in")
    assert "too short" in admin.errors[0] and not admin_usernames()
    admin.fill("Password", PASSWORD).fill("Repeat the password", PASSWORD).submit("Create account and sign in")
    assert admin.titles == ["Overview"], admin.describe()
    assert admin.successes[0].startswith("Welcome, ops. Next: add a provider")
    assert admin_usernames() == ["ops"] and verify_login("ops", PASSWORD)
    assert [(v.username, v.method) for v in admins.active_sessions()] == [("ops", "password")]

    again = AdminApp()
    again.at.query_params["setup"] = token
    again.run()
    assert again.infos == ["An admin account exists already, so this setup link is spent: sign in below."]
    assert [w.label for w in again.at.text_input] == ["Username", "Password"]  # the ordinary login form
    assert admins.new_setup_token() is None  # no more links once an account exists
    with pytest.raises(admins.SetupLinkError, match="exists already"):
        admins.create_first_admin(token, "second", PASSWORD)


def test_a_newer_setup_link_replaces_the_older_one() -> None:
    first, second = admins.new_setup_token(), admins.new_setup_token()
    assert first and second and not admins.setup_token_valid(first) and admins.setup_token_valid(second)
    with pytest.raises(admins.SetupLinkError, match="no longer works"):
        admins.create_first_admin(first, "ops", PASSWORD)
    assert admins.create_first_admin(second, "ops", PASSWORD) == "ops"


def test_a_session_ended_elsewhere_signs_every_tab_out(cli: Cli) -> None:
    one, two = AdminApp.signed_in(), AdminApp.signed_in()
    assert len(admins.active_sessions()) == 2
    listed = cli("admin", "sessions")
    assert listed.returncode == 0 and listed.stdout.count(f"{USERNAME}  password") == 2, listed.stdout

    one.at.sidebar.button[0].click()  # Sign out
    one.run()
    assert one.titles == ["Switchboard admin"] and len(admins.active_sessions()) == 1
    two.run()
    assert two.titles == ["Overview"]  # another sign-in (another browser) is its own session

    ended = cli("admin", "end-sessions", USERNAME)
    assert ended.stdout.strip() == f"Ended 1 admin session of '{USERNAME}' in every browser."
    two.run()
    assert two.titles == ["Switchboard admin"] and not two.at.dataframe
    assert two.warnings == ["You were signed out: in another tab or window, or on the server. Sign in again."]
    assert cli("admin", "sessions").stdout.strip() == "Nobody is signed in to the admin app."


def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(cli: Cli) -> None:
    app = AdminApp.signed_in()
    changed = cli("admin", "set-password", USERNAME, input="another good passphrase\n")
    assert "Its sessions signed in with the old password have ended." in changed.stdout
    app.run()
    assert app.titles == ["Switchboard admin"]
    remove_admin(USERNAME)
    assert admins.active_sessions() == []


async def test_the_cookie_route_trades_a_ticket_once_for_an_httponly_cookie() -> None:
    set_password(USERNAME, PASSWORD)
    view, ticket = admins.start_session(USERNAME, "password")
    server = Starlette(routes=[Route(cookie.route_path(), cookie.route, methods=["POST", "DELETE"])])
    url = cookie.route_path()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server), base_url="http://127.0.0.1:8501") as client:
        assert (await client.post(url, content=f'{{"ticket": "{ticket}"}}')).status_code == 415  # a plain form
        foreign = {"Origin": "https://evil.example"}
        assert (await client.post(url, json={"ticket": ticket}, headers=foreign)).status_code == 403
        assert (await client.post(url, json={"ticket": "guess"})).status_code == 403

        given = await client.post(url, json={"ticket": ticket}, headers={"Origin": "http://127.0.0.1:8501"})
        assert given.status_code == 204
        header = given.headers["set-cookie"]
        token = client.cookies[cookie.name()]
        assert header.startswith(f"{cookie.name()}={token};")
        for attribute in ("HttpOnly", "Path=/", "SameSite=strict", f"Max-Age={int(admins.MAX_SESSION_HOURS * 3600)}"):
            assert attribute in header, header
        assert "Secure" not in header  # plain HTTP on loopback; over HTTPS it is Secure
        found = admins.session_by_token(token)
        assert found is not None and found.id == view.id
        with session() as s:
            row = s.exec(select(AdminSession)).one()
        assert token not in (row.token_hash or "") and row.ticket_hash is None  # only a hash; the ticket is spent
        assert (await client.post(url, json={"ticket": ticket})).status_code == 403  # once only

        _, other = admins.start_session(USERNAME, "password")
        behind_tls = await client.post(url, json={"ticket": other}, headers={"X-Forwarded-Proto": "https"})
        assert "; Secure" in behind_tls.headers["set-cookie"]
        client.cookies.set(cookie.name(), token)

        assert "set-cookie" not in (await client.delete(url)).headers  # its session is active: the cookie stays
        admins.end_session(view.id)
        dropped = await client.delete(url)
        assert dropped.status_code == 204 and "Max-Age=0" in dropped.headers["set-cookie"]


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
    view, ticket = admins.start_session("ops", "password")
    token = admins.claim_ticket(ticket)
    assert token and admins.claim_ticket(ticket) is None
    assert admins.session_by_token(token) == admins.session_by_id(view.id) and view.status() == "active"
    assert admins.touch_session(view.id) is not None and [v.id for v in admins.active_sessions()] == [view.id]
    remove_admin("ops")  # its sessions end with it
    assert admin_usernames() == [] and admins.active_sessions() == []
    ended = admins.session_by_id(view.id)
    assert ended is not None and ended.status() == "ended" and admins.touch_session(view.id) is None
    link = admins.new_setup_token()
    assert link and admins.setup_token_valid(link) and admins.create_first_admin(link, "ops", PASSWORD) == "ops"
    assert not admins.setup_token_valid(link)
