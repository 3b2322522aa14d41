"""tracking: open/click/unsubscribe settings on domains

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Mailgun's default unsubscribe footers (the same text as store/schema.py).
HTML_FOOTER = '\n<br>\n<p><a href="%unsubscribe_url%">unsubscribe</a></p>\n'
TEXT_FOOTER = "\n\nTo unsubscribe click: <%unsubscribe_url%>\n\n"


def upgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("track_opens", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("track_opens_at_top", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("track_clicks", sa.String(length=8), nullable=False, server_default="no")
        )
        batch_op.add_column(
            sa.Column("track_unsubscribes", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column(
                "unsubscribe_html_footer", sa.Text(), nullable=False, server_default=HTML_FOOTER
            )
        )
        batch_op.add_column(
            sa.Column(
                "unsubscribe_text_footer", sa.Text(), nullable=False, server_default=TEXT_FOOTER
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        for name in (
            "unsubscribe_text_footer",
            "unsubscribe_html_footer",
            "track_unsubscribes",
            "track_clicks",
            "track_opens_at_top",
            "track_opens",
        ):
            batch_op.drop_column(name)
