"""mcpserver and toolconsent tables; message.parent_id, .tool_calls, .tool_rounds and .tool_ms;
conversation.tool_notes: MCP servers whose tools threads may use, consent a thread remembers, the tool rounds of a
reply stored as messages, and what a thread was told once about tools it cannot use

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tool_calls", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("tool_rounds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("tool_ms", sa.Float(), nullable=True))
        batch.create_index(batch.f("ix_message_parent_id"), ["parent_id"], unique=False)
    with op.batch_alter_table("conversation") as batch:
        batch.add_column(sa.Column("tool_notes", sa.JSON(), nullable=True))
    op.create_table(
        "mcpserver",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("transport", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("command", sa.Text(), nullable=True),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("auth_header", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("has_secret", sa.Boolean(), nullable=False),
        sa.Column("secret_hint", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("scope_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("scope_value", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("allowed_tools", sa.JSON(), nullable=True),
        sa.Column("consent_tools", sa.JSON(), nullable=True),
        sa.Column("tools", sa.JSON(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_check_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_check_ok", sa.Boolean(), nullable=True),
        sa.Column("last_check_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("last_check_latency_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "toolconsent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("server", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("tool", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "server", "tool"),
    )


def downgrade() -> None:
    op.drop_table("toolconsent")
    op.drop_table("mcpserver")
    with op.batch_alter_table("conversation") as batch:
        batch.drop_column("tool_notes")
    with op.batch_alter_table("message") as batch:
        batch.drop_index(batch.f("ix_message_parent_id"))
        batch.drop_column("tool_ms")
        batch.drop_column("tool_rounds")
        batch.drop_column("tool_calls")
        batch.drop_column("parent_id")
