"""validation: bulk address validation jobs and previews; events by recipient

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "validation_jobs",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("records_processed", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("kind", "id"),
    )
    op.create_index(
        "ix_validation_jobs_status", "validation_jobs", ["kind", "status", "updated_at"]
    )
    op.create_index("ix_events_recipient", "events", ["recipient"])


def downgrade() -> None:
    op.drop_index("ix_events_recipient", table_name="events")
    op.drop_index("ix_validation_jobs_status", table_name="validation_jobs")
    op.drop_table("validation_jobs")
