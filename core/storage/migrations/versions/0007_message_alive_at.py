"""message.alive_at: when the process answering a pending reply last renewed its claim

Crash recovery took a reply still pending SWITCHBOARD_STALE_REPLY_MINUTES after it was claimed for a dead process's;
a live turn waiting behind an earlier reply of its thread (or writing slowly) was taken too. A live process now
renews its replies' claims, so only a reply whose process died goes stale.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("alive_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_column("alive_at")
