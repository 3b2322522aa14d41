"""dashboard SSO: identities linked to dashboard users, OpenID Connect logins under way

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_identities",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["dashboard_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("issuer", "subject"),
        sa.UniqueConstraint("issuer", "user_id", name="uq_dashboard_identities_user"),
    )
    op.create_table(
        "dashboard_sso_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_path", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    op.create_index("ix_dashboard_sso_logins_expires", "dashboard_sso_logins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_dashboard_sso_logins_expires", table_name="dashboard_sso_logins")
    op.drop_table("dashboard_sso_logins")
    op.drop_table("dashboard_identities")
