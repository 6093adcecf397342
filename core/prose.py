"""Sentences for users, joined without doubled stops: a reason that is a sentence of its own ("... check the base
URL.") often ends up inside another one ("Can't use X: {reason}. Try Y."), which must not read "URL.. Try"."""

from __future__ import annotations


def clause(text: str) -> str:
    """`text` ready to embed inside a sentence: trimmed, without its closing full stop (an ellipsis stays)."""
    text = text.strip()
    if text.endswith(".") and not text.endswith(".."):
        return text[:-1].rstrip()
    return text
