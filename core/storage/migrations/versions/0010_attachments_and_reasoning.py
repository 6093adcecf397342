"""attachment and blob tables, message.reasoning and message.reasoning_tokens, scopesetting.show_reasoning: files
posted in threads reach vision models and stay in history (their bytes in the files folder or, for several
workers, in `blob`), and a reasoning model's thinking is kept apart from its answer (a workspace may hide it)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scopesetting") as batch:
        batch.add_column(sa.Column("show_reasoning", sa.Boolean(), nullable=True))
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("reasoning", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reasoning_tokens", sa.Integer(), nullable=True))
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("mime", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expired_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "position"),
    )
    op.create_index("ix_attachment_conversation", "attachment", ["conversation_id", "message_id"], unique=False)
    op.create_index(op.f("ix_attachment_created_at"), "attachment", ["created_at"], unique=False)
    op.create_table(
        "blob",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )


def downgrade() -> None:
    op.drop_table("blob")
    op.drop_index(op.f("ix_attachment_created_at"), table_name="attachment")
    op.drop_index("ix_attachment_conversation", table_name="attachment")
    op.drop_table("attachment")
    with op.batch_alter_table("message") as batch:
        batch.drop_column("reasoning_tokens")
        batch.drop_column("reasoning")
    with op.batch_alter_table("scopesetting") as batch:
        batch.drop_column("show_reasoning")
