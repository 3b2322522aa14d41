"""uptime: each role's health-check history per node, and HTTP requests per endpoint and hour

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uptime_checks",
        sa.Column("node", sa.String(length=253), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.Double(), nullable=False),
        sa.Column("is_ok", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("interval", sa.Double(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("node", "role", "checked_at"),
    )
    op.create_index("ix_uptime_checks_checked_at", "uptime_checks", ["checked_at"])
    op.create_table(
        "endpoint_requests",
        sa.Column("node", sa.String(length=253), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("route", sa.String(length=300), nullable=False),
        sa.Column("hour", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("node", "method", "route", "hour"),
    )
    op.create_index("ix_endpoint_requests_hour", "endpoint_requests", ["hour"])


def downgrade() -> None:
    op.drop_index("ix_endpoint_requests_hour", table_name="endpoint_requests")
    op.drop_table("endpoint_requests")
    op.drop_index("ix_uptime_checks_checked_at", table_name="uptime_checks")
    op.drop_table("uptime_checks")
