"""ip pools: pools of egress addresses, their assignment to domains, warm-up state, and the
source address of each attempt

Revision ID: 0018
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("sending_ip", sa.String(length=45), nullable=True))
    op.create_table(
        "ip_pools",
        sa.Column("pool_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("pool_id"),
    )
    op.create_table(
        "ip_pool_ips",
        sa.Column("pool_id", sa.String(length=32), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["ip_pools.pool_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pool_id", "ip"),
    )
    op.create_table(
        "domain_ips",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.PrimaryKeyConstraint("domain", "ip"),
    )
    op.create_table(
        "domain_ip_pools",
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("pool_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["ip_pools.pool_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain"),
    )
    op.create_table(
        "ip_warmups",
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("sent", sa.BigInteger(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("hour_sent", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ip"),
    )


def downgrade() -> None:
    op.drop_table("ip_warmups")
    op.drop_table("domain_ip_pools")
    op.drop_table("domain_ips")
    op.drop_table("ip_pool_ips")
    op.drop_table("ip_pools")
    with op.batch_alter_table("attempts") as batch:  # SQLite drops a column by copying
        batch.drop_column("sending_ip")
