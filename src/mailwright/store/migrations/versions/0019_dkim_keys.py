"""dkim keys: every key a domain has had, for rotation; the active Ed25519 key on the domain

Each existing domain's single RSA key becomes its active row in dkim_keys.

Revision ID: 0019
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

GRACE_SECONDS = 7 * 86400.0


def upgrade() -> None:
    op.create_table(
        "dkim_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("domain_id", sa.String(length=32), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("key_size", sa.Integer(), nullable=True),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("activated_at", sa.Double(), nullable=True),
        sa.Column("retire_at", sa.Double(), nullable=True),
        sa.Column("grace_seconds", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["domains.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain_id", "selector", name="uq_dkim_keys_domain_selector"),
    )
    op.create_index("ix_dkim_keys_retire_at", "dkim_keys", ["retire_at"])
    # Plain ADD COLUMN: a batch (table copy) on SQLite would drop "domains", and with foreign
    # keys on, that deletes the dkim_keys rows pointing at it.
    op.add_column("domains", sa.Column("dkim_ed25519_selector", sa.String(length=63)))
    op.add_column("domains", sa.Column("dkim_ed25519_private_key", sa.Text()))
    op.add_column("domains", sa.Column("dkim_ed25519_public_key", sa.Text()))
    op.execute(
        sa.text(
            "INSERT INTO dkim_keys (domain_id, selector, algorithm, key_size, private_key,"
            " public_key, state, created_at, activated_at, retire_at, grace_seconds)"
            " SELECT id, dkim_selector, 'rsa', dkim_key_size, dkim_private_key, dkim_public_key,"
            " 'active', created_at, created_at, NULL, :grace FROM domains"
        ).bindparams(grace=GRACE_SECONDS)
    )


def downgrade() -> None:
    op.drop_index("ix_dkim_keys_retire_at", table_name="dkim_keys")
    op.drop_table("dkim_keys")
    with op.batch_alter_table("domains") as batch:
        batch.drop_column("dkim_ed25519_public_key")
        batch.drop_column("dkim_ed25519_private_key")
        batch.drop_column("dkim_ed25519_selector")
