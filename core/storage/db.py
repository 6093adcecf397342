"""The database engine and sessions: SQLite (WAL, busy timeout) by default, PostgreSQL by DATABASE_URL."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, create_engine

from core.errors import UserError
from core.settings import get_settings
from core.storage.storable import storable_params

P = ParamSpec("P")
R = TypeVar("R")
_engines: dict[str, Engine] = {}
_lock = threading.Lock()
# SQLite allows one writer. Threads of one process queue on this lock (woken at once) instead of in SQLite's
# busy handler (which sleeps in steps); other processes still wait through busy_timeout.
_sqlite_writers: dict[str, threading.RLock] = {}
_migrated: set[str] = set()

SQLITE_BUSY_TIMEOUT_MS = 30_000


class StorageError(UserError):
    """The database cannot be used; the message says why and what to do."""


def _sqlite_engine(url: str) -> Engine:
    path = url.split("sqlite:///", 1)[-1]
    if path and path != ":memory:":
        # The database holds password hashes and usage: other local users get no access. SQLite gives its -wal
        # and -shm files the database file's mode. An existing folder or file keeps the mode its owner chose.
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not Path(path).exists():
            Path(path).touch(mode=0o600)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=get_settings().db_pool_size,
        max_overflow=40,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves, so writers can take the lock up front (BEGIN IMMEDIATE)
        # instead of failing with "database is locked" when a read transaction upgrades.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for `url` (default: settings), migrated to head on first use (auto-migrate)."""
    settings = get_settings()
    url = url or settings.effective_database_url
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                engine = _sqlite_engine(url)
            else:
                engine = create_engine(url, pool_pre_ping=True, pool_size=settings.db_pool_size, max_overflow=40)
            event.listen(engine, "before_cursor_execute", _storable_statement, retval=True)
            _engines[url] = engine
    if settings.auto_migrate and url not in _migrated:
        from core.storage.migrate import upgrade

        upgrade(engine)
        _migrated.add(url)
    return engine


def _storable_statement(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _executemany: bool
) -> tuple[str, Any]:
    # The last line of defence for text from anywhere (forms, names, provider errors): PostgreSQL would refuse a
    # NUL that SQLite keeps, so both get U+FFFD (see core.storage.storable).
    return statement, storable_params(parameters)


def dispose_engines() -> None:
    """Close every pooled connection (tests, and before a process forks)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _migrated.clear()


@contextmanager
def _writer(engine: Engine, write: bool) -> Iterator[None]:
    if not (write and engine.dialect.name == "sqlite"):
        yield
        return
    with _lock:
        lock = _sqlite_writers.setdefault(str(engine.url), threading.RLock())
    with lock:
        yield


@contextmanager
def session(*, write: bool = False) -> Iterator[Session]:
    """A session that commits on success and rolls back on error.

    `write=True` takes SQLite's write lock at BEGIN, for read-then-write transactions that must not race.
    """
    engine = get_engine()
    bind = engine.execution_options(sqlite_immediate=True) if write else engine
    with _writer(engine, write), Session(bind, expire_on_commit=False) as s:
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise


@contextmanager
def connection(*, write: bool = False) -> Iterator[Connection]:
    """A Core connection in a transaction (commit on success): for hot paths where ORM sessions cost too much."""
    engine = get_engine()
    bind = engine.execution_options(sqlite_immediate=True) if write else engine
    with _writer(engine, write), bind.begin() as conn:
        yield conn


def insert_ignoring_conflicts(table: Any, conn: Connection) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the connection's dialect (SQLite and PostgreSQL both have it)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def off_loop(fn: Callable[P, R], pool: Executor | None = None) -> Callable[P, Coroutine[Any, Any, R]]:
    """The async entry point of a storage function: one hop to a worker thread, so code on the event loop (the
    chat path, commands, adapters) awaits storage without blocking the loop or wrapping each call itself. `pool`:
    threads of its own, for a call that must not queue behind the process's other storage (None: the loop's
    shared pool, as asyncio.to_thread)."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if pool is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(pool, call)

    return run
