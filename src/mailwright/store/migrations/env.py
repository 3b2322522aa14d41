"""Alembic environment: runs on the connection that ``mailwright.store.migrate`` passes in."""

from __future__ import annotations

from alembic import context

from mailwright.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
