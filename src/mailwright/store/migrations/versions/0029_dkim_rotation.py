"""dkim rotation: each domain's automatic rotation setting; keys a rotation made

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dkim_rotation",
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain_id"),
    )
    # Plain ADD COLUMN (no batch): a table copy on SQLite would rebuild dkim_keys for nothing.
    op.add_column(
        "dkim_keys",
        sa.Column(
            "is_activated_on_publish", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("dkim_keys") as batch:
        batch.drop_column("is_activated_on_publish")
    op.drop_table("dkim_rotation")
