"""key access: per-key allowed IP ranges and the last-used time

Revision ID: 0014
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("allowed_ips", sa.Text(), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("allowed_ips")
