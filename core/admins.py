"""Admin accounts of the admin app, their sign-ins and the first-run setup link: owns the AdminUser, AdminSession
and AdminSetupToken tables.

Passwords are stored as scrypt hashes with a random salt (`scrypt$n$r$p$salt$hash`, base64 parts), never in
plain text, and checked in constant time. A login for an unknown user costs the same as a wrong password, so
timing does not tell which usernames exist.

A sign-in is a row of AdminSession, so it outlives the browser tab that made it and ends everywhere at once.
The browser proves it holds one with a random token (an HttpOnly cookie the admin app sets); the database keeps
only the token's SHA-256 (the token is 256 random bits, so a fast hash is enough: there is nothing to guess).
The token is never shown to the page: the page gets a one-time ticket, valid for TICKET_SECONDS, which the
browser exchanges for the cookie (`claim_ticket`). A session ends on sign-out, after
SWITCHBOARD_ADMIN_SESSION_MINUTES without activity, MAX_SESSION_HOURS after sign-in whatever the activity, when
its admin's password changes or the account is removed, and with `switchboard admin end-sessions`.

While no admin account exists, `switchboard admin` prints a one-time link that creates the first one
(`new_setup_token`): stored as a hash, valid once, for SETUP_TOKEN_HOURS, and only until an account exists.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, update
from sqlmodel import col, select

from core.errors import UserError
from core.settings import get_settings
from core.storage.db import session
from core.storage.tables import AdminSession, AdminSetupToken, AdminUser, aware, utcnow

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
DEFAULT_USERNAME = "admin"
# scrypt cost: 16 MiB of memory and ~50 ms per check; stored with each hash, so it can be raised later.
_N, _R, _P = 2**14, 8, 1
_DKLEN = 32
MAX_SESSION_HOURS = 12.0  # a sign-in ends this long after it began, however active
TICKET_SECONDS = 120.0  # the page has this long to trade its ticket for the cookie
SETUP_TOKEN_HOURS = 24.0
KEEP_ENDED_DAYS = 7  # ended sessions are kept this long (so a reload can say why it ended), then deleted


class AdminAccountError(UserError):
    """Bad username or password input; nothing was stored."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, self-describing so the cost can change later."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` matches a hash made by `hash_password` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(expected)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
            maxmem=256 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown usernames against, so they take as long as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def validate_username(username: str) -> str:
    name = (username or "").strip()
    if not USERNAME_RE.match(name):
        raise AdminAccountError(
            f"'{username}' is not a valid username: 1-64 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit."
        )
    return name


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AdminAccountError(
            f"The password is too short: use at least {MIN_PASSWORD_CHARS} characters (a passphrase of a few "
            "words is easy to remember)."
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise AdminAccountError(f"The password is too long: at most {MAX_PASSWORD_CHARS} characters.")
    if password != password.strip():
        raise AdminAccountError("The password starts or ends with whitespace; check what you typed or pasted.")


def set_password(username: str, password: str) -> bool:
    """Create the admin `username` or change its password. Returns True when the account is new."""
    name = validate_username(username)
    validate_password(password)
    hashed = hash_password(password)
    with session(write=True) as s:
        row = s.exec(select(AdminUser).where(AdminUser.username == name)).first()
        created = row is None
        changed = row is not None and not check_password(password, row.password_hash)
        row = row or AdminUser(username=name, password_hash=hashed)
        row.password_hash, row.updated_at = hashed, utcnow()
        s.add(row)
    if changed:
        end_sessions(name)  # whoever signed in with the old password is signed out
    return created


def verify_login(username: str, password: str) -> bool:
    """True when `username` exists and `password` is its password."""
    name = (username or "").strip()
    with session() as s:
        stored = s.exec(select(AdminUser.password_hash).where(AdminUser.username == name)).first()
    matched = check_password(password or "", stored or _dummy_hash())
    return stored is not None and matched


def admin_usernames() -> list[str]:
    with session() as s:
        return list(s.exec(select(AdminUser.username).order_by(AdminUser.username)).all())


def has_admins() -> bool:
    with session() as s:
        return s.exec(select(AdminUser.id)).first() is not None


def remove_admin(username: str) -> None:
    with session(write=True) as s:
        row = s.exec(select(AdminUser).where(AdminUser.username == username.strip())).first()
        if row is None:
            raise AdminAccountError(f"No admin named '{username}'.")
        s.delete(row)
    end_sessions(username.strip())


# ---------------------------------------------------------------- sessions


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _idle() -> timedelta:
    return timedelta(minutes=max(1 / 60, get_settings().admin_session_minutes))


SessionStatus = Literal["active", "idle", "ended", "unknown"]


@dataclass(frozen=True)
class SessionView:
    id: int
    username: str
    method: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # when it ends unless there is activity before (never after the absolute limit)
    ended_at: datetime | None

    def status(self, now: datetime | None = None) -> SessionStatus:
        if self.ended_at is not None:
            return "ended"
        return "active" if (now or utcnow()) < self.expires_at else "idle"


def _view(row: AdminSession) -> SessionView:
    assert row.id is not None
    return SessionView(
        row.id,
        row.username,
        row.method,
        aware(row.created_at),
        aware(row.last_seen_at),
        aware(row.expires_at),
        aware(row.ended_at) if row.ended_at else None,
    )


def _until(created_at: datetime, now: datetime) -> datetime:
    return min(now + _idle(), created_at + timedelta(hours=MAX_SESSION_HOURS))


def start_session(username: str, method: str) -> tuple[SessionView, str]:
    """A new sign-in of `username`: the session, and the one-time ticket the browser trades for its cookie."""
    now = utcnow()
    ticket = secrets.token_urlsafe(32)
    row = AdminSession(
        username=username[:320],
        method=method[:16],
        ticket_hash=_digest(ticket),
        ticket_expires_at=now + timedelta(seconds=TICKET_SECONDS),
        created_at=now,
        last_seen_at=now,
        expires_at=_until(now, now),
    )
    with session(write=True) as s:
        s.exec(delete(AdminSession).where(col(AdminSession.expires_at) < now - timedelta(days=KEEP_ENDED_DAYS)))
        s.add(row)
        s.flush()
        view = _view(row)
    return view, ticket


def claim_ticket(ticket: str) -> str | None:
    """Trade a one-time ticket for the session's cookie token (a fresh one; it is shown nowhere else).
    None when the ticket is unknown, used, stale, or its session has ended. A ticket works once either way."""
    if not ticket:
        return None
    now = utcnow()
    with session(write=True) as s:
        row = s.exec(select(AdminSession).where(AdminSession.ticket_hash == _digest(ticket))).first()
        if row is None:
            return None
        fresh = row.ticket_expires_at is not None and aware(row.ticket_expires_at) > now
        row.ticket_hash = row.ticket_expires_at = None
        token = secrets.token_urlsafe(32) if fresh and _view(row).status(now) == "active" else None
        if token:
            row.token_hash = _digest(token)
        s.add(row)
    return token


def session_by_id(session_id: int) -> SessionView | None:
    with session() as s:
        row = s.get(AdminSession, session_id)
        return _view(row) if row else None


def session_by_token(token: str) -> SessionView | None:
    """The session a browser's cookie belongs to (in any state), or None for a token never issued here."""
    if not token:
        return None
    with session() as s:
        row = s.exec(select(AdminSession).where(AdminSession.token_hash == _digest(token))).first()
        return _view(row) if row else None


def touch_session(session_id: int) -> SessionView | None:
    """Activity: push the idle end of an active session on (up to the absolute limit). Written at most every
    few seconds per session, not on every page run. None when the session is no longer active."""
    now = utcnow()
    with session(write=True) as s:
        row = s.get(AdminSession, session_id)
        if row is None or _view(row).status(now) != "active":
            return None
        step = min(timedelta(seconds=30), _idle() / 10)
        if now - aware(row.last_seen_at) >= step:
            row.last_seen_at, row.expires_at = now, _until(aware(row.created_at), now)
            s.add(row)
        return _view(row)


def end_session(session_id: int) -> None:
    """Sign-out: the session ends in every tab and browser that holds it."""
    with session(write=True) as s:
        s.exec(
            update(AdminSession)
            .where(col(AdminSession.id) == session_id, col(AdminSession.ended_at).is_(None))
            .values(ended_at=utcnow(), ticket_hash=None)
        )


def end_sessions(username: str | None = None) -> int:
    """End every active session (of `username`, or of everyone). Returns how many ended."""
    now = utcnow()
    with session(write=True) as s:
        query = update(AdminSession).where(col(AdminSession.ended_at).is_(None), col(AdminSession.expires_at) > now)
        if username is not None:
            query = query.where(col(AdminSession.username) == username)
        ended = s.exec(query.values(ended_at=now, ticket_hash=None))
        return int(ended.rowcount or 0)


def active_sessions() -> list[SessionView]:
    now = utcnow()
    with session() as s:
        rows = s.exec(
            select(AdminSession)
            .where(col(AdminSession.ended_at).is_(None), col(AdminSession.expires_at) > now)
            .order_by(col(AdminSession.last_seen_at).desc())
        ).all()
        return [_view(row) for row in rows]


# ---------------------------------------------------------------- the first admin account


def new_setup_token() -> str | None:
    """While no admin account exists: a fresh one-time token for the link that creates the first one (earlier
    unused tokens stop working). None once an account exists."""
    if has_admins():
        return None
    now = utcnow()
    token = secrets.token_urlsafe(32)
    with session(write=True) as s:
        s.exec(delete(AdminSetupToken))
        s.add(
            AdminSetupToken(
                token_hash=_digest(token), created_at=now, expires_at=now + timedelta(hours=SETUP_TOKEN_HOURS)
            )
        )
    return token


def setup_token_valid(token: str) -> bool:
    """Whether `token` may still create the first admin account."""
    if not token or has_admins():
        return False
    with session() as s:
        row = s.exec(select(AdminSetupToken).where(AdminSetupToken.token_hash == _digest(token))).first()
    return row is not None and row.used_at is None and aware(row.expires_at) > utcnow()


class SetupLinkError(AdminAccountError):
    """The setup link cannot create an account (used, replaced, expired, or an account exists)."""


def create_first_admin(token: str, username: str, password: str) -> str:
    """Create the first admin account with the one-time setup token; returns its username. Refused once any
    account exists, so a leaked link cannot add a second admin."""
    name = validate_username(username)
    validate_password(password)
    hashed = hash_password(password)
    now = utcnow()
    with session(write=True) as s:
        if s.exec(select(AdminUser.id)).first() is not None:
            raise SetupLinkError("An admin account exists already: sign in with it.")
        used = s.exec(
            update(AdminSetupToken)
            .where(
                col(AdminSetupToken.token_hash) == _digest(token or ""),
                col(AdminSetupToken.used_at).is_(None),
                col(AdminSetupToken.expires_at) > now,
            )
            .values(used_at=now)
        )
        if used.rowcount != 1:
            raise SetupLinkError(
                "This setup link no longer works (it was used, a newer one was printed, or it expired). "
                "Restart the admin for a new one, or run `switchboard admin set-password`."
            )
        s.add(AdminUser(username=name, password_hash=hashed, created_at=now, updated_at=now))
    return name
