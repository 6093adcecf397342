"""Connection tests and model discovery: each provider's own model-list API, errors mapped to plain words.

Error texts never contain the API key: they are built from status codes and hosts, not echoed bodies.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
import ollama

from core.logs import redact
from core.providers.kinds import ProviderKind


@dataclass(frozen=True)
class ProviderConfig:
    """What discovery needs to reach one provider."""

    name: str
    kind: ProviderKind
    base_url: str | None = None
    api_key: str | None = None
    organization: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return (self.base_url or self.kind.default_base_url or "").rstrip("/")


@dataclass
class DiscoveredModel:
    model_id: str
    context_window: int | None = None
    max_output: int | None = None
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None
    size_bytes: int | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    digest: str | None = None
    chat: bool = True


@dataclass
class CheckResult:
    """The outcome of talking to a provider's model-list endpoint."""

    ok: bool
    message: str
    latency_ms: float | None = None
    error_kind: str | None = None  # auth | unreachable | timeout | bad_url | rate_limited | server_error
    models: list[DiscoveredModel] = field(default_factory=list)


class DiscoveryError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@cache
def tls_context() -> ssl.SSLContext:
    """The certificate store every discovery client verifies against, loaded once. httpx loads it afresh for each
    new client (about 50 ms of CPU on the event loop), which serialised a registry refresh of many providers."""
    return httpx.create_ssl_context()


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _http_error(cfg: ProviderConfig, response: httpx.Response) -> DiscoveryError:
    code = response.status_code
    label = cfg.kind.label
    if code in (401, 403):
        return DiscoveryError(
            "auth", f"{label} rejected the API key (HTTP {code}). Set a valid key for provider '{cfg.name}'."
        )
    if code == 404:
        return DiscoveryError(
            "bad_url",
            f"No model list at {response.request.url} (HTTP 404). Check the base URL of '{cfg.name}'.",
        )
    if code == 429:
        wait = response.headers.get("retry-after")
        hint = f" Retry after {wait} s." if wait else " Try again shortly."
        return DiscoveryError("rate_limited", f"{label} is rate limiting us (HTTP 429).{hint}")
    if code >= 500:
        return DiscoveryError("server_error", f"{label} had a server error (HTTP {code}). Try again later.")
    return DiscoveryError("bad_url", f"{label} answered HTTP {code} at {response.request.url}.")


def _headers(cfg: ProviderConfig) -> dict[str, str]:
    headers = dict(cfg.extra_headers)
    if cfg.kind.listing == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
        if cfg.api_key:
            headers["x-api-key"] = cfg.api_key
    elif cfg.api_key:
        headers["Authorization"] = f"Bearer {cfg.api_key}"
    if cfg.organization:
        headers["OpenAI-Organization"] = cfg.organization
    return headers


async def _get_json(client: httpx.AsyncClient, cfg: ProviderConfig, url: str, **params: Any) -> Any:
    response = await client.get(url, headers=_headers(cfg), params=params or None)
    if response.status_code != 200:
        raise _http_error(cfg, response)
    try:
        return response.json()
    except ValueError:
        raise DiscoveryError(
            "bad_url", f"{url} did not answer with JSON: is this a {cfg.kind.label} API base URL?"
        ) from None


# What keeps a model out of the chat registry, wherever it was found (a provider's /models, litellm's static
# list): litellm says it is not for chat; its name says it is an embedding, speech, image, moderation, reranking
# or guard (safety classifier) model, which litellm may still list as "chat"; or its window is too small to hold
# a conversation (prompt-guard classifiers have 512 tokens).
_NOT_CHAT = ("embed", "whisper", "tts", "dall-e", "moderation", "image", "audio", "transcribe", "rerank", "guard")
CHAT_MODES = ("chat", "responses")
MIN_CHAT_CONTEXT = 1024


def chat_capable(model_id: str, *, mode: str | None = None, context_window: int | None = None) -> bool:
    """Whether a model can hold a conversation (see the rule above)."""
    if mode is not None and mode not in CHAT_MODES:
        return False
    if any(word in model_id.lower() for word in _NOT_CHAT):
        return False
    return context_window is None or context_window >= MIN_CHAT_CONTEXT


def _openai_entry(item: dict[str, Any]) -> DiscoveredModel:
    mid = str(item["id"])
    pricing = item.get("pricing") if isinstance(item.get("pricing"), dict) else {}
    kind = str(item.get("type") or "")
    ctx = item.get("context_window") or item.get("context_length") or item.get("max_model_len")
    window = int(ctx) if isinstance(ctx, int) else None
    chat = kind in ("", "chat", "language", "model") and chat_capable(mid, context_window=window)

    def price(key: str) -> float | None:
        value = pricing.get(key) if pricing else None
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    return DiscoveredModel(
        model_id=mid,
        context_window=window,
        max_output=item.get("max_completion_tokens") if isinstance(item.get("max_completion_tokens"), int) else None,
        input_usd_per_mtok=price("input"),
        output_usd_per_mtok=price("output"),
        chat=chat,
    )


async def _list_openai(client: httpx.AsyncClient, cfg: ProviderConfig) -> list[DiscoveredModel]:
    body = await _get_json(client, cfg, cfg.url + cfg.kind.models_path)
    items = body.get("data") if isinstance(body, dict) else body  # Together answers a bare list
    if not isinstance(items, list) or not all(isinstance(i, dict) and "id" in i for i in items):
        raise DiscoveryError("bad_url", f"{cfg.url} did not answer like an OpenAI-style /models API.")
    return [_openai_entry(i) for i in items]


