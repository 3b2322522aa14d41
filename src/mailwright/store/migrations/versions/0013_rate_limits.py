"""rate limits: shared request windows, sending quotas and their usage

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_windows",
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "window_start"),
    )
    op.create_table(
        "sending_quotas",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("hourly", sa.BigInteger(), nullable=True),
        sa.Column("daily", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("domain"),
    )
    op.create_table(
        "sending_usage",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("domain", "period", "window_start"),
    )


def downgrade() -> None:
    op.drop_table("sending_usage")
    op.drop_table("sending_quotas")
    op.drop_table("rate_windows")
