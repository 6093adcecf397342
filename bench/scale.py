"""At scale: the registry refresh of many providers, routing with a million stored messages, and how fast each
bot process is ready. Each target is a ratio or a bound measured in the same run.

    python -m bench.scale                          # every part (what `make bench` runs after `python -m bench`)
    python -m bench.scale registry startup         # some parts: registry | volume | startup
    python -m bench.scale volume --database-url postgresql://postgres@127.0.0.1:5432/bench_scale

- **registry**: 10 loopback OpenAI-style providers, each answering its model list after its own delay (0.1 s to
  1.0 s), refreshed through `core.models.sync.refresh` (what the scheduler and `switchboard registry refresh`
  run); its wall time against a refresh of the slowest provider alone, alternating. Target: at most the slowest
  plus 20%.
- **volume**: a database filled with 1,000,000 messages over 20,000 threads, with their budget reservations and
  usage rows, against one with the same configuration and no history (schema made by the product's migrations,
  rows bulk-inserted with executemany or COPY). The core path (`core.chat.handle`) on a new thread and on a
  continuing thread, alternating between the two databases. Every statement a turn runs, and those of the
  scheduler's periodic jobs, is EXPLAINed on the full database. Target: per-message latency within 10%.
- **startup**: `switchboard slack` (HTTP and Socket Mode), `switchboard discord` and `switchboard scheduler`,
  each launched several times against loopback fakes, timed from launch to ready; then the first message's and
  a second message's reply. Target: ready within 3 s.

Results go to `bench/results/scale-<part>.json` (git-ignored) and, together, into the `scale` block of
docs/benchmarks.md. The filled SQLite database is kept under bench/results/ too, keyed by the schema revision
and the fill, so later runs reuse it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.__main__ import ROOT, update_doc

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
PARTS = ("registry", "volume", "startup")
MASTER_KEY = "YmVuY2htYXJrLWtleS1iZW5jaG1hcmsta2V5LWJlbmM="
FILL_VERSION = 2  # bump when the fill below changes, so cached databases are rebuilt


def _base_env(data_dir: Path, database_url: str) -> dict[str, str]:
    return {
        "SWITCHBOARD_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "SWITCHBOARD_SECRET_KEY": MASTER_KEY,
        "SWITCHBOARD_SECRET_BACKEND": "encrypted",
        "SWITCHBOARD_NETWORK_CHECKS": "false",
        "SWITCHBOARD_PROVIDER_TIMEOUT": "5",
        "SWITCHBOARD_OLLAMA_REGISTRY_URL": "http://127.0.0.1:9/",
        "SWITCHBOARD_OLLAMA_LIBRARY_URL": "http://127.0.0.1:9/library",
        "SWITCHBOARD_OLLAMA_UPDATE_CHECK_HOURS": "0",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }


def use_settings(env: dict[str, str]) -> None:
    """Point this process at another database (as the tests do between tests): settings, engines, secret store,
    configuration snapshot and gateway start afresh."""
    for key in [k for k in os.environ if k.startswith(("SWITCHBOARD_", "SLACK_", "DISCORD_"))]:
        del os.environ[key]
    os.environ.update(env)
    from core import secrets, snapshot
    from core.routing import route
    from core.settings import get_settings
    from core.storage.db import dispose_engines

    dispose_engines()
    secrets.reset_backend()
    snapshot.invalidate()
    route.reset_gateway()
    get_settings.cache_clear()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _meta() -> str:
    load = os.getloadavg()[0]
    return (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M UTC} on {platform.machine()} {os.cpu_count()} cores "
        f"(load average {load:.1f} at the end of the part), Python {platform.python_version()}"
    )


# ================================================================================================ registry

REGISTRY_DELAYS = [round(0.1 * (i + 1), 1) for i in range(10)]
MODELS_PER_PROVIDER = 25


def serve_fakes(delays: list[float]) -> None:
    """`python -m bench.scale --serve-fakes 0.1,0.2,...`: one fake OpenAI server per delay, in this process (not
    the measured one), each answering GET /v1/models after its delay. Prints one URL a line."""
    from tests.fakes.openai import FakeOpenAI

    fakes = []
    for i, delay in enumerate(delays):
        models = [f"scale-{i}-model-{j}" for j in range(MODELS_PER_PROVIDER)]
        fakes.append(FakeOpenAI(models=models, api_key=None, delay_s=delay).start())
    for fake in fakes:
        print(fake.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(5)
            for fake in fakes:
                with fake._lock:
                    fake.requests.clear()


@contextlib.contextmanager
def fake_process(args: list[str], lines: int) -> Iterator[list[str]]:
    """A helper process of this module (fake servers), its first `lines` lines of output (their URLs)."""
    proc = subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        yield [proc.stdout.readline().strip() for _ in range(lines)]
    finally:
        proc.terminate()
        proc.wait(10)


def registry_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from core.models.sync import refresh
    from core.providers.store import add_provider

    use_settings(_base_env(tmp / "registry", f"sqlite:///{tmp}/registry/registry.db"))
    delays = REGISTRY_DELAYS
    slowest = f"p{len(delays) - 1:02d}"
    walls: dict[str, list[float]] = {"all": [], "slowest": []}
    per_provider: list[float] = []
    with fake_process(["bench.scale", "--serve-fakes", ",".join(map(str, delays))], len(delays)) as urls:
        for i, url in enumerate(urls):
            add_provider(f"p{i:02d}", "openai_compatible", base_url=url + "/v1")

        async def timed(names: list[str] | None) -> float:
            started = time.perf_counter()
            results = await refresh(names)
            wall = time.perf_counter() - started
            failed = [r.provider for r in results if not r.ok]
            if failed:
                raise RuntimeError(f"refresh failed for {failed}")
            if names is None:
                per_provider.extend(r.seconds for r in results if r.provider == slowest)
            return wall

        async def run() -> None:
            await timed(None)  # warm: litellm imported, every model row added
            for r in range(args.rounds):
                order = ("all", "slowest") if r % 2 == 0 else ("slowest", "all")
                for what in order:
                    walls[what].append(await timed(None if what == "all" else [slowest]))

        asyncio.run(run())
    all_s, slow_s = statistics.median(walls["all"]), statistics.median(walls["slowest"])
    ratio = statistics.median(a / s for a, s in zip(walls["all"], walls["slowest"], strict=True))
    return {
        "part": "registry",
        "meta": _meta(),
        "providers": len(delays),
        "delays": delays,
        "models_per_provider": MODELS_PER_PROVIDER,
        "rounds": args.rounds,
        "all_s": walls["all"],
        "slowest_s": walls["slowest"],
        "median_all_s": all_s,
        "median_slowest_s": slow_s,
        "ratio": ratio,
        "met": ratio <= 1.2,
    }


def registry_report(r: dict[str, Any]) -> str:
    lines = [
        f"{r['meta']}; {r['providers']} providers of {r['models_per_provider']} models each, model lists answered "
        f"after {r['delays'][0]:g} s to {r['delays'][-1]:g} s; {r['rounds']} rounds alternating the two refreshes.",
        "",
        "| refresh | median wall s | min | max |",
        "| --- | --- | --- | --- |",
        f"| all {r['providers']} providers | {r['median_all_s']:.3f} | {min(r['all_s']):.3f} | {max(r['all_s']):.3f} |",
        f"| the slowest alone | {r['median_slowest_s']:.3f} | {min(r['slowest_s']):.3f} | {max(r['slowest_s']):.3f} |",
        "",
        f"All / slowest alone: **{r['ratio']:.3f}x** (median of per-round ratios; target at most 1.20x: "
        f"{'met' if r['met'] else 'NOT met'}).",
    ]
    return "\n".join(lines) + "\n"


# ================================================================================================ volume

THREAD_MESSAGES = 50  # rows per filled thread: 25 turns
PROBE_THREADS = 40  # threads with history that the measured continuing messages go to (in both databases)
PROBE_MESSAGES = 40
USERS = 500
CHANNELS = 200
WORKSPACES = 10
FILL_MODELS = ["bench/bench-model", "bench/other-a", "bench/other-b", "local/llama-3.2-3b", "local/qwen2.5-7b"]
FILLER = (
    "the quick brown fox jumps over a lazy dog while our team ships the release notes for the new dashboard "
    "and someone asks how to rotate the keys before friday so the budget stays within limits"
)
WORDS = FILLER.split()
BENCH_WS, BENCH_CHANNEL, BENCH_USER = "T0000", "C0001", "U0001"


def _pool(size: int = 4096) -> list[str]:
    rnd = random.Random(16)
    return [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(8, 30))) for _ in range(size)]


POOL = _pool()


def _text(n: int) -> str:
    return f"#{n} {POOL[n % len(POOL)]}"


@dataclass
class Fill:
    """The synthetic history: `messages` rows over threads of THREAD_MESSAGES, spread over a year, each
    thread's rows interleaved with every other thread's (as in a busy workspace), plus probe threads."""

    messages: int
    start: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=365))

    @property
    def threads(self) -> int:
        return self.messages // THREAD_MESSAGES


def _processor(table: Any, column: str, dialect: Any) -> Callable[[Any], Any]:
    proc = table.c[column].type.bind_processor(dialect)
    return proc or (lambda v: v)


def _conversation_rows(first_id: int, count: int, prefix: str, when: datetime) -> list[dict[str, Any]]:
    rows = []
    for k in range(count):
        cid = first_id + k
        rows.append(
            {
                "id": cid,
                "platform": "slack" if cid % 3 else "discord",
                "workspace": BENCH_WS if prefix == "probe" else f"T{cid % WORKSPACES:04d}",
                "channel": BENCH_CHANNEL if prefix == "probe" else f"C{cid % CHANNELS:04d}",
                "thread": f"{prefix}-{cid}",
                "current_model": "bench/bench-model" if prefix == "probe" else FILL_MODELS[cid % len(FILL_MODELS)],
                "preset": None,
                "system_prompt": None,
                "title": _text(cid)[:200],
                "created_by": f"U{cid % USERS:04d}",
                "trim_notified": False,
                "pending_notice": None,
                "created_at": when,
                "updated_at": when,
            }
        )
    return rows


def _message_rows(
    conv_ids: list[int], turns: int, first_id: int, start: datetime, span: timedelta
) -> Iterator[dict[str, Any]]:
    """Rows turn by turn across the threads (so a thread's rows lie far apart, as they do in a real table)."""
    total = len(conv_ids) * turns * 2
    mid = first_id
    for turn in range(turns):
        for cid in conv_ids:
            when = start + span * ((mid - first_id) / max(1, total))
            user = f"U{cid % USERS:04d}"
            yield {
                "id": mid,
                "conversation_id": cid,
                "role": "user",
                "content": _text(mid),
                "user_id": user,
                "event_id": f"ev-{mid}",
                "model": None,
                "provider": None,
                "status": "ok",
                "prompt_tokens": None,
                "completion_tokens": None,
                "cost_usd": None,
                "latency_ms": None,
                "ttft_ms": None,
                "finish_reason": None,
                "created_at": when,
            }
            failed = (mid + turn) % 50 == 0
            model = FILL_MODELS[(cid + turn) % len(FILL_MODELS)]
            yield {
                "id": mid + 1,
                "conversation_id": cid,
                "role": "assistant",
                "content": "" if failed else _text(mid + 1),
                "user_id": user,
                "event_id": f"reply:ev-{mid}",
                "model": model,
                "provider": model.split("/")[0],
                "status": "error" if failed else "ok",
                "prompt_tokens": 40 * (turn + 1),
                "completion_tokens": 60,
                "cost_usd": 0.0 if model.startswith("local") else 0.0004,
                "latency_ms": 900.0 + (mid % 400),
                "ttft_ms": 200.0 + (mid % 100),
                "finish_reason": "stop",
                "created_at": when,
            }
            mid += 2


MESSAGE_COLUMNS = [
    "id",
    "conversation_id",
    "role",
    "content",
    "user_id",
    "event_id",
    "model",
    "provider",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "latency_ms",
    "ttft_ms",
    "finish_reason",
    "created_at",
]
CONVERSATION_COLUMNS = [
    "id",
    "platform",
    "workspace",
    "channel",
    "thread",
    "current_model",
    "preset",
    "system_prompt",
    "title",
    "created_by",
    "trim_notified",
    "pending_notice",
    "created_at",
    "updated_at",
]
RESERVATION_COLUMNS = ["id", "usage_id", "amount_micros", "holder", "message_key", "status", "created_at", "expires_at"]
USAGE_COLUMNS = ["id", "budget_id", "period_start", "period_end", "spent_micros", "reserved_micros"]


class Loader:
    """Bulk inserts through the DBAPI (executemany on SQLite, COPY on PostgreSQL), each column's value made by
    the column's own SQLAlchemy type, so rows are stored exactly as the product stores them."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.url = url
        self.engine = create_engine(url)
        self.dialect = self.engine.dialect
        self.raw: Any = self.engine.raw_connection()
        self.sqlite = self.dialect.name == "sqlite"
        if self.sqlite:
            self.raw.isolation_level = None
            cur = self.raw.cursor()
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-200000")
            cur.execute("BEGIN")

    def rows(self, table_name: str, columns: list[str], rows: Any) -> int:
        from core.storage.tables import SQLModel

        table = SQLModel.metadata.tables[table_name]
        procs = [_processor(table, c, self.dialect) for c in columns]
        values = (tuple(p(r[c]) for p, c in zip(procs, columns, strict=True)) for r in rows)
        cur = self.raw.cursor()
        n = 0
        if self.sqlite:
            marks = ",".join("?" * len(columns))
            batch: list[tuple[Any, ...]] = []
            for v in values:
                batch.append(v)
                if len(batch) == 50_000:
                    cur.executemany(f"INSERT INTO {table_name} ({','.join(columns)}) VALUES ({marks})", batch)
                    n += len(batch)
                    batch = []
            if batch:
                cur.executemany(f"INSERT INTO {table_name} ({','.join(columns)}) VALUES ({marks})", batch)
                n += len(batch)
            return n
        with cur.copy(f"COPY {table_name} ({','.join(columns)}) FROM STDIN") as copy:
            for v in values:
                copy.write_row(v)
                n += 1
        return n

    def indexes(self, table: str) -> list[tuple[str, str]]:
        """(name, CREATE statement) of the table's secondary indexes that are not constraints."""
        cur = self.raw.cursor()
        if self.sqlite:
            cur.execute(
                "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL", (table,)
            )
        else:
            cur.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND i.schemaname = "
                "current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                (table,),
            )
        return [(str(a), str(b)) for a, b in cur.fetchall()]

    def execute(self, sql: str) -> None:
        self.raw.cursor().execute(sql)

    def commit(self) -> None:
        if self.sqlite:
            self.raw.cursor().execute("COMMIT")
        else:
            self.raw.commit()

    def close(self) -> None:
        self.raw.close()
        self.engine.dispose()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from core.storage.migrate import alembic_config

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