async def _list_anthropic(client: httpx.AsyncClient, cfg: ProviderConfig) -> list[DiscoveredModel]:
    models: list[DiscoveredModel] = []
    after: str | None = None
    for _page in range(20):  # bounded pagination
        params: dict[str, Any] = {"limit": 100}
        if after:
            params["after_id"] = after
        body = await _get_json(client, cfg, cfg.url + cfg.kind.models_path, **params)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise DiscoveryError("bad_url", f"{cfg.url} did not answer like the Anthropic /v1/models API.")
        models += [
            DiscoveredModel(
                model_id=str(i["id"]),
                context_window=i.get("max_input_tokens") if isinstance(i.get("max_input_tokens"), int) else None,
                max_output=i.get("max_tokens") if isinstance(i.get("max_tokens"), int) else None,
            )
            for i in body["data"]
            if isinstance(i, dict) and "id" in i
        ]
        if not body.get("has_more") or not body.get("last_id"):
            break
        after = str(body["last_id"])
    return models


def _context_length(model_info: Any) -> int | None:
    if not model_info:
        return None
    for key, value in dict(model_info).items():
        if key.endswith(".context_length") and isinstance(value, int):
            return value
    return None


async def _list_ollama(cfg: ProviderConfig, timeout: float) -> list[DiscoveredModel]:
    client = ollama.AsyncClient(host=cfg.url, timeout=timeout, headers=cfg.extra_headers or None, verify=tls_context())
    async with client:
        return await _ollama_models(client, cfg)


async def _ollama_models(client: ollama.AsyncClient, cfg: ProviderConfig) -> list[DiscoveredModel]:
    try:
        listing = await client.list()
    except ollama.ResponseError as exc:
        detail = str(exc.error or "").strip() or f"HTTP {exc.status_code} without a message"
        kind = "bad_url" if exc.status_code == 404 else "server_error"
        hint = " Is this an Ollama server? Check the base URL." if exc.status_code in (404, 405) else ""
        raise DiscoveryError(kind, f"Ollama at {_host(cfg.url)} answered an error: {detail}.{hint}") from None

    async def details(entry: Any) -> DiscoveredModel:
        name = str(entry.model)
        found = DiscoveredModel(
            model_id=name,
            size_bytes=int(entry.size) if entry.size is not None else None,
            digest=entry.digest,
            family=entry.details.family if entry.details else None,
            parameter_size=entry.details.parameter_size if entry.details else None,
            quantization=entry.details.quantization_level if entry.details else None,
            input_usd_per_mtok=0.0,
            output_usd_per_mtok=0.0,
        )
        try:
            shown = await client.show(name)
        except ollama.ResponseError:
            return found  # listed but not showable (being deleted): keep what /api/tags said
        caps = set(shown.capabilities or [])
        found.context_window = _context_length(shown.modelinfo)
        found.supports_tools = "tools" in caps
        found.supports_vision = "vision" in caps
        found.chat = not caps or "completion" in caps
        return found

    return list(await asyncio.gather(*(details(m) for m in listing.models)))


async def list_models(cfg: ProviderConfig, timeout: float = 10.0) -> CheckResult:
    """Call the provider's model-list endpoint: ok with latency and models, or a specific error."""
    if cfg.kind.listing == "static":
        return CheckResult(ok=True, message="This kind has no model-list API; using litellm's list.")
    started = time.perf_counter()
    try:
        if cfg.kind.listing == "ollama":
            async with asyncio.timeout(timeout):  # not wait_for: see core.models.sync.refresh_provider
                models = await _list_ollama(cfg, timeout)
        else:
            lister: Callable[[httpx.AsyncClient, ProviderConfig], Awaitable[list[DiscoveredModel]]]
            lister = _list_anthropic if cfg.kind.listing == "anthropic" else _list_openai
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, verify=tls_context()) as client:
                async with asyncio.timeout(timeout):
                    models = await lister(client, cfg)
    except DiscoveryError as exc:
        return _failed(exc.kind, exc.message, started)
    except (TimeoutError, httpx.TimeoutException):
        return _failed("timeout", f"No answer from {_host(cfg.url)} within {timeout:g} s.", started)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):
        return _failed(
            "bad_url", f"'{cfg.url}' is not a usable URL (it needs http:// or https:// and a host).", started
        )
    except (httpx.ConnectError, ConnectionError, OSError):
        return _failed(
            "unreachable",
            f"Cannot reach {_host(cfg.url)}: nothing answered. Check that the server is running and the base URL.",
            started,
        )
    except httpx.HTTPError as exc:
        return _failed("unreachable", f"Talking to {_host(cfg.url)} failed: {type(exc).__name__}.", started)
    latency = (time.perf_counter() - started) * 1000
    chat = [m for m in models if m.chat]
    return CheckResult(
        ok=True,
        message=f"Connected to {cfg.kind.label} in {latency:.0f} ms: {len(chat)} chat models.",
        latency_ms=latency,
        models=chat,
    )


def _failed(kind: str, message: str, started: float) -> CheckResult:
    return CheckResult(
        ok=False,
        message=redact(message),
        error_kind=kind,
        latency_ms=(time.perf_counter() - started) * 1000,
    )
