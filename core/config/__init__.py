"""Configuration: environment settings (settings), the config version every admin change bumps (version),
defaults and policy per scope (scopes), and each process's snapshot of the stored configuration, reloaded when
the version moves (snapshot)."""
