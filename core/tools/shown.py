"""What a thread is shown of a tool call's arguments: a short summary, with anything that looks secret masked.

The arguments come from a model, which may have been handed a key in the conversation or a tool result: keys named
like a secret (password, token, api_key, ...) are masked whatever their value, and so is any value that looks like
a credential (an OpenAI, Slack, GitHub or AWS key, a JWT, a bearer header, a PEM block) or contains a secret this
deployment keeps (an MCP server's auth header value)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

MASK = "•••"
MAX_VALUE = 40
MAX_SUMMARY = 160
_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|auth|credential|private[_-]?key|cookie", re.I)
_SECRET_VALUE = re.compile(
    r"sk-[A-Za-z0-9_-]{8,}|xox[abposr]-[A-Za-z0-9-]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_\w{16,}"
    r"|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|bearer\s+\S{8,}|-----BEGIN [A-Z ]*PRIVATE KEY",
    re.I,
)


def _pieces(secrets: Iterable[str]) -> list[str]:
    """Each secret, and each long word of it (a header value "Bearer abc…" is masked where only "abc…" shows)."""
    known = []
    for secret in secrets:
        if secret and len(secret) >= 6:
            known.append(secret)
            known += [w for w in secret.split() if len(w) >= 8 and w != secret]
    return known


def summary(arguments: str, secrets: Iterable[str] = ()) -> str:
    """`key: value, …` of a call's JSON arguments, each value cut to a few words, the whole to one short line."""
    known = _pieces(secrets)
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return "(arguments that are not valid JSON)"
    if not isinstance(parsed, dict):
        return _value(parsed, known)
    parts = [
        f"{key}: {MASK if _SECRET_KEY.search(str(key)) else _value(value, known)}" for key, value in parsed.items()
    ]
    return _cut(", ".join(parts), MAX_SUMMARY)


def masked(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential-looking part and every known secret replaced by the mask."""
    for secret in _pieces(secrets):
        text = text.replace(secret, MASK)
    return _SECRET_VALUE.sub(MASK, text)


def _value(value: Any, known: list[str]) -> str:
    if isinstance(value, dict):
        return "{…}" if value else "{}"
    if isinstance(value, list):
        return f"[{len(value)} item{'s' if len(value) != 1 else ''}]"
    if isinstance(value, str):
        if _SECRET_VALUE.search(value) or any(s in value for s in known):
            return MASK
        return json.dumps(_cut(" ".join(value.split()), MAX_VALUE), ensure_ascii=False)
    return json.dumps(value)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