def configure_world(llm_url: str) -> None:
    """What an admin sets up, through the product's own functions: a paid provider with a priced model as the
    global default, and budgets (money and tokens; global, workspace and per user) that every message meets."""
    from core.budgets.store import add_budget
    from core.config.scopes import ScopeKey, update_scope
    from core.models.registry import set_model_overrides
    from core.models.sync import refresh
    from core.providers.store import add_provider

    add_provider("bench", "openai", base_url=llm_url + "/v1", api_key="sk-bench-key-000000000001")
    asyncio.run(refresh())
    set_model_overrides("bench/bench-model", input_usd_per_mtok=0.15, output_usd_per_mtok=0.6)
    update_scope(ScopeKey("", "", ""), default_model="bench/bench-model", by="bench")
    add_budget("global", "day", 100_000.0)
    add_budget("global", "month", 1_000_000.0)
    for w in range(WORKSPACES):
        add_budget(f"workspace:T{w:04d}", "month", 100_000.0)
    for u in range(50):
        add_budget(f"user:U{u:04d}", "day", 1e12, metric="tokens")


def fill_history(url: str, fill: Fill, probe_first_conv: int) -> dict[str, float]:
    """Bulk rows into a migrated, configured database: the history (when fill.messages), the probe threads, the
    budgets' past periods and the reservations of every past reply. Secondary indexes of the big tables are
    dropped during the insert and made again after it, with the schema's own statements."""
    from core.budgets.periods import bounds
    from core.budgets.store import list_budgets
    from core.storage.db import dispose_engines

    timings: dict[str, float] = {}
    budgets = list_budgets()
    dispose_engines()
    started = time.perf_counter()
    loader = Loader(url)
    dropped: list[tuple[str, str]] = []
    if fill.messages:
        for table in ("message", "budgetreservation"):
            for name, create in loader.indexes(table):
                loader.execute(f"DROP INDEX {name}")
                dropped.append((name, create))
    span = timedelta(days=364)
    n_conv = fill.threads
    loader.rows("conversation", CONVERSATION_COLUMNS, _conversation_rows(1, n_conv, "t", fill.start))
    probe_ids = list(range(probe_first_conv, probe_first_conv + PROBE_THREADS))
    loader.rows(
        "conversation",
        CONVERSATION_COLUMNS,
        _conversation_rows(probe_first_conv, PROBE_THREADS, "probe", fill.start + span),
    )
    msgs = loader.rows(
        "message", MESSAGE_COLUMNS, _message_rows(list(range(1, n_conv + 1)), THREAD_MESSAGES // 2, 1, fill.start, span)
    )
    first_probe_msg = 1 + msgs
    loader.rows(
        "message",
        MESSAGE_COLUMNS,
        _message_rows(probe_ids, PROBE_MESSAGES // 2, first_probe_msg, fill.start + span, timedelta(hours=1)),
    )
    timings["messages_s"] = time.perf_counter() - started
    usage_rows: list[dict[str, Any]] = []
    day_usage: dict[str, int] = {}
    uid = 1
    global_day = next(b for b in budgets if b.scope_kind == "global" and b.period == "day")
    if fill.messages:
        for b in budgets:
            seen: set[datetime] = set()
            for d in range(0, 365):
                start, end = bounds(b.period, fill.start + timedelta(days=d), "UTC")
                if start in seen:
                    continue
                seen.add(start)
                usage_rows.append(
                    {
                        "id": uid,
                        "budget_id": b.id,
                        "period_start": start,
                        "period_end": end,
                        "spent_micros": 1000 * d,
                        "reserved_micros": 0,
                    }
                )
                if b.id == global_day.id:
                    day_usage[start.date().isoformat()] = uid
                uid += 1
        loader.rows("budgetusage", USAGE_COLUMNS, usage_rows)

        def reservations() -> Iterator[dict[str, Any]]:
            """One settled reservation per reply, against the global daily budget of its day."""
            total = n_conv * THREAD_MESSAGES
            for rid, reply_id in enumerate(range(2, total + 1, 2), start=1):
                when = fill.start + span * ((reply_id - 1) / total)
                usage = day_usage.get(when.date().isoformat())
                if usage is None:
                    continue
                yield {
                    "id": rid,
                    "usage_id": usage,
                    "amount_micros": 700,
                    "holder": "bench:1",
                    "message_key": f"reply-row:{reply_id}",
                    "status": "settled",
                    "created_at": when,
                    "expires_at": when + timedelta(minutes=5),
                }

        timings["reservations"] = loader.rows("budgetreservation", RESERVATION_COLUMNS, reservations())
    timings["insert_s"] = time.perf_counter() - started
    for _name, create in dropped:
        loader.execute(create)
    if not loader.sqlite:
        for table in ("conversation", "message", "budgetusage", "budgetreservation"):
            loader.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    loader.commit()
    if not loader.sqlite:
        loader.raw.driver_connection.autocommit = True
        loader.execute("VACUUM ANALYZE")  # what autovacuum does to a table this size soon after
    timings["total_s"] = time.perf_counter() - started
    loader.close()
    return timings


@dataclass
class Database:
    label: str  # empty | full
    url: str
    env: dict[str, str]


def _pg_schema_url(admin_url: str, schema: str) -> str:
    url = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def _pg_exec(admin_url: str, sql: str) -> list[Any]:
    import psycopg

    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        cur = conn.execute(sql)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def _filled_marker(url: str) -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT value FROM meta WHERE key = 'bench_scale_fill'")).scalar() == "complete"
    except Exception:
        return False
    finally:
        engine.dispose()


def _mark_filled(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO meta (key, value, updated_at) VALUES ('bench_scale_fill', 'complete', :now)"),
            {"now": datetime.now(UTC).replace(tzinfo=None) if engine.dialect.name == "sqlite" else datetime.now(UTC)},
        )
    engine.dispose()


def _start_afresh(url: str) -> None:
    from sqlalchemy import create_engine, text

    from core.storage.db import dispose_engines

    dispose_engines()
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        return
    engine = create_engine(url)
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar()
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()


def prepare_database(label: str, url: str, env: dict[str, str], llm_url: str, fill: Fill) -> dict[str, float]:
    """Migrate (the product's startup does it), configure, fill; or, for a cached full database, only point its
    provider at this run's fake server."""
    from core.models.sync import refresh
    from core.providers.store import update_provider
    from core.storage.db import dispose_engines, get_engine

    use_settings({**env, "DATABASE_URL": url})
    if label == "full" and _filled_marker(url):
        update_provider("bench", base_url=llm_url + "/v1")
        asyncio.run(refresh())
        return {"cached": 1.0}
    _start_afresh(url)  # what an interrupted fill left
    started = time.perf_counter()
    get_engine()  # migrations, as a process's startup runs them
    configure_world(llm_url)
    migrated = time.perf_counter() - started
    dispose_engines()
    timings = fill_history(
        url, fill if label == "full" else Fill(0, fill.start), fill.threads + 1 if label == "full" else 1
    )
    timings["migrate_configure_s"] = migrated
    _mark_filled(url)
    return timings


class StatementLog:
    """Every statement the product sends while recording, with its parameters (to EXPLAIN them afterwards)."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}
        self.recording = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if (
            self.recording
            and not many
            and statement.lstrip().split(" ", 1)[0].upper() in ("SELECT", "UPDATE", "DELETE")
        ):
            self.seen.setdefault(statement, parameters)

    @contextlib.contextmanager
    def record(self) -> Iterator[dict[str, Any]]:
        from sqlalchemy import event

        from core.storage.db import get_engine

        engine = get_engine()
        self.seen = {}
        self.recording = True
        event.listen(engine, "before_cursor_execute", self)
        try:
            yield self.seen
        finally:
            self.recording = False
            event.remove(engine, "before_cursor_execute", self)


BIG_TABLES = ("message", "conversation", "budgetreservation", "budgetusage")


def _sqlite_unbounded(line: str, partial: set[str]) -> bool:
    """A plan line that reads a big table whole: a SCAN, or a SEARCH with only a range (no equality) over a
    full index (a partial index holds only the rows its WHERE names, e.g. replies still pending)."""
    words = line.split()
    if len(words) < 2 or words[1] not in BIG_TABLES:
        return False
    if line.startswith("SCAN "):
        return True
    if not line.startswith("SEARCH ") or "(" not in line:
        return False
    index = words[words.index("INDEX") + 1] if "INDEX" in words else ""
    conds = line[line.rindex("(") + 1 : line.rindex(")")].split(" AND ")
    return index not in partial and not any(re.fullmatch(r"[\w.]+=\?", c.strip()) for c in conds)


def explain(statements: dict[str, Any]) -> list[dict[str, Any]]:
    """EXPLAIN each statement (SQLite: QUERY PLAN) with its parameters; `full_scan` lists the plan lines that
    read a big table whole (SQLite: a scan, or a range over a whole index; PostgreSQL: a sequential scan)."""
    from core.storage.db import get_engine

    engine = get_engine()
    out = []
    raw: Any = engine.raw_connection()
    try:
        cur = raw.cursor()
        partial: set[str] = set()
        if engine.dialect.name == "sqlite":
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'")
            partial = {str(row[0]) for row in cur.fetchall()}
        for sql, params in statements.items():
            if engine.dialect.name == "sqlite":
                cur.execute("EXPLAIN QUERY PLAN " + sql, params)
                plan = [str(row[3]) for row in cur.fetchall()]
                scans = [line for line in plan if _sqlite_unbounded(line, partial)]
            else:
                cur.execute("EXPLAIN " + sql, params)
                plan = [str(row[0]) for row in cur.fetchall()]
                scans = [
                    line.strip()
                    for line in plan
                    if "Seq Scan on" in line and line.split("Seq Scan on ")[1].split()[0] in BIG_TABLES
                ]
            out.append({"sql": " ".join(sql.split()), "plan": plan, "full_scan": scans})
        raw.rollback()
    finally:
        raw.close()
    return out


def _message(thread: str, n: int, run: str, text: str | None = None) -> Any:
    from core.types import IncomingMessage

    return IncomingMessage(
        platform="slack",
        workspace=BENCH_WS,
        channel=BENCH_CHANNEL,
        thread=thread,
        user=BENCH_USER,
        text=text or f"scale message {n}: what did we decide about the release notes?",
        event_id=f"{run}-{n}",
    )


async def _turn(msg: Any) -> tuple[float, float]:
    """One message through the core path: (wall seconds, CPU seconds of this process, all its threads)."""
    from core.chat import handle
    from core.types import Done

    started, cpu = time.perf_counter(), time.process_time()
    done = None
    async for event in handle(msg):
        if isinstance(event, Done):
            done = event
    if done is None or done.result.status != "ok":
        raise RuntimeError(f"the core path did not answer {msg.thread}: {done}")
    return time.perf_counter() - started, time.process_time() - cpu


JOBS = ("budget_upkeep", "conversation_upkeep")


async def _time_jobs(times: int = 3) -> dict[str, float]:
    """Each job's median run time (the first run of budget upkeep also opens the current periods)."""
    from core import jobs

    out = {}
    for name in JOBS:
        runs = []
        for _ in range(times):
            started = time.perf_counter()
            await getattr(jobs, name)()
            runs.append(time.perf_counter() - started)
        out[name] = statistics.median(runs)
    return out


def _usage_message(event_id: str) -> Any:
    """`!usage` in the first filled thread, by its user: with a full database, the sums cover its channel's
    threads (about 3,300 messages) and its user's (about 1,300)."""
    from core.types import IncomingMessage

    return IncomingMessage("slack", "T0001", "C0001", "t-1", "U0001", "!usage", event_id=event_id)


def _usage_command_s(msg: Any) -> float:
    from core.chat import handle

    async def run() -> float:
        started = time.perf_counter()
        async for _ in handle(msg):
            pass
        return time.perf_counter() - started

    return asyncio.run(run())


def volume_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    fill = Fill(args.messages)
    rev = head_revision()
    dbs: list[Database] = []
    env = _base_env(tmp / "volume", "")
    if args.database_url:
        admin = args.database_url
        full_schema = f"scale_full_r{rev}_f{FILL_VERSION}_{fill.messages}"
        empty_schema = f"scale_empty_{os.getpid()}"
        for (old,) in _pg_exec(admin, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'scale\\_%'"):
            if old != full_schema:  # an older schema's or fill's copy, or an interrupted run's empty database
                _pg_exec(admin, f"DROP SCHEMA {old} CASCADE")
        _pg_exec(admin, f"CREATE SCHEMA IF NOT EXISTS {full_schema}")
        _pg_exec(admin, f"DROP SCHEMA IF EXISTS {empty_schema} CASCADE")
        _pg_exec(admin, f"CREATE SCHEMA {empty_schema}")
        dbs = [
            Database("empty", _pg_schema_url(admin, empty_schema), env),
            Database("full", _pg_schema_url(admin, full_schema), env),
        ]
        engine_name = "PostgreSQL"
    else:
        RESULTS.mkdir(exist_ok=True)
        cached = RESULTS / f"scale-r{rev}-f{FILL_VERSION}-{fill.messages}.db"
        for old in RESULTS.glob("scale-r*.db"):  # an older schema's or fill's copy (other sizes are kept)
            if not old.name.startswith(f"scale-r{rev}-f{FILL_VERSION}-"):
                old.unlink()
                for side in (Path(f"{old}-wal"), Path(f"{old}-shm")):
                    side.unlink(missing_ok=True)
        dbs = [
            Database("empty", f"sqlite:///{tmp}/volume/empty.db", env),
            Database("full", f"sqlite:///{cached}", env),
        ]
        engine_name = "SQLite (WAL)"
    result: dict[str, Any] = {
        "part": "volume",
        "meta": _meta(),
        "engine": engine_name,
        "messages": fill.messages,
        "threads": fill.threads,
        "rounds": args.rounds,
        "per_round": args.per_round,
    }
    server = ["bench.server", str(args.ttft), str(args.token_delay), str(args.tokens)]
    with fake_process(server, 1) as (llm_url,):
        prep = {}
        for db in dbs:
            t0 = time.perf_counter()
            prep[db.label] = prepare_database(db.label, db.url, db.env, llm_url, fill)
            print(f"volume: {db.label} database ready in {time.perf_counter() - t0:.1f} s {prep[db.label]}", flush=True)
        result["prepare"] = prep
        lat: dict[tuple[str, str], list[float]] = {(d.label, k): [] for d in dbs for k in ("new", "continuing")}
        by_round: dict[tuple[str, str, int], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {(d.label, k): [] for d in dbs for k in ("new", "continuing")}
        cpu_by_round: dict[tuple[str, str, int], list[float]] = {}
        run = f"r{int(time.time())}"
        probe_first = {"empty": 1, "full": fill.threads + 1}
        for r in range(args.rounds):
            order = dbs if r % 2 == 0 else list(reversed(dbs))
            for db in order:
                use_settings({**db.env, "DATABASE_URL": db.url})
                from core.runtime import tune_gc

                async def measure(db: Database = db, r: int = r) -> None:
                    for w in range(5):  # warm: engine, snapshot, gateway, pages
                        await _turn(_message(f"warm-{run}-{r}-{w}", w, f"{run}-{db.label}-warm-{r}"))
                    for i in range(args.per_round):
                        new = _message(f"new-{run}-{r}-{i}", i, f"{run}-{db.label}-new-{r}")
                        probe = f"probe-{probe_first[db.label] + (r * args.per_round + i) % PROBE_THREADS}"
                        cont = _message(probe, i, f"{run}-{db.label}-cont-{r}")
                        for kind, msg in (("new", new), ("continuing", cont)):
                            took, used = await _turn(msg)
                            lat[(db.label, kind)].append(took)
                            cpu[(db.label, kind)].append(used)
                            by_round.setdefault((db.label, kind, r), []).append(took)
                            cpu_by_round.setdefault((db.label, kind, r), []).append(used)

                if r == 0:
                    tune_gc()
                asyncio.run(measure())
            print(f"volume: round {r + 1}/{args.rounds} done", flush=True)
        result["latency"] = {f"{k[0]}/{k[1]}": v for k, v in lat.items()}
        result["cpu"] = {f"{k[0]}/{k[1]}": v for k, v in cpu.items()}
        # plans and periodic jobs on the full database
        full = next(d for d in dbs if d.label == "full")
        use_settings({**full.env, "DATABASE_URL": full.url})
        log = StatementLog()
        with log.record() as seen:
            asyncio.run(_turn(_message(f"new-{run}-explain", 0, f"{run}-explain-new")))
            asyncio.run(_turn(_message(f"probe-{probe_first['full']}", 1, f"{run}-explain-cont")))
        result["turn_plans"] = explain(seen)
        with log.record() as seen:
            jobs_full = asyncio.run(_time_jobs())
        result["job_plans"] = explain(seen)
        result["jobs"] = {"full": jobs_full}
        result["usage_command_s"] = {"full": _usage_command_s(_usage_message(f"{run}-usage-full"))}
        empty = next(d for d in dbs if d.label == "empty")
        use_settings({**empty.env, "DATABASE_URL": empty.url})
        result["jobs"]["empty"] = asyncio.run(_time_jobs())
        result["usage_command_s"]["empty"] = _usage_command_s(_usage_message(f"{run}-usage-empty"))
    if args.database_url:
        _pg_exec(args.database_url, f"DROP SCHEMA IF EXISTS scale_empty_{os.getpid()} CASCADE")
    ratios = {}  # median over rounds of the round's full / empty medians: the databases ran back to back
    for kind in ("new", "continuing"):
        ratios[kind] = statistics.median(
            statistics.median(by_round[("full", kind, r)]) / statistics.median(by_round[("empty", kind, r)])
            for r in range(args.rounds)
        )
    result["ratios"] = ratios
    result["cpu_ratios"] = {
        kind: statistics.median(
            statistics.median(cpu_by_round[("full", kind, r)]) / statistics.median(cpu_by_round[("empty", kind, r)])
            for r in range(args.rounds)
        )
        for kind in ("new", "continuing")
    }
    result["meta"] = _meta()
    result["met"] = all(v <= 1.10 for v in ratios.values()) and not any(p["full_scan"] for p in result["turn_plans"])
    return result


def _plan_line(p: dict[str, Any]) -> str:
    sql = p["sql"]
    short = sql if len(sql) <= 110 else sql[:107] + "..."
    plan = "; ".join(line.strip() for line in p["plan"] if line.strip())
    if len(plan) > 160:
        plan = plan[:157] + "..."
    return f"| `{short}` | {plan} | {'**reads a big table whole**' if p['full_scan'] else 'bounded'} |"


def volume_report(r: dict[str, Any]) -> str:
    lat = r["latency"]
    lines = [
        f"{r['meta']}; {r['engine']}; {r['messages']:,} messages in {r['threads']:,} threads (plus "
        f"{PROBE_THREADS} probe threads of {PROBE_MESSAGES} messages in both databases), {r['rounds']} rounds "
        f"alternating the databases, {r['per_round']} new-thread and {r['per_round']} continuing-thread messages per "
        "round and database, one at a time.",
        "",
        "| message | empty DB p50 ms | full DB p50 ms | full / empty (p50, paired by round) | empty p95 ms "
        "| full p95 ms | CPU ms/msg empty / full | CPU full / empty |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind in ("new", "continuing"):
        e, f = lat[f"empty/{kind}"], lat[f"full/{kind}"]
        if "cpu" in r:
            ce, cf = statistics.median(r["cpu"][f"empty/{kind}"]), statistics.median(r["cpu"][f"full/{kind}"])
            cpu_cols = f"{ce * 1000:.1f} / {cf * 1000:.1f} | {r['cpu_ratios'][kind]:.3f}x"
        else:
            cpu_cols = "- | -"
        lines.append(
            f"| {kind} thread | {statistics.median(e) * 1000:.1f} | {statistics.median(f) * 1000:.1f} "
            f"| **{r['ratios'][kind]:.3f}x** | {pct(e, 95) * 1000:.1f} | {pct(f, 95) * 1000:.1f} | {cpu_cols} |"
        )
    scans = [p for p in r["turn_plans"] if p["full_scan"]]
    lines += [
        "",
        f"Target (full within 10% of empty, p50): {'met' if r['met'] else 'NOT met'}. Statements a turn runs: "
        f"{len(r['turn_plans'])} distinct SELECT/UPDATE/DELETE, {len(scans)} of them reading a big table whole.",
        "",
        "Scheduler jobs (median of 3 runs) and `!usage`, seconds:",
        "",
        "| job | empty DB | full DB |",
        "| --- | --- | --- |",
    ]
    for name in JOBS:
        lines.append(f"| {name} | {r['jobs']['empty'][name]:.3f} | {r['jobs']['full'][name]:.3f} |")
    usage = r["usage_command_s"]
    lines.append(f"| `!usage` (thread, channel, user sums) | {usage['empty']:.3f} | {usage['full']:.3f} |")
    lines += [
        "",
        "<details><summary>Query plans on the full database</summary>",
        "",
        "| statement | plan | |",
        "| --- | --- | --- |",
    ]
    lines += [_plan_line(p) for p in r["turn_plans"]]
    lines += [_plan_line(p) for p in r["job_plans"]]
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


# ================================================================================================ startup

KINDS = ("slack-http", "slack-socket", "discord", "scheduler")
READY_TARGET_S = 3.0


@dataclass
class Launch:
    kind: str
    ready_s: float | None  # launch to ready; None: not ready within the deadline
    ready_cpu_s: float | None = None  # CPU its main thread used until then (what the machine's load does not stretch)
    first_text_s: float | None = None  # first message sent to its first visible text
    first_reply_s: float | None = None  # ... to its finished reply (footer shown)
    second_reply_s: float | None = None  # the next message, the process warm
    clean: bool = True  # no traceback in its output


def _child_env(env: dict[str, str]) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would make litellm compile on every import (see the Makefile): a deployment keeps
    # its bytecode, so the launches here do too
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base = {k: v for k, v in base.items() if not k.startswith(("SWITCHBOARD_", "SLACK_", "DISCORD_"))}
    return {**base, **env, "PATH": os.path.dirname(sys.executable) + ":" + os.environ["PATH"]}


async def _until(predicate: Callable[[], Any], deadline: float, every: float = 0.005) -> Any:
    while time.perf_counter() < deadline:
        found = predicate()
        if found:
            return found
        await asyncio.sleep(every)
    return None


class Launcher:
    """The fakes every launch talks to (one of each for the whole part) and one launch of one process kind."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        from tests.fakes.discord import FakeDiscord
        from tests.fakes.slack import FakeSlack
        from tests.slackkit import FakeSlackSocket

        self.env = env
        self.logs = logs
        from tests.fakes.slack import SlackSender
        from tests.slackkit import SECRET

        self.slack = FakeSlack().start()
        self.socket = FakeSlackSocket().start()
        self.discord = FakeDiscord().start()
        # one sender per fake for every launch: event ids go on counting, so no launch's event is taken for a
        # redelivery of an earlier launch's (the product answers an event id once)
        self.senders = {fake: SlackSender("unset", SECRET, fake=fake) for fake in (self.slack, self.socket)}

    def close(self) -> None:
        for fake in (self.slack, self.socket, self.discord):
            fake.stop()

    def _env(self, kind: str, port: int) -> dict[str, str]:
        from tests.slackkit import SECRET

        env = dict(self.env)
        if kind == "slack-http":
            env.update(
                SLACK_API_URL=self.slack.api_url,
                SLACK_BOT_TOKEN=self.slack.workspace().token,
                SLACK_SIGNING_SECRET=SECRET,
                SWITCHBOARD_SLACK_MODE="http",
                SWITCHBOARD_SLACK_HOST="127.0.0.1",
                PORT=str(port),
            )
        elif kind == "slack-socket":
            env.update(
                SLACK_API_URL=self.socket.api_url,
                SLACK_BOT_TOKEN=self.socket.workspace().token,
                SLACK_APP_TOKEN="xapp-1-A0APP000001-socket-token",
                SWITCHBOARD_SLACK_MODE="socket",
            )
        elif kind == "discord":
            env.update(
                DISCORD_BOT_TOKEN=self.discord.token,
                DISCORD_API_BASE=self.discord.api_base,
                DISCORD_GUILD_IDS=str(self.discord.guild["id"]),
            )
        return env

    async def launch(self, kind: str, n: int) -> Launch:
        from tests.helpers import closed_port

        port = closed_port()
        log_path = self.logs / f"{kind}-{n}.log"
        command = "slack" if kind.startswith("slack") else kind
        sockets_before = len(self.socket.sockets)
        identifies_before = len(self.discord.identifies)
        with log_path.open("w") as log_file:
            started = time.perf_counter()
            proc = subprocess.Popen(  # noqa: ASYNC220 - started and polled, never waited for on the loop
                [sys.executable, "-m", "bot.cli", command],
                env=_child_env(self._env(kind, port)),
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = started + 60
            try:
                if kind == "slack-http":
                    ready = await _until(lambda: _healthz(port) or proc.poll() is not None, deadline)
                elif kind == "slack-socket":
                    ready = await _until(
                        lambda: len(self.socket.sockets) > sockets_before or proc.poll() is not None, deadline
                    )
                elif kind == "discord":
                    ready = await _until(
                        lambda: len(self.discord.identifies) > identifies_before or proc.poll() is not None, deadline
                    )
                else:
                    ready = await _until(
                        lambda: _leads_or_stands_by(log_path) or proc.poll() is not None, deadline, 0.01
                    )
                ready_at = time.perf_counter()
                result = Launch(
                    kind, ready_at - started if ready and proc.poll() is None else None, _main_cpu(proc.pid)
                )
                if result.ready_s is not None and kind != "scheduler":
                    for attempt in ("first", "second"):
                        text_s, reply_s = await self.message(kind, port, f"{kind} launch {n}, {attempt} message")
                        if attempt == "first":
                            result.first_text_s, result.first_reply_s = text_s, reply_s
                        else:
                            result.second_reply_s = reply_s
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait(10)
        result.clean = "Traceback" not in log_path.read_text()
        return result

    async def message(self, kind: str, port: int, text: str) -> tuple[float | None, float | None]:
        """Send a message the way the platform does; seconds to its first visible text and to its finished reply."""
        from tests.discordkit import Person, bot_messages
        from tests.slackkit import CHANNEL, footer_of

        if kind == "discord":
            fake = self.discord
            threads_before = len(fake.threads_of(fake.channel))
            started = time.perf_counter()
            Person(fake, fake.user).says(fake.channel, text, mention=True)
            deadline = started + 30
            threads = await _until(lambda: fake.threads_of(fake.channel)[threads_before:], deadline)
            if not threads:
                return None, None
            thread = threads[0]
            shown = await _until(lambda: [m for m in bot_messages(fake, thread) if m.content.strip()], deadline)
            text_s = time.perf_counter() - started if shown else None
            done = await _until(lambda: [m for m in bot_messages(fake, thread) if "-# " in m.content], deadline)
            return text_s, (time.perf_counter() - started if done else None)
        slack = self.slack if kind == "slack-http" else self.socket
        sender = self.senders[slack]
        sender.url = f"http://127.0.0.1:{port}/slack/events"
        event = sender.app_mention(text)
        started = time.perf_counter()
        if kind == "slack-http":
            await sender.send_event(event)
        else:
            self.socket.deliver(sender.envelope(event))
        deadline = started + 30

        def visible() -> Any:
            return [m for m in slack.bot_messages(CHANNEL, event["ts"]) if m.text.strip()]

        shown = await _until(visible, deadline)
        text_s = time.perf_counter() - started if shown else None
        done = await _until(lambda: [m for m in slack.bot_messages(CHANNEL, event["ts"]) if footer_of(m)], deadline)
        return text_s, (time.perf_counter() - started if done else None)


def _main_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) the process's main thread has used (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _healthz(port: int) -> bool:
    """GET /healthz with the standard library: an httpx client per poll loads a TLS context (50 ms of CPU), which
    on a 2-core machine took CPU from the process being timed."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=0.5)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().read() == b"ok"
    except OSError:
        return False
    finally:
        conn.close()


def _leads_or_stands_by(log: Path) -> bool:
    text = log.read_text()
    return " leads: " in text or " stands by: " in text


def startup_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from core.models.sync import refresh
    from core.providers.store import add_provider
    from core.storage.db import dispose_engines
    from tests.fakes.openai import FakeOpenAI

    env = _base_env(tmp / "startup", f"sqlite:///{tmp}/startup/startup.db")
    env["SWITCHBOARD_LOG_LEVEL"] = "INFO"
    use_settings(env)
    logs = tmp / "startup" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    launches: list[Launch] = []
    with FakeOpenAI(models=["llama-3.2-3b"], api_key=None) as llm:
        add_provider("lab", "openai_compatible", base_url=llm.url + "/v1")  # local and free: the first local model
        asyncio.run(refresh())
        dispose_engines()
        launcher = Launcher(env, logs)
        try:
            for n in range(args.launches):
                for kind in KINDS:
                    launch = asyncio.run(launcher.launch(kind, n))
                    print(f"startup: {launch}", flush=True)
                    launches.append(launch)
        finally:
            launcher.close()
            kept = RESULTS / "scale-startup-logs"  # each launch's output, for a look afterwards
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(logs, kept)
    rows = {}
    for kind in KINDS:
        mine = [x for x in launches if x.kind == kind]
        ready = [x.ready_s for x in mine if x.ready_s is not None]
        rows[kind] = {
            "launches": len(mine),
            "ready": ready,
            "ready_cpu": [x.ready_cpu_s for x in mine if x.ready_cpu_s is not None],
            "not_ready": len(mine) - len(ready),
            "first_text": [x.first_text_s for x in mine if x.first_text_s is not None],
            "first_reply": [x.first_reply_s for x in mine if x.first_reply_s is not None],
            "second_reply": [x.second_reply_s for x in mine if x.second_reply_s is not None],
            "launch_to_first_reply": [
                x.ready_s + x.first_reply_s for x in mine if x.ready_s is not None and x.first_reply_s is not None
            ],
            "clean": all(x.clean for x in mine),
        }
    met = all(r["ready"] and not r["not_ready"] and max(r["ready"]) <= READY_TARGET_S for r in rows.values())
    return {"part": "startup", "meta": _meta(), "launches": args.launches, "kinds": rows, "met": met}


def _mmm(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


READY_MEANS = {
    "slack-http": "`switchboard slack`, HTTP mode: GET /healthz answers ok",
    "slack-socket": "`switchboard slack`, Socket Mode: its websocket connected to the fake",
    "discord": "`switchboard discord`: IDENTIFY received by the fake gateway",
    "scheduler": "`switchboard scheduler`: logs that it leads or stands by",
}


def _launch_to_first_reply(row: dict[str, Any]) -> list[float]:
    if "launch_to_first_reply" in row:
        return list(row["launch_to_first_reply"])
    if len(row["ready"]) == len(row["first_reply"]):  # results kept before the column was added
        return [a + b for a, b in zip(row["ready"], row["first_reply"], strict=True)]
    return []


def startup_report(r: dict[str, Any]) -> str:
    lines = [
        f"{r['meta']}; each process kind launched {r['launches']} times (kinds interleaved), SQLite, a loopback "
        "fake model server; seconds as min / median / max.",
        "",
        "| process (ready when) | launch to ready | main thread's CPU until ready | first message: first text "
        "| first message: reply done | launch to first reply done | second message: reply done |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, row in r["kinds"].items():
        ready = _mmm(row["ready"]) + (f" ({row['not_ready']} never ready)" if row["not_ready"] else "")
        lines.append(
            f"| {READY_MEANS[kind]} | {ready} | {_mmm(row.get('ready_cpu', []))} | {_mmm(row['first_text'])} "
            f"| {_mmm(row['first_reply'])} | {_mmm(_launch_to_first_reply(row))} "
            f"| {_mmm(row['second_reply'])} |"
        )
    lines += ["", f"Target (every launch ready within {READY_TARGET_S:g} s): {'met' if r['met'] else 'NOT met'}."]
    return "\n".join(lines) + "\n"


# ================================================================================================ report, main

TITLES = {
    "registry": "Registry refresh of 10 providers",
    "volume": "Routing with 1M stored messages",
    "startup": "Bot processes ready after launch",
}


def _result_file(part: str, engine: str = "") -> Path:
    return RESULTS / f"scale-{part}{'-' + engine if engine else ''}.json"


def full_report(command: str) -> str:
    """Every part's latest result, in order (a run of some parts keeps the others' last figures)."""
    renderers = {"registry": registry_report, "volume": volume_report, "startup": startup_report}
    out = []
    for part in PARTS:
        for path in sorted(RESULTS.glob(f"scale-{part}*.json"), key=lambda p: (p.name.count("-"), p.name)):
            data = json.loads(path.read_text())
            on = f", on {data['engine'].split(' (')[0]}" if part == "volume" else ""
            out.append(f"#### {TITLES[part]}{on}\n")
            out.append(f"Command: `{data.get('command', command)}`\n")
            out.append(renderers[part](data))
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"parts to run: {', '.join(PARTS)} (default: all)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (registry and volume)")
    parser.add_argument("--messages", type=int, default=1_000_000, help="stored messages of the full database")
    parser.add_argument("--per-round", type=int, default=50, help="volume: messages of each kind per round and DB")
    parser.add_argument("--database-url", help="volume on PostgreSQL (schemas are made in this database)")
    parser.add_argument("--launches", type=int, default=3, help="startup: launches per process kind")
    parser.add_argument("--ttft", type=float, default=0.005, help="volume: fake time to first token, seconds")
    parser.add_argument("--token-delay", type=float, default=0.001, help="volume: fake delay between tokens")
    parser.add_argument("--tokens", type=int, default=10, help="volume: tokens per reply")
    parser.add_argument("--write", type=Path, default=DOC, help="markdown file to update ('-' to skip)")
    parser.add_argument("--serve-fakes", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fakes:
        serve_fakes([float(d) for d in args.serve_fakes.split(",")])
        return
    parts = args.parts or list(PARTS)
    if unknown := [p for p in parts if p not in PARTS]:
        parser.error(f"unknown part {', '.join(unknown)}: choose from {', '.join(PARTS)}")
    command = "python -m bench.scale" + "".join(f" {a}" for a in sys.argv[1:])
    RESULTS.mkdir(exist_ok=True)
    runners = {"registry": registry_part, "volume": volume_part, "startup": startup_part}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for part in parts:
            started = time.perf_counter()
            result = runners[part](args, Path(tmp))
            result["command"] = command
            result["seconds"] = time.perf_counter() - started
            engine = "postgresql" if part == "volume" and args.database_url else ""
            _result_file(part, engine).write_text(json.dumps(result, indent=1, default=str))
            print(f"== {TITLES[part]} ({result['seconds']:.0f} s)")
            print({"registry": registry_report, "volume": volume_report, "startup": startup_report}[part](result))
    if str(args.write) != "-":
        update_doc(args.write, full_report(command), "scale")


if __name__ == "__main__":
    main()
