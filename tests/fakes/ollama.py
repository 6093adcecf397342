"""A loopback fake of the Ollama server (and of the bit of its registry that update checks read).

Faithful to the real server (ollama/ollama: server/routes.go, server/images.go, server/download.go,
api/types.go) where a client can observe it: JSON shapes, status codes, error texts, NDJSON streaming, the
disk layout under `models_dir`, partial downloads that survive a cancelled pull and resume on the next one.

    with FakeOllama(tmp_path / "models", installed=["llama3.2:1b"]) as fake:
        client = ollama.AsyncClient(host=fake.url)

- Slow pull: `fake.bytes_per_tick` (reported bytes added per tick) and `fake.tick_s` (seconds per tick).
- Sizes: layer sizes are reported at full scale (GBs); weights files on disk are `size // bytes_scale` bytes,
  so a "1.3 GB" blob is 1.3 KB on disk. Text layers (template, license, params, config) are real bytes.
- Full disk: `fake.disk_free_bytes = 0` (reported units, `None` = unlimited); the pull fails mid-stream with
  `write <models_dir>/blobs/sha256-<hex>-partial: no space left on device` and keeps the partial file.
- No network: `fake.offline = True` makes pulls fail the way a real server without DNS does.
- Server down: `fake.stop()` then `fake.start()` (same port, same disk state, nothing loaded), or
  `with fake.down(): ...`. A fixed port can be given to the constructor.
- Update available: `fake.publish_update("llama3.2:1b")` changes the weights layer in the registry. The
  manifest at `GET {fake.registry_url}/v2/library/llama3.2/manifests/1b` then hashes differently from the
  `digest` in /api/tags, and a re-pull downloads only that layer and prunes the old blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import re
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.base import FakeServer

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
_MISSING = "!MISSING!"

LLAMA3_TEMPLATE = (
    "<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
    "{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)
CHATML_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)


# -- model names, following types/model/name.go -------------------------------------------------------------


@dataclass(frozen=True)
class ModelName:
    host: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, raw: str) -> ModelName | None:
        """Parse like Ollama's model.ParseName + IsValid; None for an invalid name."""
        s, host, namespace, tag = raw, "", "", ""
        if s.rfind(":") > s.rfind("/"):
            s, tag = _cut_last(s, ":")
        s, model, promised = _cut_promised(s, "/")
        if promised:
            s, namespace, promised = _cut_promised(s, "/")
            if promised:
                host = s.split("://", 1)[-1]
            else:
                namespace = s
        name = cls(host or DEFAULT_HOST, namespace or DEFAULT_NAMESPACE, model, tag or "latest")
        return name if name.is_valid() else None

    def is_valid(self) -> bool:
        return (
            _valid_part(self.host, host=True)
            and _valid_part(self.namespace, namespace=True)
            and _valid_part(self.model)
            and _valid_part(self.tag)
        )

    @property
    def display(self) -> str:
        """DisplayShortest: `llama3.2:1b`, `user/model:tag`, `host/ns/model:tag`."""
        if self.host.lower() != DEFAULT_HOST:
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    @property
    def full(self) -> str:
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"


def _cut_last(s: str, sep: str) -> tuple[str, str]:
    before, _, after = s.rpartition(sep)
    return before or _MISSING, after or _MISSING


def _cut_promised(s: str, sep: str) -> tuple[str, str, bool]:
    if sep not in s:
        return s, s, False
    before, after = _cut_last(s, sep)
    return before, after, True


def _valid_part(part: str, *, host: bool = False, namespace: bool = False) -> bool:
    if not 1 <= len(part) <= (350 if host else 80):
        return False
    if not (part[0].isascii() and (part[0].isalnum() or part[0] == "_")):
        return False
    for ch in part[1:]:
        if ch.isascii() and (ch.isalnum() or ch in "_-"):
            continue
        if ch == "." and not namespace:
            continue
        if ch == ":" and host:
            continue
        return False
    return True


# -- the registry's library ----------------------------------------------------------------------------------


@dataclass
class LibraryModel:
    """A pullable model. `size`/`projector_size` are reported bytes (scaled down on disk by `bytes_scale`)."""

    family: str
    parameter_size: str
    quantization: str
    size: int
    context_length: int = 8192
    capabilities: tuple[str, ...] = ("completion", "tools")
    families: tuple[str, ...] | None = None
    projector_size: int = 0
    template: str = LLAMA3_TEMPLATE
    license: str = "Fake model license. Use it for tests only."
    params: dict[str, Any] = field(default_factory=lambda: {"stop": ["<|eot_id|>"]})
    system: str = ""
    seed: str = ""  # distinguishes weights of models that are otherwise alike
    revisions: dict[str, int] = field(default_factory=dict)  # bumped by FakeOllama.publish_update


