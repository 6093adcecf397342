"""message: partial indexes on the replies still being written (turn order per thread, crash recovery)

Both lookups read only pending rows; without these they walked a thread's whole history (turn order) or every
message older than the stale cutoff (crash recovery, each minute: 0.33 s at a million messages on SQLite).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_message_pending_thread",
        "message",
        ["conversation_id", "id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    op.create_index(
        "ix_message_pending_since", "message", ["created_at"], sqlite_where=PENDING, postgresql_where=PENDING
    )


def downgrade() -> None:
    op.drop_index("ix_message_pending_since", table_name="message")
    op.drop_index("ix_message_pending_thread", table_name="message")
