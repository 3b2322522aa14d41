"""event to headers: a long To header is stored once per message, not in each event

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_to_headers",
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("to", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index(
        "ix_events_to_apart",
        "events",
        ["message_id"],
        sqlite_where=sa.text("\"to\" = ''"),
        postgresql_where=sa.text("\"to\" = ''"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_to_apart", table_name="events")
    op.drop_table("event_to_headers")
