"""Logging setup, with every known secret scrubbed from every record before any handler sees it."""

from __future__ import annotations

import logging
import threading
from typing import Any

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False
MASK = "[redacted]"


def register_secret(value: str | None) -> None:
    """Remember a secret so it is scrubbed from logs and error texts from now on."""
    if value and len(value) >= 6:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret replaced."""
    if not _secrets or not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _install_record_factory() -> None:
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if not _secrets:
            return record
        # Render now so handlers (ours, pytest's, litellm's) only ever see the scrubbed text.
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def configure_logging(level: str = "INFO") -> None:
    """Root logging for our processes: one line per record, secrets scrubbed."""
    _install_record_factory()
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    noisy_loggers = (
        "httpx",
        "httpcore",
        "LiteLLM",
        "LiteLLM Router",
        "LiteLLM Proxy",
        "asyncio",
        "alembic",
        "apscheduler",
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


_install_record_factory()
