"""Provider kinds as data. A new kind that litellm supports is one more entry here, not a new code path."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderKind:
    name: str
    label: str
    litellm_provider: str  # the prefix litellm routes on, e.g. "openai/gpt-4o"
    listing: str  # how discovery lists models: "openai" | "anthropic" | "ollama" | "static"
    default_base_url: str | None
    needs_key: bool = True
    base_url_required: bool = False
    supports_organization: bool = False
    local: bool = False
    privacy_note: str = ""
    # the path appended to the base URL for the model list (OpenAI style)
    models_path: str = "/models"


_CLOUD = "Cloud: prompts and replies are sent to {label}."

KINDS: dict[str, ProviderKind] = {
    k.name: k
    for k in [
        ProviderKind(
            "ollama",
            "Ollama",
            "ollama_chat",
            "ollama",
            "http://127.0.0.1:11434",
            needs_key=False,
            local=True,
            privacy_note="Local: prompts and replies stay on the Ollama server you run.",
        ),
        ProviderKind(
            "openai",
            "OpenAI",
            "openai",
            "openai",
            "https://api.openai.com/v1",
            supports_organization=True,
            privacy_note=_CLOUD.format(label="OpenAI")
            + " API data is kept up to 30 days for abuse monitoring and not used for training by default.",
        ),
        ProviderKind(
            "anthropic",
            "Anthropic",
            "anthropic",
            "anthropic",
            "https://api.anthropic.com",
            models_path="/v1/models",
            privacy_note=_CLOUD.format(label="Anthropic")
            + " API data is not used for training by default; retained for a limited period.",
        ),
        ProviderKind(
            "groq",
            "Groq",
            "groq",
            "openai",
            "https://api.groq.com/openai/v1",
            privacy_note=_CLOUD.format(label="Groq") + " Groq states it does not retain inputs by default.",
        ),
        ProviderKind(
            "together_ai",
            "Together AI",
            "together_ai",
            "openai",
            "https://api.together.xyz/v1",
            privacy_note=_CLOUD.format(label="Together AI") + " Retention follows your Together account settings.",
        ),
        ProviderKind(
            "openai_compatible",
            "OpenAI-compatible server",
            "openai",
            "openai",
            None,
            needs_key=False,
            base_url_required=True,
            privacy_note="Self-hosted or third-party: data goes to the base URL you configured.",
        ),
        # More litellm providers with an OpenAI-style model list: data only.
        ProviderKind(
            "mistral",
            "Mistral",
            "mistral",
            "openai",
            "https://api.mistral.ai/v1",
            privacy_note=_CLOUD.format(label="Mistral AI"),
        ),
        ProviderKind(
            "deepseek",
            "DeepSeek",
            "deepseek",
            "openai",
            "https://api.deepseek.com/v1",
            privacy_note=_CLOUD.format(label="DeepSeek"),
        ),
        ProviderKind(
            "openrouter",
            "OpenRouter",
            "openrouter",
            "openai",
            "https://openrouter.ai/api/v1",
            privacy_note=_CLOUD.format(label="OpenRouter and the upstream provider it picks"),
        ),
        ProviderKind(
            "fireworks_ai",
            "Fireworks AI",
            "fireworks_ai",
            "openai",
            "https://api.fireworks.ai/inference/v1",
            privacy_note=_CLOUD.format(label="Fireworks AI"),
        ),
        ProviderKind("xai", "xAI", "xai", "openai", "https://api.x.ai/v1", privacy_note=_CLOUD.format(label="xAI")),
        ProviderKind(
            "cerebras",
            "Cerebras",
            "cerebras",
            "openai",
            "https://api.cerebras.ai/v1",
            privacy_note=_CLOUD.format(label="Cerebras"),
        ),
    ]
}


def get_kind(name: str) -> ProviderKind | None:
    """A known kind, or a generic one for any other provider litellm supports (static model list)."""
    if name in KINDS:
        return KINDS[name]
    from core.providers import llm

    if llm.known_provider(name):
        return ProviderKind(name, name, name, "static", None, privacy_note=f"Cloud: data is sent to {name}.")
    return None


def kind_names() -> list[str]:
    return sorted(KINDS)
