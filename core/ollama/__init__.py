"""The Ollama manager: installed models, the library catalog, pulls with progress (cancel, concurrency limit,
disk checks), removal and update checks, for every provider of kind `ollama` (explicit hosts, several servers).

The CLI, the chat `!install` command and the admin page are thin layers over this package. Async functions
take a provider name (None: the only Ollama server) and return dataclasses; sync callers use `run_sync(...)`
or `start_pull_in_thread(...)` and read a job's progress with `get_job` / `list_jobs` (plain database reads).
"""

from __future__ import annotations

from core.ollama.catalog import (
    Catalog,
    CatalogEntry,
    LibraryEntry,
    LibraryTag,
    approx_size,
    load_catalog,
    parse_size,
    search_catalog,
    suggest,
)
from core.ollama.catalog_refresh import CatalogRefresh, refresh_catalog
from core.ollama.control import (
    cancel_pull,
    find_job,
    pull_model,
    run_in_background,
    run_sync,
    start_pull_in_thread,
    watch_job,
)
from core.ollama.explain import without_cli_advice
from core.ollama.installed import InstalledModel, Removal, ServerModels, list_installed, remove_model
from core.ollama.library import LibraryView, browse_library
from core.ollama.names import ModelName, parse_name
from core.ollama.pull_jobs import JobView, LayerProgress, dismiss_job, get_job, list_jobs, reap_stale
from core.ollama.pulls import PullStart, run_job, start_pull
from core.ollama.servers import DiskInfo, OllamaError, Server, disk_info, get_server, servers
from core.ollama.updates import UpdateCheck, check_updates
from core.ollama.upkeep import check_updates_and_alert, reap_stale_pulls, refresh_library, start_updates

__all__ = [
    "Catalog",
    "CatalogEntry",
    "CatalogRefresh",
    "DiskInfo",
    "InstalledModel",
    "JobView",
    "LayerProgress",
    "LibraryEntry",
    "LibraryTag",
    "LibraryView",
    "ModelName",
    "OllamaError",
    "PullStart",
    "Removal",
    "Server",
    "ServerModels",
    "UpdateCheck",
    "approx_size",
    "browse_library",
    "cancel_pull",
    "check_updates",
    "check_updates_and_alert",
    "disk_info",
    "dismiss_job",
    "find_job",
    "get_job",
    "get_server",
    "list_installed",
    "list_jobs",
    "load_catalog",
    "parse_name",
    "parse_size",
    "pull_model",
    "reap_stale",
    "reap_stale_pulls",
    "refresh_catalog",
    "refresh_library",
    "remove_model",
    "run_in_background",
    "run_job",
    "run_sync",
    "search_catalog",
    "servers",
    "start_pull",
    "start_pull_in_thread",
    "start_updates",
    "suggest",
    "watch_job",
    "without_cli_advice",
]
