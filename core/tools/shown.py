"""What a thread is shown of a tool call's arguments: a short summary, with anything that looks secret masked.

The arguments come from a model, which may have been handed a key in the conversation or a tool result: keys named
like a secret (password, token, api_key, ...) are masked whatever their value, and so is any value that looks like
a credential (an OpenAI, Slack, GitHub or AWS key, a JWT, a bearer header, a PEM block) or contains a secret this
process has read (core.logs.redact knows every one: provider keys, bot tokens, MCP servers' header values and the
token in them)."""

from __future__ import annotations

import json
import re
from typing import Any

from core.logs import redact

MASK = "•••"
MAX_VALUE = 40
MAX_SUMMARY = 160
_SECRET_KEY = re.compile(r"pass(word|wd)?|secret|token|api[_-]?key|auth|credential|private[_-]?key|cookie", re.I)
_SECRET_VALUE = re.compile(
    r"sk-[A-Za-z0-9_-]{8,}|xox[abposr]-[A-Za-z0-9-]{8,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_\w{16,}"
    r"|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|bearer\s+\S{8,}|-----BEGIN [A-Z ]*PRIVATE KEY",
    re.I,
)


def summary(arguments: str) -> str:
    """`key: value, …` of a call's JSON arguments, each value cut to a few words, the whole to one short line."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return "(arguments that are not valid JSON)"
    if not isinstance(parsed, dict):
        return _value(parsed)
    parts = [f"{key}: {MASK if _SECRET_KEY.search(str(key)) else _value(value)}" for key, value in parsed.items()]
    return _cut(", ".join(parts), MAX_SUMMARY)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{…}" if value else "{}"
    if isinstance(value, list):
        return f"[{len(value)} item{'s' if len(value) != 1 else ''}]"
    if isinstance(value, str):
        if _SECRET_VALUE.search(value) or redact(value) != value:
            return MASK
        return json.dumps(_cut(" ".join(value.split()), MAX_VALUE), ensure_ascii=False)
    return json.dumps(value)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
