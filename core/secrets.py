"""The secret store: provider keys go through keyring's API.

Where the machine has an OS keyring we can use it; headless servers have none, so the default backend is
`EncryptedDbKeyring`: Fernet-encrypted rows in our database, keyed by SWITCHBOARD_SECRET_KEY. Because it lives
in the database it works across processes, and across hosts on PostgreSQL. A canary row detects a wrong
master key at startup; there is never a plain-text fallback.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
from functools import lru_cache

import keyring
import keyring.backend
import keyring.errors
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete
from sqlmodel import select

from core.errors import UserError
from core.logs import register_secret
from core.settings import get_settings
from core.storage.db import session
from core.storage.tables import Meta, Secret, utcnow

SERVICE = "switchboard"
_CANARY_KEY = "secrets.canary"
_SALT_KEY = "secrets.salt"
_CANARY_TEXT = b"switchboard-canary-v1"


class SecretStoreError(UserError):
    """The secret store cannot be used; the message says why and what to do."""


WRONG_KEY = (
    "SWITCHBOARD_SECRET_KEY is not the key this database's secrets were encrypted with, so the stored provider "
    "API keys cannot be read. Set it back to the original key (it is in the .env of the machine that first ran "
    "Switchboard) and start again. If that key is lost, keep the new key set and run `switchboard secrets reset`: "
    "it deletes the secrets the old key encrypted; then enter each provider's API key again (admin, Providers "
    "page, or `switchboard providers remove NAME` and `switchboard providers add NAME ...`)."
)
NO_KEY = (
    "SWITCHBOARD_SECRET_KEY is not set (and this machine offers no OS keyring), so provider API keys can be "
    "neither stored nor read. Set it to the key this database's secrets were encrypted with (it is in the .env of the "
    "machine that first ran Switchboard); on a new install, `switchboard init` writes a fresh one into .env."
)


def generate_master_key() -> str:
    """A fresh random master key (a Fernet key)."""
    return Fernet.generate_key().decode()


@lru_cache(maxsize=8)
def _derive(master: str, salt: bytes) -> Fernet:
    try:
        raw = base64.urlsafe_b64decode(master.encode())
        if len(raw) == 32:
            return Fernet(master.encode())
    except (binascii.Error, ValueError):
        pass
    # A passphrase rather than a generated key: stretch it.
    key = hashlib.scrypt(master.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return Fernet(base64.urlsafe_b64encode(key))


def _salt() -> bytes:
    with session(write=True) as s:
        row = s.get(Meta, _SALT_KEY)
        if row is None:
            row = Meta(key=_SALT_KEY, value=base64.b64encode(os.urandom(16)).decode())
            s.add(row)
        return base64.b64decode(row.value)


def _fernet(master: str) -> Fernet:
    return _derive(master, _salt())


class EncryptedDbKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that keeps Fernet-encrypted secrets in the Switchboard database."""

    priority = 0.1  # never picked by keyring's auto-detection

    def __init__(self, master_key: str) -> None:
        super().__init__()
        if not master_key:
            raise SecretStoreError(NO_KEY)
        self._fernet = _fernet(master_key)

    def readable(self, token: str) -> bool:
        try:
            self._fernet.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def check(self) -> None:
        """Fail clearly when the master key is not the one the stored secrets were written with."""
        with session(write=True) as s:
            canary = s.get(Meta, _CANARY_KEY)
            if canary is None:
                # A database from before the canary: its secrets are the evidence
                first = s.exec(select(Secret.ciphertext).limit(1)).first()
                if first is not None and not self.readable(first):
                    raise SecretStoreError(WRONG_KEY)
                s.add(Meta(key=_CANARY_KEY, value=self._fernet.encrypt(_CANARY_TEXT).decode()))
                return
            if not self.readable(canary.value):
                raise SecretStoreError(WRONG_KEY)

    def unreadable(self) -> list[str]:
        """Names of the stored secrets this key cannot decrypt."""
        with session() as s:
            rows = s.exec(select(Secret.username, Secret.ciphertext)).all()
        return sorted(name for name, token in rows if not self.readable(token))

    def reset(self) -> list[str]:
        """Delete every secret this key cannot decrypt and make this key the store's key; returns their names."""
        with session(write=True) as s:
            gone = [row for row in s.exec(select(Secret)).all() if not self.readable(row.ciphertext)]
            for row in gone:
                s.delete(row)
            canary = s.get(Meta, _CANARY_KEY) or Meta(key=_CANARY_KEY)
            canary.value = self._fernet.encrypt(_CANARY_TEXT).decode()
            s.add(canary)
        reset_backend()
        return sorted(row.username for row in gone)

    def get_password(self, service: str, username: str) -> str | None:
        with session() as s:
            row = s.exec(select(Secret).where(Secret.service == service, Secret.username == username)).first()
        if row is None:
            return None
        try:
            value = self._fernet.decrypt(row.ciphertext.encode()).decode()
        except InvalidToken:
            raise SecretStoreError(f"Secret {username!r} cannot be decrypted. {WRONG_KEY}") from None
        register_secret(value)
        return value

    def set_password(self, service: str, username: str, password: str) -> None:
        token = self._fernet.encrypt(password.encode()).decode()
        with session(write=True) as s:
            row = s.exec(select(Secret).where(Secret.service == service, Secret.username == username)).first()
            if row is None:
                s.add(Secret(service=service, username=username, ciphertext=token))
            else:
                row.ciphertext, row.updated_at = token, utcnow()
                s.add(row)

    def delete_password(self, service: str, username: str) -> None:
        with session(write=True) as s:
            result = s.exec(
                delete(Secret).where(Secret.service == service, Secret.username == username)  # type: ignore[arg-type]
            )
        if not result.rowcount:
            raise keyring.errors.PasswordDeleteError(username)


