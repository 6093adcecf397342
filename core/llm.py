"""The one module that imports litellm.

litellm takes seconds to import, so it is imported on first use, never at module import time; the CLI and
the admin pages that only read the database stay fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@cache
def litellm() -> ModuleType:
    """The litellm module, imported once with our process-wide defaults."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm as _litellm

    _litellm.telemetry = False
    _litellm.suppress_debug_info = True
    _litellm.drop_params = True
    return _litellm


@dataclass(frozen=True)
class Metadata:
    """What litellm knows about a model. Prices are USD per million tokens; None means unknown."""

    context_window: int | None = None
    max_output: int | None = None
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    supports_tools: bool = False
    supports_vision: bool = False
    mode: str | None = None


def _per_mtok(value: Any) -> float | None:
    return None if value is None else round(float(value) * 1_000_000, 6)


def model_metadata(litellm_provider: str, model_id: str) -> Metadata | None:
    """litellm's metadata for a model of a provider, trying the spellings its cost map uses."""
    lib = litellm()
    candidates = [f"{litellm_provider}/{model_id}", model_id]
    if litellm_provider == "ollama_chat":
        candidates.append(f"ollama/{model_id}")
    base = model_id.split(":", 1)[0]
    if base != model_id:
        candidates += [f"{litellm_provider}/{base}", base]
    for name in candidates:
        info = lib.model_cost.get(name)
        if info is None:
            continue
        provider = str(info.get("litellm_provider", ""))
        if name == model_id and provider and not provider.startswith(litellm_provider.split("_chat")[0]):
            continue  # a bare id that belongs to another provider's price list
        return Metadata(
            context_window=info.get("max_input_tokens") or info.get("max_tokens"),
            max_output=info.get("max_output_tokens"),
            input_usd_per_mtok=_per_mtok(info.get("input_cost_per_token")),
            output_usd_per_mtok=_per_mtok(info.get("output_cost_per_token")),
            supports_tools=bool(info.get("supports_function_calling")),
            supports_vision=bool(info.get("supports_vision")),
            mode=info.get("mode"),
        )
    return None


def static_models(litellm_provider: str) -> list[str]:
    """The chat models litellm lists for a provider, ids without the provider prefix."""
    lib = litellm()
    out = []
    for name in sorted(lib.models_by_provider.get(litellm_provider, [])):
        info = lib.model_cost.get(name, {})
        if info.get("mode", "chat") != "chat":
            continue
        prefix = f"{litellm_provider}/"
        out.append(name[len(prefix) :] if name.startswith(prefix) else name)
    return out


def known_provider(name: str) -> bool:
    """True when litellm can route to this provider name."""
    return name in {str(p.value) if hasattr(p, "value") else str(p) for p in litellm().provider_list}
