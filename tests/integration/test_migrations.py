"""Migrating up from empty produces exactly the declared schema (procrastinate's habit)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from mailwright.store import Store, dkim_keys, queries, schema
from mailwright.store.engine import MIGRATIONS
from tests.support.postgres import create_database, drop_database, url_of


async def test_migrations_match_declared_schema(store: Store) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, schema.metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_migrate_twice_is_harmless(store: Store) -> None:
    await store.migrate()
    assert await store.ping()


@pytest.fixture
async def empty_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all, on the same engine as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"mailwright_migrate_{secrets.token_hex(4)}"
    await create_database(name)
    yield url_of(name)
    await drop_database(name)


def _upgrade_to(revision: str) -> Callable[[Any], None]:
    def upgrade(connection: Any) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    return upgrade


async def test_existing_domain_keys_become_active_dkim_keys(empty_url: str) -> None:
    store = Store.from_url(empty_url)
    try:
        async with store.engine.connect() as conn:
            await conn.run_sync(_upgrade_to("0018"))
            await conn.commit()
            await conn.execute(
                sa.text(
                    "INSERT INTO domains (id, name, type, state, created_at, spam_action,"
                    " wildcard, require_tls, skip_verification, web_scheme, web_prefix,"
                    " dkim_selector, dkim_key_size, dkim_private_key, dkim_public_key,"
                    " is_disabled) VALUES ('d1', 'old.test', 'custom', 'active', 1700000000,"
                    " 'disabled', false, false, false, 'http', 'email', 'mw202311', 1024,"
                    " 'PRIVATE', 'PUBLIC', false)"
                )
            )
            await conn.commit()
        await store.migrate()
        async with store.read() as conn:
            domain = await queries.get_domain(conn, "old.test")
            keys = await dkim_keys.list_keys(conn, "d1")
    finally:
        await store.close()
    assert domain is not None
    assert domain.dkim_ed25519_selector is None
    assert [
        (k.selector, k.algorithm, k.key_size, k.private_key, k.public_key, k.state) for k in keys
    ] == [("mw202311", "rsa", 1024, "PRIVATE", "PUBLIC", "active")]
    assert (keys[0].created_at, keys[0].activated_at, keys[0].retire_at) == (
        1700000000.0,
        1700000000.0,
        None,
    )
    assert keys[0].grace_seconds == 7 * 86400


async def test_0021_marks_the_events_of_stored_test_mode_messages(store: Store) -> None:
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
        await conn.run_sync(to("0020"))
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
