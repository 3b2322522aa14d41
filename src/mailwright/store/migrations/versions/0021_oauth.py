"""oauth: OAuth 2.0 clients, token signing keys, revoked tokens; live/test environments

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("environment", sa.String(length=8), nullable=False, server_default="live"),
    )
    op.add_column(
        "events",
        sa.Column("is_test_mode", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Events of test-mode messages still stored (events and messages share one retention).
    op.execute(
        "UPDATE events SET is_test_mode = TRUE WHERE message_id IN "
        "(SELECT message_id FROM messages WHERE is_test_mode = TRUE)"
    )
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("domain_name", sa.String(length=253), nullable=True),
        sa.Column("environment", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "oauth_signing_keys",
        sa.Column("kid", sa.String(length=40), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("retired_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_table(
        "oauth_revoked_tokens",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    op.create_index("ix_oauth_revoked_tokens_expires", "oauth_revoked_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_oauth_revoked_tokens_expires", table_name="oauth_revoked_tokens")
    op.drop_table("oauth_revoked_tokens")
    op.drop_table("oauth_signing_keys")
    op.drop_table("oauth_clients")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("is_test_mode")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("environment")
