"""smtp_credentials: per-domain SMTP submission logins with salted password hashes

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "smtp_credentials",
        sa.Column("login", sa.String(length=320), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("login"),
    )
    op.create_index("ix_smtp_credentials_domain", "smtp_credentials", ["domain", "login"])


def downgrade() -> None:
    op.drop_index("ix_smtp_credentials_domain", table_name="smtp_credentials")
    op.drop_table("smtp_credentials")
