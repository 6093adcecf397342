"""Providers: their kinds (kinds), the Provider table with keys and headers in the secret store (store, headers),
connection tests and model discovery (discovery), and calling them through litellm (llm, the one module that
imports litellm)."""
