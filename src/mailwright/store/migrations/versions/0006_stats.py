"""stats: hourly event counters and tags

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


def upgrade() -> None:
    op.create_table(
        "stat_counters",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("stat", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "tag", "stat", "hour"),
    )
    op.create_index("ix_stat_counters_tag_hour", "stat_counters", ["tag", "hour"])
    op.create_table(
        "tags",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.Double(), nullable=False),
        sa.Column("last_seen", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "tag"),
    )


def downgrade() -> None:
    op.drop_table("tags")
    op.drop_index("ix_stat_counters_tag_hour", table_name="stat_counters")
    op.drop_table("stat_counters")
