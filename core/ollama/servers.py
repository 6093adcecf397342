"""Which Ollama server: providers of kind `ollama`, a client with an explicit host, where the server keeps its
models (when it is on this machine) and how much disk is free there."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import ollama

from core.errors import UserError
from core.formatting import size
from core.providers.store import ProviderView, is_loopback_url, list_providers, provider_headers
from core.settings import get_settings

KIND = "ollama"
DEFAULT_URL = "http://127.0.0.1:11434"
GB = 1_000_000_000

# Where Ollama keeps models when OLLAMA_MODELS is not set: a user install, then the Linux service account.
DEFAULT_MODEL_DIRS = ("~/.ollama/models", "/usr/share/ollama/.ollama/models")


class OllamaError(UserError):
    """Something about Ollama the user can act on; the message says what happened and what to do."""


@dataclass(frozen=True)
class Server:
    """One Ollama server: a provider of kind `ollama`."""

    name: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    enabled: bool = True

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc or self.url

    @property
    def on_this_machine(self) -> bool:
        return is_loopback_url(self.url)

    def client(self, timeout: float | None = None) -> ollama.AsyncClient:
        """The official async client, always with an explicit host (never OLLAMA_HOST's import-time default)."""
        return ollama.AsyncClient(host=self.url, timeout=timeout, headers=dict(self.headers) or None)


def _from_view(view: ProviderView) -> Server:
    url = (view.base_url or DEFAULT_URL).rstrip("/")
    headers = provider_headers(view.name) if view.extra_headers else {}  # the view holds masked values only
    return Server(view.name, url, tuple(sorted(headers.items())), view.enabled)


def servers(*, enabled_only: bool = False) -> list[Server]:
    """Every configured Ollama server, by provider name."""
    found = [_from_view(p) for p in list_providers() if p.kind == KIND]
    return [s for s in found if s.enabled or not enabled_only]


def get_server(name: str | None = None) -> Server:
    """The server `name`, or the only one there is; an OllamaError says how to pick or add one."""
    known = servers()
    if name:
        match = next((s for s in known if s.name == name), None)
        if match is None:
            others = ", ".join(f"'{s.name}'" for s in known) or "none"
            raise OllamaError(f"No Ollama provider named '{name}'. Ollama providers: {others}.")
        return match
    if not known:
        raise OllamaError(
            "No Ollama server is configured. Add one with `switchboard providers add local --kind ollama` "
            "(it uses http://127.0.0.1:11434 unless you pass --base-url)."
        )
    enabled = [s for s in known if s.enabled] or known
    if len(enabled) > 1:
        names = ", ".join(f"'{s.name}'" for s in enabled)
        raise OllamaError(f"There are several Ollama servers ({names}): say which one with --provider NAME.")
    return enabled[0]


# ---------------------------------------------------------------- disk


@dataclass(frozen=True)
class DiskInfo:
    """Free space where a server on this machine keeps its models."""

    path: str
    free_bytes: int
    total_bytes: int
    source: str  # "setting" (OLLAMA_MODELS) | "default" (Ollama's default directory)


def models_dir(server: Server) -> tuple[Path, str] | None:
    """The server's models directory when it is on this machine and we know where: OLLAMA_MODELS, else
    Ollama's default location if it exists. None for a remote server: its disk is not ours to read."""
    if not server.on_this_machine:
        return None
    configured = get_settings().ollama_models_dir
    if configured:
        return Path(configured).expanduser(), "setting"
    for candidate in DEFAULT_MODEL_DIRS:
        path = Path(candidate).expanduser()
        if path.is_dir():
            return path, "default"
    return None


def disk_info(server: Server) -> DiskInfo | None:
    """Free and total bytes of the filesystem holding the server's models, or None when unknown."""
    found = models_dir(server)
    if found is None:
        return None
    path, source = found
    probe = path
    while not probe.exists() and probe != probe.parent:  # not created yet: measure the filesystem it will be on
        probe = probe.parent
    try:
        usage = shutil.disk_usage(probe)
    except OSError:
        return None
    return DiskInfo(str(path), int(usage.free), int(usage.total), source)


def disk_note(server: Server, disk: DiskInfo | None) -> str:
    """One line for users: free space, or why it is unknown."""
    if disk is not None:
        return f"{size(disk.free_bytes)} free of {size(disk.total_bytes)} on {disk.path}"
    if not server.on_this_machine:
        return f"free space unknown: the Ollama server at {server.host} is on another machine"
    return "free space unknown: set OLLAMA_MODELS to the directory where Ollama keeps its models"
