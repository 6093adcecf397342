"""Ollama model names: `[host/][namespace/]model[:tag]`, parsed the way Ollama's `model.ParseName` does."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,79}$")
_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}$")


@dataclass(frozen=True)
class ModelName:
    """A parsed model name with Ollama's defaults filled in."""

    host: str
    namespace: str
    model: str
    tag: str

    @property
    def display(self) -> str:
        """The shortest form Ollama shows: `llama3.2:1b`, `user/model:tag`, `host/ns/model:tag`."""
        if self.host.lower() != DEFAULT_HOST:
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    @property
    def is_library(self) -> bool:
        """An official model of the default registry (the ones the catalog describes)."""
        return self.host.lower() == DEFAULT_HOST and self.namespace.lower() == DEFAULT_NAMESPACE


def parse_name(raw: str) -> ModelName | None:
    """Parse `raw`, or None when Ollama would call it an invalid model name."""
    text = raw.strip()
    if not text or any(ch.isspace() for ch in text):
        return None
    tag = DEFAULT_TAG
    if text.rfind(":") > text.rfind("/"):
        text, _, tag = text.rpartition(":")
    parts = text.split("/")
    if len(parts) > 3:
        return None
    host = parts[0] if len(parts) == 3 else DEFAULT_HOST
    namespace = parts[-2] if len(parts) >= 2 else DEFAULT_NAMESPACE
    model = parts[-1]
    if host.startswith(("http://", "https://")):
        host = host.split("://", 1)[1]
    ok = (
        bool(_HOST.match(host))
        and bool(_NAMESPACE.match(namespace))
        and bool(_PART.match(model))
        and bool(_PART.match(tag))
    )
    return ModelName(host, namespace, model, tag) if ok else None


def same_model(a: str, b: str) -> bool:
    """True when two names mean the same model (`llama3.2` and `llama3.2:latest`)."""
    pa, pb = parse_name(a), parse_name(b)
    if pa is None or pb is None:
        return a == b
    return pa.display.lower() == pb.display.lower()
