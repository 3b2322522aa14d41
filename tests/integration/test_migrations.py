"""Migrating up from empty produces exactly the declared schema (procrastinate's habit)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailwright.store import Store, schema


async def test_migrations_match_declared_schema(store: Store) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_migrate_twice_is_harmless(store: Store) -> None:
    await store.migrate()
    assert await store.ping()