def default_library() -> dict[str, LibraryModel]:
    llama_1b = LibraryModel("llama", "1.2B", "Q8_0", 1_321_082_688, 131072, seed="llama3.2:1b")
    llama_3b = LibraryModel("llama", "3.2B", "Q4_K_M", 2_019_377_376, 131072, seed="llama3.2:3b")
    qwen = LibraryModel(
        "qwen2", "494.03M", "Q4_K_M", 397_807_936, 32768, template=CHATML_TEMPLATE,
        params={"stop": ["<|im_start|>", "<|im_end|>"]}, seed="qwen2.5:0.5b",
    )  # fmt: skip
    llava = LibraryModel(
        "llama", "7B", "Q4_0", 4_113_289_024, 32768, capabilities=("completion", "vision"),
        families=("llama", "clip"), projector_size=624_434_368, seed="llava:7b",
    )  # fmt: skip
    # `:latest` tags are the same manifest as a sized tag, as on ollama.com.
    return {
        "llama3.2:1b": llama_1b,
        "llama3.2:3b": llama_3b,
        "llama3.2:latest": llama_3b,
        "qwen2.5:0.5b": qwen,
        "llava:7b": llava,
        "llava:latest": llava,
    }


@dataclass(frozen=True)
class Layer:
    media_type: str
    data: bytes  # what lands on disk
    size: int  # what the manifest and progress report

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def _parameter_count(parameter_size: str) -> int:
    m = re.fullmatch(r"([\d.]+)([KMBT]?)", parameter_size)
    if not m:
        return 0
    return int(float(m[1]) * {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[m[2]])


# -- NDJSON events -------------------------------------------------------------------------------------------


class _PullFailed(Exception):
    """Ends a pull with an `{"error": ...}` line, like the errors PullModel returns."""


def _dumps(obj: Any) -> str:
    """Compact JSON, as Go's encoding/json writes it."""
    return json.dumps(obj, separators=(",", ":"))


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _error(status: int, message: str) -> web.Response:
    """Errors are `{"error": "..."}` (gin.H), compact like every Ollama JSON body."""
    return _json({"error": message}, status)


def _now_utc() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat()


def _parse_keep_alive(value: Any, default_s: float) -> float:
    """api.Duration: a number is seconds, a string is a Go duration; negative means forever."""
    if value is None:
        return default_s
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
            parts = re.findall(r"(-?[\d.]+)(ms|us|ns|h|m|s)", text)
            seconds = sum(float(n) * units[u] for n, u in parts) if parts else default_s
    return math.inf if seconds < 0 else seconds


_TOKEN_RE = re.compile(r"\s*\S+")


def _tokens(text: str) -> list[str]:
    """Split reply text into stream chunks ("Hello", " world"), standing in for model tokens."""
    return _TOKEN_RE.findall(text) or ([text] if text else [])


def _count_tokens(text: str) -> int:
    return len(text.split())


@dataclass
class _Loaded:
    name: ModelName
    size: int
    digest: str
    details: dict[str, Any]
    context_length: int
    expires_at: float  # time.time() based; inf = keep forever


class FakeOllama(FakeServer):
    """Fake Ollama server with a fake registry library, on 127.0.0.1.

    Args:
        models_dir: the OLLAMA_MODELS directory (blobs/, manifests/). Default: a temp dir removed on __exit__.
        library: pullable models by `name:tag` (default `default_library()`); namespaced names as `ns/m:tag`.
        installed: library models installed (blobs + manifest on disk) at construction.
        port: fixed port (0 = random; a restart after stop() reuses the port either way).
        bytes_per_tick / tick_s: pull speed; every tick adds bytes_per_tick reported bytes and sends one
            progress line (the real server reports every 60 ms). Each layer takes at least one tick.
        bytes_scale: on-disk bytes = reported weights bytes // bytes_scale (min 1).
        reply: chat/generate answer text, or a function of the request JSON returning the text (chat may
            also return a full assistant message dict, e.g. with tool_calls). Default: derived from the
            last user message.
        token_delay_s: delay between streamed chat chunks. load_delay_s: extra delay when a model loads.
        version: reported by /api/version.
    Mutable at runtime (thread-safe to set from the test): bytes_per_tick, tick_s, token_delay_s,
    load_delay_s, reply, disk_free_bytes, offline, manifest_delay_s, default_num_ctx, gpu, fail_after_chunks,
    fail_message.
    """

    def __init__(
        self,
        models_dir: str | os.PathLike[str] | None = None,
        *,
        library: dict[str, LibraryModel] | None = None,
        installed: Iterable[str] = ("llama3.2:1b",),
        port: int = 0,
        bytes_per_tick: int = 250_000_000,
        tick_s: float = 0.05,
        bytes_scale: int = 1_000_000,
        reply: str | Callable[[dict[str, Any]], Any] | None = None,
        token_delay_s: float = 0.0,
        load_delay_s: float = 0.0,
        version: str = "0.12.6",
    ) -> None:
        super().__init__()
        self.port = port
        self._own_dir: str | None = None
        if models_dir is None:
            self._own_dir = tempfile.mkdtemp(prefix="fake-ollama-")
            models_dir = self._own_dir
        self.models_dir = Path(models_dir)
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        (self.models_dir / "manifests").mkdir(parents=True, exist_ok=True)
        self.library: dict[str, LibraryModel] = library if library is not None else default_library()
        self.bytes_per_tick = bytes_per_tick
        self.tick_s = tick_s
        self.bytes_scale = max(1, bytes_scale)
        self.reply = reply
        self.token_delay_s = token_delay_s
        self.load_delay_s = load_delay_s
        self.version = version
        self.disk_free_bytes: int | None = None
        self.offline = False
        self.manifest_delay_s = 0.0
        self.default_num_ctx = 4096  # OLLAMA_CONTEXT_LENGTH default
        self.default_keep_alive_s = 300.0
        self.gpu = True  # size_vram == size when True, 0 when False
        # Break chat/generate streams after this many chunks with an error line (HTTP status already 200).
        self.fail_after_chunks: int | None = None
        self.fail_message = (
            "model runner has unexpectedly stopped, this may be due to resource limitations or an internal"
            " error, check ollama server logs for details"
        )
        self._state = threading.RLock()
        self._loaded: dict[ModelName, _Loaded] = {}
        self._digest_locks: dict[str, asyncio.Lock] = {}
        self._in_flight: dict[int, web.Request] = {}
        for name in installed:
            self.install(name)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeOllama:
        if self._thread is not None and self._thread.is_alive():
            return self
        # A restarted server has nothing loaded; the base class' ready event must be re-armed for the thread.
        self._ready.clear()
        with self._state:
            self._loaded.clear()
            self._digest_locks = {}
        super().start()
        return self

    def stop(self) -> None:
        """Go down like a killed process: in-flight responses break off instead of finishing gracefully."""
        loop = self._loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._abort_in_flight(), loop).result(5)
        super().stop()

    async def _abort_in_flight(self) -> None:
        for request in list(self._in_flight.values()):
            if request.transport is not None:
                request.transport.abort()
        await asyncio.sleep(0)

    @web.middleware
    async def _track(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self._in_flight[id(request)] = request
        try:
            return await handler(request)
        finally:
            self._in_flight.pop(id(request), None)

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Server down (connection refused) inside the block; back on the same port afterwards."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    @property
    def registry_url(self) -> str:
        """Base URL standing in for https://registry.ollama.ai (same server)."""
        return self.url

    # -- disk layout -----------------------------------------------------------------------------------------

    @property
    def blobs_dir(self) -> Path:
        return self.models_dir / "blobs"

    def blob_path(self, digest: str) -> Path:
        return self.blobs_dir / digest.replace(":", "-")

    def manifest_path(self, name: str | ModelName) -> Path:
        n = self._name(name)
        return self.models_dir / "manifests" / n.host / n.namespace / n.model / n.tag

    def partial_files(self) -> list[Path]:
        """`sha256-<hex>-partial` data files and their `-partial-N` progress files, as Ollama leaves them."""
        return sorted(self.blobs_dir.glob("sha256-*-partial*"))

    def installed_digest(self, name: str) -> str | None:
        """Hex sha256 of the installed manifest file (the /api/tags digest), or None."""
        path = self.manifest_path(name)
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None

    # -- registry side ---------------------------------------------------------------------------------------

    def layers(self, name: str) -> list[Layer]:
        """The library model's layers in manifest order, config last (the order PullModel downloads them)."""
        with self._state:
            m = self.library[self._name(name).display]
            return self._layers(m)

    def manifest_bytes(self, name: str) -> bytes:
        """Raw registry manifest bytes; sha256 of these is what /api/tags reports once pulled."""
        with self._state:
            return self._manifest_bytes(self.library[self._name(name).display])

    def registry_digest(self, name: str) -> str:
        return hashlib.sha256(self.manifest_bytes(name)).hexdigest()

    def publish_update(self, name: str, layer: str = "model") -> None:
        """Publish a new version of `name` in the registry: changes its `model`, `projector` or `template`."""
        if layer not in ("model", "projector", "template"):
            raise ValueError("layer must be 'model', 'projector' or 'template'")
        with self._state:
            m = self.library[self._name(name).display]
            m.revisions[layer] = m.revisions.get(layer, 0) + 1

    def _name(self, name: str | ModelName) -> ModelName:
        if isinstance(name, ModelName):
            return name
        parsed = ModelName.parse(name)
        if parsed is None:
            raise ValueError(f"invalid model name {name!r}")
        return parsed

    def _weights(self, m: LibraryModel, kind: str, size: int) -> bytes:
        seed = m.seed or f"{m.family}/{m.parameter_size}/{m.quantization}/{m.size}"
        n = max(1, size // self.bytes_scale)
        return random.Random(f"{seed}/{kind}/{m.revisions.get(kind, 0)}").randbytes(n)

    def _layers(self, m: LibraryModel) -> list[Layer]:
        layers = [Layer("application/vnd.ollama.image.model", self._weights(m, "model", m.size), m.size)]
        if m.projector_size:
            data = self._weights(m, "projector", m.projector_size)
            layers.append(Layer("application/vnd.ollama.image.projector", data, m.projector_size))
        template = m.template
        if rev := m.revisions.get("template", 0):
            template += f"{{{{/* revision {rev} */}}}}"
        texts = [
            ("application/vnd.ollama.image.template", template),
            ("application/vnd.ollama.image.license", m.license),
            ("application/vnd.ollama.image.params", _dumps(m.params)),
        ]
        if m.system:
            texts.append(("application/vnd.ollama.image.system", m.system))
        for media_type, text in texts:
            data = text.encode()
            layers.append(Layer(media_type, data, len(data)))
        config = {
            "model_format": "gguf",
            "model_family": m.family,
            "model_families": list(m.families or (m.family,)),
            "model_type": m.parameter_size,
            "file_type": m.quantization,
            # The real config keeps these two for cloud models only (local ones read them from the GGUF);
            # the fake has no GGUF, so /api/show reads them from here.
            "capabilities": list(m.capabilities),
            "context_length": m.context_length,
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer.digest for layer in layers]},
        }
        data = _dumps(config).encode()
        layers.append(Layer(CONFIG_MEDIA_TYPE, data, len(data)))
        return layers

    def _manifest_bytes(self, m: LibraryModel) -> bytes:
        *layers, config = self._layers(m)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": config.descriptor(),
            "layers": [layer.descriptor() for layer in layers],
        }
        return _dumps(manifest).encode()

    # -- installed models (all read back from disk, like the real server) ------------------------------------

    def install(self, name: str) -> None:
        """Put a library model on disk as if it had been pulled earlier (no progress, no requests)."""
        n = self._name(name)
        with self._state:
            m = self.library[n.display]
            layers, manifest = self._layers(m), self._manifest_bytes(m)
        for layer in layers:
            self.blob_path(layer.digest).write_bytes(layer.data)
        path = self.manifest_path(n)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(manifest)

    def _installed(self) -> list[tuple[ModelName, Path]]:
        root = self.models_dir / "manifests"
        found = []
        for path in root.glob("*/*/*/*"):
            if path.is_file():
                host, ns, model, tag = path.relative_to(root).parts
                found.append((ModelName(host, ns, model, tag), path))
        return found

    def _read_manifest(self, path: Path) -> tuple[dict[str, Any], str]:
        data = path.read_bytes()
        return json.loads(data), hashlib.sha256(data).hexdigest()

    def _read_config(self, manifest: dict[str, Any]) -> dict[str, Any]:
        try:
            config = json.loads(self.blob_path(manifest["config"]["digest"]).read_bytes())
        except (OSError, ValueError, KeyError):
            return {}
        return config if isinstance(config, dict) else {}

    def _blob_text(self, manifest: dict[str, Any], media_type: str) -> str:
        for layer in manifest.get("layers", []):
            if layer["mediaType"] == media_type:
                with contextlib.suppress(OSError):
                    return self.blob_path(layer["digest"]).read_text()
        return ""

    @staticmethod
    def _manifest_size(manifest: dict[str, Any]) -> int:
        return int(sum(layer["size"] for layer in manifest.get("layers", [])) + manifest["config"]["size"])

    @staticmethod
    def _details(config: dict[str, Any]) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": config.get("model_format", ""),
            "family": config.get("model_family", ""),
            "families": config.get("model_families"),
            "parameter_size": config.get("model_type", ""),
            "quantization_level": config.get("file_type", ""),
        }

    # -- routes ----------------------------------------------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(self._track)
        app.router.add_get("/", self._root)
        app.router.add_get("/api/version", self._version)
        app.router.add_get("/api/tags", self._tags)
        app.router.add_post("/api/show", self._show)
        app.router.add_delete("/api/delete", self._delete)
        app.router.add_get("/api/ps", self._ps)
        app.router.add_post("/api/pull", self._pull)
        app.router.add_post("/api/chat", self._chat)
        app.router.add_post("/api/generate", self._generate)
        app.router.add_get(r"/v2/{repo:.+}/manifests/{tag}", self._registry_manifest)

    async def _root(self, request: web.Request) -> web.Response:
        return web.Response(text="Ollama is running")

    async def _version(self, request: web.Request) -> web.Response:
        return _json({"version": self.version})

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any] | web.Response:
        raw = await request.read()
        if not raw:
            return _error(400, "missing request body")
        try:
            body = json.loads(raw)
        except ValueError as e:
            return _error(400, str(e))
        return body if isinstance(body, dict) else _error(400, "invalid request body")

    async def _tags(self, request: web.Request) -> web.Response:
        installed = sorted(self._installed(), key=lambda item: item[1].stat().st_mtime, reverse=True)
        models = []
        for name, path in installed:  # newest first, like ListHandler
            manifest, digest = self._read_manifest(path)
            models.append(
                {
                    "name": name.display,
                    "model": name.display,
                    "modified_at": _local_time(path.stat().st_mtime),
                    "size": self._manifest_size(manifest),
                    "digest": digest,
                    "details": self._details(self._read_config(manifest)),
                }
            )
        return _json({"models": models})

    async def _show(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        raw = body.get("model") or body.get("name") or ""
        if not raw:
            return _error(400, "model is required")
        name = ModelName.parse(raw)
        if name is None:
            return _error(400, "invalid model name")
        path = self.manifest_path(name)
        if not path.exists():
            return _error(404, f"model '{raw}' not found")
        manifest, _ = self._read_manifest(path)
        config = self._read_config(manifest)
        template = self._blob_text(manifest, "application/vnd.ollama.image.template")
        license_text = self._blob_text(manifest, "application/vnd.ollama.image.license")
        params = json.loads(self._blob_text(manifest, "application/vnd.ollama.image.params") or "{}")
        arch = config.get("model_family", "")
        weights = next(
            (la for la in manifest["layers"] if la["mediaType"] == "application/vnd.ollama.image.model"), None
        )
        model_info = {
            "general.architecture": arch,
            "general.parameter_count": _parameter_count(config.get("model_type", "")),
            "general.quantization_version": 2,
            f"{arch}.context_length": config.get("context_length", 0),
            f"{arch}.embedding_length": 2048,
        }
        # `ollama show` prints one `PARAMETER key value` per value; /api/show's `parameters` pads keys to 30.
        pairs = [(k, json.dumps(v)) for k, vs in sorted(params.items()) for v in (vs if isinstance(vs, list) else [vs])]
        blob = self.blob_path(weights["digest"]) if weights else ""
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this, replace FROM with:\n"
            f"# FROM {name.display}\n\n"
            f"FROM {blob}\n"
            f'TEMPLATE """{template}"""\n'
            + "".join(f"PARAMETER {k} {v}\n" for k, v in pairs)
            + f'LICENSE """{license_text}"""\n'
        )
        return _json(
            {
                "license": license_text,
                "modelfile": modelfile,
                "parameters": "\n".join(f"{k:<30} {v}" for k, v in pairs),
                "template": template,
                "details": self._details(config),
                "model_info": model_info,
                "capabilities": config.get("capabilities", ["completion"]),
                "modified_at": _local_time(path.stat().st_mtime),
            }
        )

    async def _delete(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        raw = body.get("model") or body.get("name") or ""
        if not raw:
            return _error(400, "model is required")
        name = ModelName.parse(raw)
        if name is None:
            return _error(400, f"name {json.dumps(raw)} is invalid")
        path = self.manifest_path(name)
        if not path.exists():
            return _error(404, f"model '{raw}' not found")
        manifest, _ = self._read_manifest(path)
        path.unlink()
        self._prune_dirs(path.parent)
        self._remove_unreferenced(self._blob_sizes(manifest))
        return web.Response(status=200)

    def _prune_dirs(self, directory: Path) -> None:
        root = self.models_dir / "manifests"
        while directory != root and directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
            directory = directory.parent

    @staticmethod
    def _blob_sizes(manifest: dict[str, Any]) -> dict[str, int]:
        return {la["digest"]: la["size"] for la in [*manifest["layers"], manifest["config"]]}

    def _remove_unreferenced(self, blobs: dict[str, int]) -> None:
        """Delete blobs no remaining manifest uses (manifest.RemoveLayers / deleteUnusedLayers)."""
        in_use: set[str] = set()
        for _, path in self._installed():
            in_use |= set(self._blob_sizes(self._read_manifest(path)[0]))
        for digest, size in blobs.items():
            blob = self.blob_path(digest)
            if digest not in in_use and blob.exists():
                blob.unlink()
                self._free_disk(size)

    def _free_disk(self, n: int) -> None:
        with self._state:
            if self.disk_free_bytes is not None:
                self.disk_free_bytes += n

    async def _ps(self, request: web.Request) -> web.Response:
        now = time.time()
        with self._state:
            for key in [k for k, v in self._loaded.items() if v.expires_at <= now]:
                del self._loaded[key]
            loaded = sorted(self._loaded.values(), key=lambda v: v.expires_at, reverse=True)
        models = []
        for v in loaded:
            # Real Ollama reports a far-future time (year 2318) for keep_alive < 0.
            expires = now + 292 * 365 * 86400 if math.isinf(v.expires_at) else v.expires_at
            models.append(
                {
                    "name": v.name.display,
                    "model": v.name.display,
                    "size": v.size,
                    "digest": v.digest,
                    "details": v.details,
                    "expires_at": _local_time(expires),
                    "size_vram": v.size if self.gpu else 0,
                    "context_length": v.context_length,
                }
            )
        return _json({"models": models})

    # -- pull ------------------------------------------------------------------------------------------------

    async def _pull(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        name = ModelName.parse(body.get("model") or body.get("name") or "")
        if name is None:
            return _error(400, "invalid model name")
        events = self._pull_events(name)
        if body.get("stream", True) is False:
            return await self._collect(events)
        return await self._stream(request, events)

    async def _stream(self, request: web.Request, events: AsyncIterator[dict[str, Any]]) -> web.StreamResponse:
        """streamResponse: NDJSON lines; a client that goes away stops the work (its context ends)."""
        resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await resp.prepare(request)
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            try:
                async for event in events:
                    await resp.write(_dumps(event).encode() + b"\n")
            except ConnectionError:
                return resp
        await resp.write_eof()
        return resp

    @staticmethod
    async def _collect(events: AsyncIterator[dict[str, Any]]) -> web.Response:
        """waitForStream: keep the latest event; an error becomes HTTP 500."""
        latest: dict[str, Any] = {}
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            async for event in events:
                if "error" in event:
                    return _error(500, event["error"])
                latest = event
        return _json(latest)

    async def _pull_events(self, name: ModelName) -> AsyncIterator[dict[str, Any]]:
        """PullModel: manifest, each layer (config last), verify, write manifest, prune, success."""
        path = self.manifest_path(name)
        old = self._blob_sizes(self._read_manifest(path)[0]) if path.exists() else {}
        yield {"status": "pulling manifest"}
        if self.manifest_delay_s:
            await asyncio.sleep(self.manifest_delay_s)
        if self.offline:
            url = f"https://{name.host}/v2/{name.namespace}/{name.model}/manifests/{name.tag}"
            yield {"error": f'pull model manifest: Get "{url}": dial tcp: lookup {name.host}: no such host'}
            return
        with self._state:
            entry = self.library.get(name.display) if name.host == DEFAULT_HOST else None
            layers = self._layers(entry) if entry else []
            manifest_data = self._manifest_bytes(entry) if entry else b""
        if entry is None:
            yield {"error": "pull model manifest: file does not exist"}
            return
        try:
            for layer in layers:
                # Close the inner generator with ours, so a client disconnect saves its resume point now.
                async with contextlib.aclosing(self._download(layer)) as download:  # type: ignore[type-var]
                    async for event in download:
                        yield event
        except _PullFailed as e:
            yield {"error": str(e)}
            return
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(manifest_data)
        unused = {d: size for d, size in old.items() if d not in {layer.digest for layer in layers}}
        if unused:
            yield {"status": "removing unused layers"}
            self._remove_unreferenced(unused)
        yield {"status": "success"}

    async def _download(self, layer: Layer) -> AsyncIterator[dict[str, Any]]:
        """downloadBlob: a finished blob is reported once; else fill `-partial` tick by tick, resumably."""
        status = f"pulling {layer.digest[7:19]}"
        final = self.blob_path(layer.digest)
        lock = self._digest_locks.setdefault(layer.digest, asyncio.Lock())
        async with lock:  # a concurrent pull of the same blob waits, then sees it finished
            if final.exists():
                yield {"status": status, "digest": layer.digest, "total": layer.size, "completed": layer.size}
                return
            partial = Path(f"{final}-partial")
            part_file = Path(f"{partial}-0")
            on_disk = len(layer.data)
            offset = 0  # bytes written to the partial file, in on-disk units
            if partial.exists() and part_file.exists():
                with contextlib.suppress(ValueError, KeyError, OSError):
                    offset = min(on_disk, int(json.loads(part_file.read_text())["Completed"]))
            with partial.open("r+b" if partial.exists() else "w+b") as f:
                # Real Ollama sizes the (sparse) partial file up front and tracks progress in `-partial-N`.
                f.truncate(on_disk)
                self._write_part(part_file, on_disk, offset)
                done = offset * layer.size // on_disk if on_disk else 0  # reported bytes
                try:
                    while True:
                        await asyncio.sleep(self.tick_s)
                        want = min(layer.size, done + max(1, self.bytes_per_tick))
                        with self._state:
                            free = self.disk_free_bytes
                            if free is not None:
                                self.disk_free_bytes = max(0, free - (want - done))
                        full = free is not None and want - done > free
                        if full:
                            want = done + max(0, free or 0)
                        end = on_disk if want >= layer.size else max(offset, -(-want * on_disk // layer.size))
                        f.seek(offset)
                        f.write(layer.data[offset:end])
                        offset, done = end, want
                        if full:
                            raise _PullFailed(f"write {partial}: no space left on device")
                        event: dict[str, Any] = {"status": status, "digest": layer.digest}
                        # api.ProgressResponse omits zero total/completed
                        if layer.size:
                            event["total"] = layer.size
                        if done:
                            event["completed"] = done
                        yield event
                        if done >= layer.size:
                            break
                finally:
                    # Runs on completion, on ENOSPC and when the client went away: the resume point survives.
                    f.flush()
                    self._write_part(part_file, on_disk, offset)
            part_file.unlink()
            partial.rename(final)

    @staticmethod
    def _write_part(path: Path, size: int, completed: int) -> None:
        path.write_text(_dumps({"N": 0, "Offset": 0, "Size": size, "Completed": completed}) + "\n")

    # -- registry endpoint -----------------------------------------------------------------------------------

    async def _registry_manifest(self, request: web.Request) -> web.Response:
        repo, tag = request.match_info["repo"], request.match_info["tag"]
        namespace, _, model = repo.rpartition("/")
        key = f"{model}:{tag}" if namespace in ("", DEFAULT_NAMESPACE) else f"{namespace}/{model}:{tag}"
        with self._state:
            entry = self.library.get(key)
            data = self._manifest_bytes(entry) if entry else None
        if data is None:
            return _json(
                {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": tag}}]},
                status=404,
            )
        return web.Response(
            body=data,
            content_type=MANIFEST_MEDIA_TYPE,
            headers={"Docker-Content-Digest": "sha256:" + hashlib.sha256(data).hexdigest()},
        )

    # -- chat / generate -------------------------------------------------------------------------------------

    def _resolve_for_inference(
        self, body: dict[str, Any]
    ) -> tuple[ModelName, dict[str, Any], str, dict[str, Any]] | web.Response:
        raw = body.get("model") or ""
        if not raw:
            return _error(400, "model is required")
        name = ModelName.parse(raw)
        if name is None:
            return _error(400, "invalid model name")
        path = self.manifest_path(name)
        if not path.exists():
            return _error(404, f"model '{raw}' not found")
        manifest, digest = self._read_manifest(path)
        return name, manifest, digest, self._read_config(manifest)

    async def _load(
        self,
        name: ModelName,
        manifest: dict[str, Any],
        digest: str,
        config: dict[str, Any],
        body: dict[str, Any],
    ) -> float:
        """Schedule the model (mark it loaded until keep_alive runs out); returns load seconds."""
        with self._state:
            already = name in self._loaded and self._loaded[name].expires_at > time.time()
        started = time.monotonic()
        if not already and self.load_delay_s:
            await asyncio.sleep(self.load_delay_s)
        num_ctx = (body.get("options") or {}).get("num_ctx") or self.default_num_ctx
        keep = _parse_keep_alive(body.get("keep_alive"), self.default_keep_alive_s)
        with self._state:
            if keep == 0:
                self._loaded.pop(name, None)
            else:
                self._loaded[name] = _Loaded(
                    name,
                    self._manifest_size(manifest),
                    digest,
                    self._details(config),
                    int(num_ctx),
                    time.time() + keep,
                )
        return time.monotonic() - started

    def _reply_for(self, model: str, body: dict[str, Any], last_user: str) -> Any:
        reply = self.reply
        if callable(reply):
            return reply(body)
        if reply is not None:
            return reply
        return f"[{model}] You said: {last_user}"

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        resolved = self._resolve_for_inference(body)
        if isinstance(resolved, web.Response):
            return resolved
        name, manifest, digest, config = resolved
        model = body["model"]
        capabilities = config.get("capabilities", ["completion"])
        # ChatHandler's capability checks, in its order and with its texts.
        if body.get("think") and "thinking" not in capabilities:
            return _error(400, f"{json.dumps(model)} does not support thinking")
        if "completion" not in capabilities:
            return _error(400, f"{json.dumps(model)} does not support chat")
        if body.get("tools") and "tools" not in capabilities:
            return _error(400, f"{name.full} does not support tools")
        messages = body.get("messages") or []
        if not messages:
            keep = _parse_keep_alive(body.get("keep_alive"), self.default_keep_alive_s)
            reason = "unload" if keep == 0 else "load"
            if keep == 0:
                with self._state:
                    self._loaded.pop(name, None)
            else:
                await self._load(name, manifest, digest, config, body)
            return _json(
                {"model": model, "created_at": _now_utc(), "message": {"role": "assistant", "content": ""},
                 "done_reason": reason, "done": True}
            )  # fmt: skip
        last_user = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
        prompt = sum(_count_tokens(str(m.get("content") or "")) + 4 for m in messages)
        reply = self._reply_for(model, body, last_user)

        async def chunks() -> AsyncIterator[dict[str, Any]]:
            t0 = time.monotonic()
            load_s = await self._load(name, manifest, digest, config, body)
            if isinstance(reply, dict):  # a full message, e.g. tool calls: one chunk
                pieces: list[dict[str, Any]] = [{"role": "assistant", "content": "", **reply}]
            else:
                pieces = [{"role": "assistant", "content": t} for t in _tokens(str(reply))]
            limit = (body.get("options") or {}).get("num_predict")
            reason = "stop"
            if isinstance(limit, int) and 0 <= limit < len(pieces):
                pieces, reason = pieces[:limit], "length"
            t_eval = time.monotonic()
            for i, piece in enumerate(pieces):
                if self.fail_after_chunks is not None and i >= self.fail_after_chunks:
                    yield {"error": self.fail_message}
                    return
                if self.token_delay_s:
                    await asyncio.sleep(self.token_delay_s)
                yield {"model": model, "created_at": _now_utc(), "message": piece, "done": False}
            yield {
                "model": model,
                "created_at": _now_utc(),
                "message": {"role": "assistant", "content": ""},
                "done_reason": reason,
                "done": True,
                **self._metrics(t0, load_s, t_eval, prompt, max(1, len(pieces))),
            }

        if body.get("stream", True) is False:
            content, extra, final = "", {}, {}
            async for event in chunks():
                if "error" in event:
                    return _error(500, event["error"])
                if event["done"]:
                    final = event
                else:
                    content += event["message"].get("content", "")
                    extra.update({k: v for k, v in event["message"].items() if k not in ("role", "content")})
            return _json({**final, "message": {"role": "assistant", "content": content, **extra}})
        return await self._stream(request, chunks())

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        resolved = self._resolve_for_inference(body)
        if isinstance(resolved, web.Response):
            return resolved
        name, manifest, digest, config = resolved
        model = body["model"]
        if "completion" not in config.get("capabilities", ["completion"]):
            return _error(400, f"{json.dumps(model)} does not support generate")
        prompt_text = str(body.get("prompt") or "")
        if not prompt_text:
            await self._load(name, manifest, digest, config, body)
            return _json(
                {
                    "model": model,
                    "created_at": _now_utc(),
                    "response": "",
                    "done": True,
                    "done_reason": "load",
                }
            )
        reply = self._reply_for(model, body, prompt_text)
        prompt = _count_tokens(prompt_text) + _count_tokens(str(body.get("system") or "")) + 4

        async def chunks() -> AsyncIterator[dict[str, Any]]:
            t0 = time.monotonic()
            load_s = await self._load(name, manifest, digest, config, body)
            pieces = _tokens(str(reply))
            t_eval = time.monotonic()
            for i, piece in enumerate(pieces):
                if self.fail_after_chunks is not None and i >= self.fail_after_chunks:
                    yield {"error": self.fail_message}
                    return
                if self.token_delay_s:
                    await asyncio.sleep(self.token_delay_s)
                yield {"model": model, "created_at": _now_utc(), "response": piece, "done": False}
            yield {
                "model": model,
                "created_at": _now_utc(),
                "response": "",
                "done": True,
                "done_reason": "stop",
                "context": list(range(1, prompt + len(pieces) + 1)),
                **self._metrics(t0, load_s, t_eval, prompt, max(1, len(pieces))),
            }

        if body.get("stream", True) is False:
            text, final = "", {}
            async for event in chunks():
                if "error" in event:
                    return _error(500, event["error"])
                text += event["response"]
                final = event
            return _json({**final, "response": text})
        return await self._stream(request, chunks())

    @staticmethod
    def _metrics(t0: float, load_s: float, t_eval: float, prompt: int, evals: int) -> dict[str, int]:
        now = time.monotonic()
        ns = 1_000_000_000
        return {
            "total_duration": max(1, int((now - t0) * ns)),
            "load_duration": max(1, int(load_s * ns)),
            "prompt_eval_count": prompt,
            "prompt_eval_duration": max(1, int((t_eval - t0 - load_s) * ns)),
            "eval_count": evals,
            "eval_duration": max(1, int((now - t_eval) * ns)),
        }
