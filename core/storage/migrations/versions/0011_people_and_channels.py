"""userpreference, ratelimit and ratewindow tables; scopesetting.instructions and .thread_instructions;
fallbackchain.strategy, .max_error_rate and .max_p95_ms: a person's default model, channel and workspace
instructions, rate limits that hold across workers, and chains that route by what we measure

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scopesetting") as batch:
        batch.add_column(sa.Column("instructions", sa.Text(), nullable=True))
        batch.add_column(sa.Column("thread_instructions", sa.Boolean(), nullable=True))
    with op.batch_alter_table("fallbackchain") as batch:
        batch.add_column(
            sa.Column(
                "strategy", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default="in_order"
            )
        )
        batch.add_column(sa.Column("max_error_rate", sa.Float(), nullable=True))
        batch.add_column(sa.Column("max_p95_ms", sa.Float(), nullable=True))
    op.create_table(
        "userpreference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("workspace", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("default_model", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("follow_last", sa.Boolean(), nullable=False),
        sa.Column("last_model", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "workspace", "user_id"),
    )
    op.create_table(
        "ratelimit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("scope_value", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column("tokens_per_minute", sa.BigInteger(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope_kind", "scope_value"),
    )
    op.create_table(
        "ratewindow",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("limit_id", sa.Integer(), nullable=False),
        sa.Column("window_start", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["limit_id"], ["ratelimit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("limit_id", "window_start"),
    )


def downgrade() -> None:
    op.drop_table("ratewindow")
    op.drop_table("ratelimit")
    op.drop_table("userpreference")
    with op.batch_alter_table("fallbackchain") as batch:
        batch.drop_column("max_p95_ms")
        batch.drop_column("max_error_rate")
        batch.drop_column("strategy")
    with op.batch_alter_table("scopesetting") as batch:
        batch.drop_column("thread_instructions")
        batch.drop_column("instructions")