def os_keyring_usable() -> bool:
    """True when this machine has a real OS keyring (not keyring's fail/null backends)."""
    backend = keyring.get_keyring()
    name = type(backend).__module__
    if name.startswith(("keyring.backends.fail", "keyring.backends.null")):
        return False
    if name.startswith("keyring.backends.chainer"):
        return bool(getattr(backend, "backends", []))
    return True


_backend: keyring.backend.KeyringBackend | None = None


def get_backend() -> keyring.backend.KeyringBackend:
    """The keyring backend the settings call for, checked once per process."""
    global _backend
    if _backend is not None:
        return _backend
    settings = get_settings()
    master = settings.secret_key.get_secret_value() if settings.secret_key else ""
    choice = settings.secret_backend
    if choice == "auto":
        choice = "encrypted" if master else ("keyring" if os_keyring_usable() else "encrypted")
    if choice == "keyring":
        if not os_keyring_usable():
            raise SecretStoreError(
                "SWITCHBOARD_SECRET_BACKEND=keyring but this machine has no OS keyring. "
                "Use the encrypted backend: set SWITCHBOARD_SECRET_KEY (`switchboard init` makes one)."
            )
        _backend = keyring.get_keyring()
        return _backend
    if not master:
        raise SecretStoreError(NO_KEY)
    backend = EncryptedDbKeyring(master)
    backend.check()
    _backend = backend
    return _backend


def encrypted_store() -> EncryptedDbKeyring:
    """The encrypted store under the configured key, not checked (for repairing a store the key cannot read)."""
    settings = get_settings()
    if settings.secret_backend == "keyring":  # noqa: S105 (a backend name, not a password)
        raise SecretStoreError("SWITCHBOARD_SECRET_BACKEND=keyring: secrets are in the OS keyring, not the database.")
    return EncryptedDbKeyring(settings.secret_key.get_secret_value() if settings.secret_key else "")


def reset_backend() -> None:
    """Forget the chosen backend (tests; after rotating the key)."""
    global _backend
    _backend = None


def _username(name: str) -> str:
    return f"provider:{name}"


def set_api_key(provider: str, key: str) -> None:
    register_secret(key)
    get_backend().set_password(SERVICE, _username(provider), key)


def get_api_key(provider: str) -> str | None:
    value = get_backend().get_password(SERVICE, _username(provider))
    register_secret(value)
    return value


def delete_api_key(provider: str) -> None:
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        get_backend().delete_password(SERVICE, _username(provider))


def set_secret(name: str, value: str) -> None:
    """Store any other secret (bot tokens of OAuth installs, ...) under `name`."""
    register_secret(value)
    get_backend().set_password(SERVICE, name, value)


def get_secret(name: str) -> str | None:
    value = get_backend().get_password(SERVICE, name)
    register_secret(value)
    return value


def mask(value: str | None) -> str:
    """A key as users may see it: `sk-…abcd` (prefix up to the first dash, and the last 4)."""
    if not value:
        return ""
    tail = value[-4:] if len(value) >= 12 else ""
    head = value.split("-", 1)[0] + "-" if "-" in value[:8] else ""
    return f"{head}…{tail}"


def rotate_key(new_master: str) -> int:
    """Re-encrypt every secret and the canary under `new_master`; all or nothing. Returns the count."""
    settings = get_settings()
    old_master = settings.secret_key.get_secret_value() if settings.secret_key else ""
    if not old_master:
        raise SecretStoreError("SWITCHBOARD_SECRET_KEY (the current key) must be set to rotate it.")
    if not new_master or new_master == old_master:
        raise SecretStoreError("The new master key must be non-empty and differ from the current one.")
    old = EncryptedDbKeyring(old_master)
    old.check()
    new = _fernet(new_master)
    with session(write=True) as s:
        rows = s.exec(select(Secret)).all()
        for row in rows:
            try:
                plain = old._fernet.decrypt(row.ciphertext.encode())
            except InvalidToken:
                raise SecretStoreError(f"Secret {row.username!r} is unreadable with the current key.") from None
            row.ciphertext, row.updated_at = new.encrypt(plain).decode(), utcnow()
            s.add(row)
        canary = s.get(Meta, _CANARY_KEY) or Meta(key=_CANARY_KEY)
        canary.value = new.encrypt(_CANARY_TEXT).decode()
        s.add(canary)
    reset_backend()
    return len(rows)
