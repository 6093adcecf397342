"""conversation.pending_notice: what a thread must be told next (an interrupted reply)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("pending_notice", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation") as batch:
        batch.drop_column("pending_notice")
