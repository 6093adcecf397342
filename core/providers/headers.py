"""A provider's extra HTTP headers are secrets (`api-key: ...` is a key by another name): their values live in the
secret store, like API keys, and the Provider row keeps only each header's name and masked value."""

from __future__ import annotations

import contextlib
import json
import re

import keyring.errors

from core import secrets
from core.errors import UserError
from core.logs import register_secret

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name


def _secret_name(provider: str) -> str:
    return f"provider-headers:{provider}"


def validate_headers(headers: dict[str, str]) -> dict[str, str]:
    """Header names and values as they will be sent, or UserError saying which one is wrong."""
    clean: dict[str, str] = {}
    for name, value in headers.items():
        name, value = name.strip(), value.strip()
        if not _TOKEN.match(name):
            raise UserError(f"'{name}' is not a valid header name: use letters, digits and '-', e.g. api-key.")
        if not value:
            raise UserError(f"Header '{name}' has an empty value.")
        if any(ch in value for ch in "\r\n\x00"):
            raise UserError(f"Header '{name}' has a line break in its value; check what you pasted.")
        clean[name] = value
    return clean


def masked(headers: dict[str, str]) -> dict[str, str]:
    """What may be stored in the clear and shown: each name with its value masked like a key (`sk-…abcd`)."""
    return {name: secrets.mask(value) or "…" for name, value in headers.items()}


def save_headers(provider: str, headers: dict[str, str]) -> None:
    """Keep `headers` in the secret store (replacing any before); none deletes them."""
    if not headers:
        delete_headers(provider)
        return
    for value in headers.values():
        register_secret(value)
    secrets.set_secret(_secret_name(provider), json.dumps(headers))


def load_headers(provider: str) -> dict[str, str] | None:
    """The provider's header values from the secret store; None when it holds none."""
    raw = secrets.get_secret(_secret_name(provider))
    if raw is None:
        return None
    values: dict[str, str] = json.loads(raw)
    for value in values.values():
        register_secret(value)
    return values


def delete_headers(provider: str) -> None:
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        secrets.get_backend().delete_password(secrets.SERVICE, _secret_name(provider))
