"""Setup for long-running worker processes (the bots, the scheduler), done once before they take their first message.

- `connect_database` migrates the database (when auto-migrate is on) and opens the engine before the process
  goes online, so a schema problem stops it at startup rather than on the first message.

- litellm is imported on a thread as the process starts serving, so the first message of the day does not wait
  seconds for the import, and the process goes online without waiting for it either: the import took 4-5 s of
  CPU, more than the rest of a bot's startup together (docs/benchmarks.md, "At scale"). A message that arrives
  before it is done waits for it off the event loop (core.providers.llm.ready), no longer than it would have
  waited for the process to come online.
- The garbage collector is tuned for a server whose heap is mostly import-time objects (litellm's model map,
  pydantic schemas, SQLAlchemy metadata): those are frozen out of collections, and young collections run
  every 50,000 net allocations instead of every 700. A streamed reply allocates thousands of short-lived
  objects, so with the defaults a busy worker spent 14-17% of its CPU in the collector, mostly in full
  collections that walked the whole import-time heap (docs/benchmarks.md has the measurement).
"""

from __future__ import annotations

import gc
import threading

GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Freeze what is alive now out of future collections, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)


def connect_database() -> None:
    """Migrate (when auto-migrate is on) and connect, before the process goes online."""
    from core.storage.db import get_engine

    get_engine()


def prepare_worker() -> threading.Thread:
    """Import litellm on a thread, then tune the collector (once the import's heap can be frozen with the rest
    of startup's): call after startup imports, before serving, which need not wait. Returns the thread."""
    from core.providers import llm

    def load() -> None:
        llm.litellm()
        llm.count_text_tokens("openai/warm-up", "ready")  # loads the tokenizer a first turn would load
        tune_gc()

    loading = threading.Thread(target=load, name="import-litellm", daemon=True)
    loading.start()
    return loading


async def release() -> None:
    """What a serving process lets go of when it stops, after its replies in progress have finished: the MCP
    servers' sessions kept across replies (a stdio server's process ends with its session)."""
    from core.tools import client

    await client.close_pool()
