"""Update checks: the local digest (from /api/tags) against sha256 of the registry's raw manifest bytes.

There is no update endpoint in Ollama; an update is a re-pull. A check that cannot reach the registry says
"unknown" and why: it never guesses.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

import httpx

from core.ollama.explain import explain
from core.ollama.names import DEFAULT_HOST, ModelName, parse_name
from core.ollama.servers import OllamaError, Server, get_server
from core.settings import get_settings

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
TIMEOUT_S = 8.0


@dataclass(frozen=True)
class Manifest:
    digest: str  # hex sha256 of the raw bytes: what /api/tags reports once this version is installed
    layers: tuple[tuple[str, int], ...]  # (digest, size), config included

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.layers)


class ManifestUnavailable(Exception):
    """The registry could not be asked (offline, network checks off) or said no; `reason` says which."""

    def __init__(self, reason: str, *, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing  # the registry answered: no such model or tag


def manifest_url(name: ModelName) -> str:
    """Where the manifest of `name` lives: the configured registry for the default host, else that host."""
    base = get_settings().ollama_registry_url if name.host == DEFAULT_HOST else f"https://{name.host}"
    return f"{base.rstrip('/')}/v2/{name.namespace}/{name.model}/manifests/{name.tag}"


async def fetch_manifest(model: str, http: httpx.AsyncClient | None = None) -> Manifest:
    """The registry's current manifest of `model`, or ManifestUnavailable saying why not."""
    if not get_settings().network_checks:
        raise ManifestUnavailable("offline: network checks are off (SWITCHBOARD_NETWORK_CHECKS=false)")
    name = parse_name(model)
    if name is None:
        raise ManifestUnavailable(f"'{model}' is not a valid model name", missing=True)
    url = manifest_url(name)
    try:
        if http is None:
            async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=True) as own:
                resp = await own.get(url, headers={"Accept": MANIFEST_TYPE})
        else:
            resp = await http.get(url, headers={"Accept": MANIFEST_TYPE})
    except httpx.HTTPError as exc:
        raise ManifestUnavailable(f"offline: cannot reach {httpx.URL(url).host} ({type(exc).__name__})") from None
    if resp.status_code == 404:
        raise ManifestUnavailable(f"the registry has no {name.display}", missing=True)
    if resp.status_code != 200:
        raise ManifestUnavailable(f"the registry answered HTTP {resp.status_code}")
    try:
        body: dict[str, Any] = resp.json()
        entries = [*body.get("layers", []), body["config"]]
        layers = tuple((str(e["digest"]), int(e["size"])) for e in entries)
    except (ValueError, KeyError, TypeError):
        raise ManifestUnavailable("the registry's answer was not a model manifest") from None
    return Manifest(hashlib.sha256(resp.content).hexdigest(), layers)


@dataclass(frozen=True)
class UpdateCheck:
    provider: str
    model: str
    state: str  # up_to_date | update_available | unknown
    local_digest: str | None
    remote_digest: str | None
    detail: str

    @property
    def label(self) -> str:
        return {"up_to_date": "up to date", "update_available": "update available"}.get(
            self.state, f"unknown ({self.detail})"
        )


async def check_updates(provider: str | None = None, models: list[str] | None = None) -> list[UpdateCheck]:
    """Compare each installed model (or just `models`) on one server with the registry."""
    server = await asyncio.to_thread(get_server, provider)
    client = server.client(timeout=get_settings().provider_timeout_s)
    try:
        installed = {m.model or "": m.digest for m in (await client.list()).models}
    except Exception as exc:
        raise OllamaError(explain(exc, server)) from None
    finally:
        await client.close()
    wanted = models or sorted(installed)
    async with httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=True) as http:
        return list(await asyncio.gather(*(_check(server, m, installed, http) for m in wanted)))


async def _check(server: Server, model: str, installed: dict[str, str | None], http: httpx.AsyncClient) -> UpdateCheck:
    name = parse_name(model)
    key = name.display if name else model
    local = installed.get(key) or installed.get(model)
    if key not in installed and model not in installed:
        return UpdateCheck(server.name, key, "unknown", None, None, f"not installed on '{server.name}'")
    try:
        remote = await fetch_manifest(key, http)
    except ManifestUnavailable as exc:
        return UpdateCheck(server.name, key, "unknown", local, None, exc.reason)
    state = "up_to_date" if remote.digest == local else "update_available"
    detail = "same digest as the registry" if state == "up_to_date" else "the registry has a newer version"
    return UpdateCheck(server.name, key, state, local, remote.digest, detail)
