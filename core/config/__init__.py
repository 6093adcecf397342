"""What admins configure, stored in the database: defaults and policy per scope (scopes), fallback chains and
virtual models (chains), presets and prompt templates (prompts), and the config version every change bumps so
running processes reload their snapshot (version). Environment settings are core.settings; the per-process
snapshot of all this is core.snapshot."""
