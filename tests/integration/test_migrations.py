"""Migrating up from empty produces exactly the declared schema (procrastinate's habit)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from mailwright.store import Store, schema
from mailwright.store.engine import MIGRATIONS


async def test_migrations_match_declared_schema(store: Store) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_migrate_twice_is_harmless(store: Store) -> None:
    await store.migrate()
    assert await store.ping()


async def test_0020_marks_the_events_of_stored_test_mode_messages(store: Store) -> None:
    """Events recorded before ``events.is_test_mode`` existed get it from their message."""

    def to(revision: str) -> Callable[[Any], None]:
        def run(connection: Any) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            if revision == "head":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)

        return run

    async with store.engine.connect() as conn:
        await conn.run_sync(to("0016"))
        for n, is_test in enumerate((True, False)):
            await conn.exec_driver_sql(
                "INSERT INTO messages (id, domain, message_id, sender, subject, spec, recipients,"
                " size, method, is_test_mode, created_at, expires_at) VALUES "
                f"('k{n}', 'd.example', 'm{n}@d.example', 's@d.example', '', '{{}}', '[]', 1,"
                f" 'http', {'TRUE' if is_test else 'FALSE'}, 0, 1e12)"
            )
            await conn.exec_driver_sql(
                "INSERT INTO events (id, domain, timestamp, event, severity, recipient, message_id,"
                ' sender, "to", subject, tags_key, attachments, size, list, payload) VALUES '
                f"('e{n}', 'd.example', 0, 'accepted', NULL, 'r@x.example', 'm{n}@d.example',"
                " 's@d.example', 'r@x.example', '', '||', '', 1, NULL, '{}')"
            )
        await conn.run_sync(to("head"))
        rows = await conn.exec_driver_sql("SELECT id, is_test_mode FROM events ORDER BY id")
        marked = {row[0]: bool(row[1]) for row in rows}
        await conn.commit()
    assert marked == {"e0": True, "e1": False}
