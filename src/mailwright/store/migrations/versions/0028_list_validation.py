"""list validation: validation_jobs ids as long as a mailing list's address (kind list)

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite rebuilds the table (batch mode); PostgreSQL widens the varchar in place.
    with op.batch_alter_table("validation_jobs") as batch:
        batch.alter_column(
            "id",
            existing_type=sa.String(length=128),
            type_=sa.String(length=320),
            existing_nullable=False,
        )


def downgrade() -> None:
    op.execute("DELETE FROM validation_jobs WHERE kind = 'list'")
    with op.batch_alter_table("validation_jobs") as batch:
        batch.alter_column(
            "id",
            existing_type=sa.String(length=320),
            type_=sa.String(length=128),
            existing_nullable=False,
        )
