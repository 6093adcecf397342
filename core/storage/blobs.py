"""Where the bytes of files posted in threads are kept, by their SHA-256 (one copy however often a file is posted).

Two stores, chosen by SWITCHBOARD_FILE_STORE:
- **files**: a folder (SWITCHBOARD_FILES_DIR, default DATA_DIR/files), readable by this user only: the embedded
  default, next to the SQLite database.
- **database**: the `blob` table. What several workers sharing PostgreSQL need: a file posted to one worker is read
  by another, after a restart, with nothing else to deploy or back up (an object store would be one more service
  with its own credentials; at the sizes the limits allow, PostgreSQL's bytea holds them well).
"auto" (the default) picks files on SQLite and database otherwise.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import delete, select

from core.settings import get_settings
from core.storage.db import connection, insert_ignoring_conflicts
from core.storage.tables import Blob, utcnow


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _in_database() -> bool:
    s = get_settings()
    return s.file_store == "database" or (s.file_store == "auto" and not s.is_sqlite)


def _folder() -> Path:
    s = get_settings()
    return s.files_dir or s.data_dir / "files"


def _path(sha256: str) -> Path:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError("not a SHA-256 digest")
    return _folder() / sha256[:2] / sha256


def put(data: bytes) -> str:
    """Keep `data`; returns its SHA-256. Idempotent, also when two processes keep the same bytes at once."""
    sha = digest(data)
    if _in_database():
        table = Blob.__table__  # type: ignore[attr-defined]
        with connection(write=True) as conn:
            conn.execute(
                insert_ignoring_conflicts(table, conn).values(
                    sha256=sha, data=data, size=len(data), created_at=utcnow()
                )
            )
        return sha
    path = _path(sha)
    if path.exists():
        return sha
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(_folder(), 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")  # created 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)  # whole or not at all, even when another process writes the same file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha


def get(sha256: str) -> bytes | None:
    """The bytes kept under `sha256`, or None when they are gone (retention) or were never kept here."""
    if _in_database():
        table = Blob.__table__  # type: ignore[attr-defined]
        with connection() as conn:
            found = conn.execute(select(table.c.data).where(table.c.sha256 == sha256)).scalar()
        return bytes(found) if found is not None else None
    try:
        return _path(sha256).read_bytes()
    except (FileNotFoundError, ValueError):
        return None


def drop(sha256: str) -> None:
    """Forget the bytes kept under `sha256` (nothing when they are not kept)."""
    if _in_database():
        table = Blob.__table__  # type: ignore[attr-defined]
        with connection(write=True) as conn:
            conn.execute(delete(table).where(table.c.sha256 == sha256))
        return
    try:
        _path(sha256).unlink(missing_ok=True)
    except ValueError:
        return
