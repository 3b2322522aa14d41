"""test_stat_counters and test_suppressions: test-environment traffic counted and suppressed
apart from the live stats and lists

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "test_stat_counters",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("stat", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "tag", "stat", "hour"),
    )
    op.create_index("ix_test_stat_counters_tag_hour", "test_stat_counters", ["tag", "hour"])
    op.create_table(
        "test_suppressions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "domain", "kind", "address", name="uq_test_suppressions_domain_kind_address"
        ),
    )


def downgrade() -> None:
    op.drop_table("test_suppressions")
    op.drop_index("ix_test_stat_counters_tag_hour", table_name="test_stat_counters")
    op.drop_table("test_stat_counters")
