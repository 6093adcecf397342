"""What went wrong with Ollama, in words a user can act on. Never a traceback, never a raw client repr."""

from __future__ import annotations

import errno
import re

import httpx
import ollama

from core.formatting import size
from core.ollama.catalog import unknown_model_text
from core.ollama.servers import Server, disk_info

_UNREACHABLE_REGISTRY = ("no such host", "dial tcp", "i/o timeout", "connection refused", "network is unreachable")


_CLI_ASIDE = re.compile(r"\s*\(`switchboard [^`]*`[^)]*\)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`])")


def without_cli_advice(text: str) -> str:
    """A message for the web admin: the same words without the terminal commands written for the CLI and chat
    (`switchboard ollama rm NAME`, `--force`), which mean nothing on a web page."""
    text = _CLI_ASIDE.sub("", text)
    kept = [s for s in _SENTENCE_END.split(text) if "`switchboard " not in s and "--force" not in s]
    return " ".join(kept).strip()


def server_down_text(server: Server) -> str:
    return (
        f"The Ollama server at {server.host} (provider '{server.name}') is not running or not reachable. "
        "Start it (`ollama serve`, or the Ollama app) or fix the provider's base URL, then try again."
    )


def disk_full_text(server: Server) -> str:
    disk = disk_info(server)
    where = f" ({size(disk.free_bytes)} free on {disk.path})" if disk else ""
    return (
        f"The disk is full on the Ollama server at {server.host}{where}. Free some space (`switchboard ollama rm "
        "NAME` removes a model you no longer need), then pull again: it resumes where it stopped."
    )


def explain(exc: BaseException, server: Server, model: str | None = None) -> str:
    """Turn an exception from the `ollama` client (or httpx underneath it) into a user-facing sentence."""
    what = f"'{model}'" if model else "the model"
    if isinstance(exc, ollama.ResponseError):
        message = str(exc.error or "")
        low = message.lower()
        if "no space left on device" in low or "disk full" in low:
            return disk_full_text(server)
        if "file does not exist" in low or "manifest unknown" in low:
            return unknown_model_text(model or "")
        if "invalid model name" in low or (exc.status_code == 400 and "is invalid" in low):
            return f"{what} is not a valid model name: use NAME or NAME:TAG, e.g. `llama3.2:1b`."
        if exc.status_code == 404 and "not found" in low:
            return f"{what} is not installed on the Ollama server '{server.name}' ({server.host})."
        if "manifest" in low and any(marker in low for marker in _UNREACHABLE_REGISTRY):
            return (
                f"The Ollama server at {server.host} cannot reach the Ollama registry, so it cannot download "
                f"{what} (is that machine offline or behind a proxy?). Ollama said: {message[:200]}"
            )
        return f"The Ollama server at {server.host} refused {what}: {message[:300]}"
    if isinstance(exc, ConnectionError | httpx.ConnectError):
        return server_down_text(server)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return (
            f"The Ollama server at {server.host} stopped answering in the middle of it (it may have crashed or "
            "restarted). Check that it is running, then try again: a pull resumes where it stopped."
        )
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return (
            f"The Ollama server at {server.host} did not answer in time. Check that it is running and not overloaded."
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return disk_full_text(server)
    return f"Talking to the Ollama server at {server.host} failed ({type(exc).__name__}). Try again."
