"""Text both databases can store. PostgreSQL refuses NUL in text columns and neither engine can encode a lone
surrogate, while SQLite would keep a NUL: so every such character becomes U+FFFD (the replacement character, the
usual stand-in for a character that cannot be represented). Replacing rather than dropping keeps words apart
("hello\\x00world" stays two words) and shows the user that something was there.

`core.types` cleans what adapters hand the core (IncomingMessage) and what providers send back (Delta,
TurnResult), so what a user sees is what is stored; `core.storage.db` cleans every statement's parameters too, so text
from anywhere else (admin forms, CLI names) cannot break a write on one engine and not the other.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD; the same string when there are none."""
    if "\x00" not in text and (text.isascii() or _UNSTORABLE.search(text) is None):
        return text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def _needs_cleaning(value: Any) -> bool:
    return isinstance(value, str) and storable_text(value) is not value


def storable_params(params: Any) -> Any:
    """DB-API parameters (a dict, a sequence, or a list of either for executemany) with every string storable.
    Returns `params` itself when nothing needs cleaning (the common case, and cheap)."""
    if isinstance(params, dict):
        if not any(_needs_cleaning(v) for v in params.values()):
            return params
        return {k: storable_text(v) if isinstance(v, str) else v for k, v in params.items()}
    if isinstance(params, list | tuple):
        if not any(_needs_cleaning(v) or isinstance(v, dict | list | tuple) for v in params):
            return params
        cleaned = [storable_params(v) if isinstance(v, dict | list | tuple) else _clean(v) for v in params]
        return tuple(cleaned) if isinstance(params, tuple) else cleaned
    return params


def _clean(value: Any) -> Any:
    return storable_text(value) if isinstance(value, str) else value
