"""Alembic environment: runs on the connection core.storage.migrate hands over, or on DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import core.storage.tables  # noqa: F401  (registers every table on SQLModel.metadata)

target_metadata = SQLModel.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    from core.storage.db import get_engine

    with get_engine().connect() as conn:
        _run(conn)
