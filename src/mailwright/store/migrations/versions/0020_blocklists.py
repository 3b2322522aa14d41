"""blocklist results: the latest DNS blocklist answer per target and zone

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blocklist_results",
        sa.Column("target", sa.String(length=253), nullable=False),
        sa.Column("zone", sa.String(length=253), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("codes", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.Double(), nullable=False),
        sa.Column("listed_since", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("target", "zone"),
    )


def downgrade() -> None:
    op.drop_table("blocklist_results")
