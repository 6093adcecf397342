"""Schema migrations (Alembic), run automatically at startup and by `switchboard db upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_ID = 7_362_001  # any constant; serialises concurrent upgrades across processes


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision`; safe when several processes start at once. (Upgrades of stored data
    that need the running app, such as moving secrets into the secret store, are done by the module that owns
    the data, the first time it reads it: see core.providers.store.secure_stored_headers.)"""
    cfg = alembic_config()
    bind = engine.execution_options(sqlite_immediate=True) if engine.dialect.name == "sqlite" else engine
    with bind.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def regenerate_initial() -> Path:
    """Developer tool: rewrite the single initial migration from core/storage/tables.py (before any release).

    `python -m core.storage.migrate regenerate`
    """
    import tempfile

    from sqlalchemy import create_engine

    versions = MIGRATIONS / "versions"
    for old in versions.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{tmp}/empty.db")
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    return next(versions.glob("0001_*.py"))


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["regenerate"]:
        print(regenerate_initial())
