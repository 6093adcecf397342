"""Which model answers and how it is called: the per-scope policy that picks a model (policy), fallback chains
(chains), prompt templates and presets (prompts), the chain walk with per-error rules (route), and the litellm
gateway (llm, the one module that imports litellm)."""
