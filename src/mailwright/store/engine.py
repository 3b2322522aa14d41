"""Connections, transactions and migrations for SQLite (WAL) and PostgreSQL, same code.

Writes go through ``Store.write``: a single writer task gathers the operations that arrive while
the previous transaction commits and runs them together in one transaction (group commit), so
one fsync makes many accepted messages durable. If a grouped transaction fails, each operation
is re-run alone so one bad operation cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Table, event, insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from mailwright.store.schema import metadata

T = TypeVar("T")
WriteOp = Callable[[AsyncConnection], Awaitable[Any]]

MAX_GROUP = 256
MIGRATIONS = Path(__file__).parent / "migrations"
TABLE_ORDER = metadata.sorted_tables  # parents before children (foreign keys)


def async_url(url: str) -> str:
    """``sqlite:///x`` -> ``sqlite+aiosqlite:///x``; ``postgresql://`` -> ``postgresql+asyncpg://``."""
    scheme, rest = url.split(":", 1)
    if scheme == "sqlite":
        return "sqlite+aiosqlite:" + rest
    if scheme in ("postgresql", "postgres"):
        return "postgresql+asyncpg:" + rest
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL on every
    # commit, so a message is durable before we answer 200 (NORMAL could lose the last commits).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    full = async_url(url)
    if full.startswith("sqlite"):
        path = full.split(":///", 1)[1] if ":///" in full else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full, pool_size=8, max_overflow=8)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(full, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class InsertRows:
    """A write that only inserts rows: grouped with its neighbours into one multi-row INSERT
    per table (parents first), so a group of N accepted messages costs a handful of statements
    instead of several per message."""

    __slots__ = ("rows",)

    def __init__(self, rows: Sequence[tuple[Table, Sequence[dict[str, Any]]]]) -> None:
        self.rows = rows

    async def __call__(self, conn: AsyncConnection) -> None:
        await _insert_merged([self], conn)


async def _insert_merged(ops: Sequence[InsertRows], conn: AsyncConnection) -> None:
    merged: dict[Table, list[dict[str, Any]]] = {}
    for op in ops:
        for table, rows in op.rows:
            merged.setdefault(table, []).extend(rows)
    for table in TABLE_ORDER:
        if merged.get(table):
            await conn.execute(insert(table), merged[table])


class Store:
    """The database: reads on pooled connections, writes through the group-commit writer."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_postgres = engine.dialect.name == "postgresql"
        self._pending: asyncio.Queue[tuple[WriteOp, asyncio.Future[Any]]] | None = None
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(create_engine(url))

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration."""
        async with self.engine.connect() as conn:
            if self.is_postgres:
                # Several processes may start at once: one migrates, the others wait.
                await conn.exec_driver_sql("SELECT pg_advisory_lock(7271)")
            await conn.run_sync(_upgrade)
            await conn.commit()
            if self.is_postgres:
                await conn.exec_driver_sql("SELECT pg_advisory_unlock(7271)")
                await conn.commit()

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except (SQLAlchemyError, OSError):
            return False
        return True

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def write(self, op: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``op`` in a transaction; returns once that transaction is committed."""
        if self._pending is None:
            self._pending = asyncio.Queue()
            self._writer = asyncio.create_task(self._run_writer(self._pending))
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._pending.put((op, future))
        return await future

    async def _run_writer(
        self, pending: asyncio.Queue[tuple[WriteOp, asyncio.Future[Any]]]
    ) -> None:
        while True:
            group = [await pending.get()]
            while len(group) < MAX_GROUP and not pending.empty():
                group.append(pending.get_nowait())
            await self._commit_group(group)

    async def _commit_group(self, group: list[tuple[WriteOp, asyncio.Future[Any]]]) -> None:
        try:
            async with self.engine.begin() as conn:
                await _insert_merged([op for op, _ in group if isinstance(op, InsertRows)], conn)
                results = [
                    None if isinstance(op, InsertRows) else await op(conn) for op, _ in group
                ]
        except Exception as exc:
            if len(group) == 1:
                if not group[0][1].done():
                    group[0][1].set_exception(exc)
                return
            for op, future in group:
                await self._commit_alone(op, future)
            return
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _commit_alone(self, op: WriteOp, future: asyncio.Future[Any]) -> None:
        try:
            async with self.engine.begin() as conn:
                result = await op(conn)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
            return
        if not future.done():
            future.set_result(result)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
            self._pending = None
        await self.engine.dispose()
