"""The model registry and what reads it: the Model table and its edits (registry), discovery of providers' models
into it (sync), measured latency stats (stats), close-name matching (matching), and the listings and pickers that
users and the admin see."""
