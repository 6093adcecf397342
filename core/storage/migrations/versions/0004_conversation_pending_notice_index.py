"""conversation: a partial index on the threads with a pending notice (the chat bots poll for them)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PENDING = sa.text("pending_notice IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_conversation_pending_notice",
        "conversation",
        ["platform", "id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_pending_notice", table_name="conversation")
