"""The model registry: the Model table and its edits (registry), discovery of providers' models into it (sync),
measured latency stats (stats), and the one close-name matcher every lookup uses (matching). What users are
offered from it in a place is core.menus."""
