"""Admin accounts of the admin app: owns the AdminUser table.

Passwords are stored as scrypt hashes with a random salt (`scrypt$n$r$p$salt$hash`, base64 parts), never in
plain text, and checked in constant time. A login for an unknown user costs the same as a wrong password, so
timing does not tell which usernames exist.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets

from sqlmodel import select

from core.errors import UserError
from core.storage.db import session
from core.storage.tables import AdminUser, utcnow

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
DEFAULT_USERNAME = "admin"
# scrypt cost: 16 MiB of memory and ~50 ms per check; stored with each hash, so it can be raised later.
_N, _R, _P = 2**14, 8, 1
_DKLEN = 32


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
        row = row or AdminUser(username=name, password_hash=hashed)
        row.password_hash, row.updated_at = hashed, utcnow()
        s.add(row)
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
