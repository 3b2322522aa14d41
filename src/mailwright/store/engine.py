"""Connections, transactions and migrations for SQLite (WAL) and PostgreSQL, same code.

Writes go through ``Store.write``: a single writer task gathers the operations that arrive while
the previous transaction commits and runs them together in one transaction (group commit), so
one fsync makes many accepted messages durable. If a grouped transaction fails, each operation
is re-run alone so one bad operation cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Table, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool, StaticPool

from mailwright.store.schema import metadata
from mailwright.store.sealing import Keyring
from mailwright.store.upsert import UpsertRows, plan_upserts

T = TypeVar("T")
WriteOp = Callable[[AsyncConnection], Awaitable[Any]]

MAX_GROUP = 256
# How the SQLite inserter waits for the write lock (see _SqliteInserter._begin).
BUSY_SECONDS = 10.0  # as PRAGMA busy_timeout=10000 on every other connection
BUSY_FIRST_SLEEP = 0.0001
BUSY_LAST_SLEEP = 0.001
LISTEN_CHECK_SECONDS = 30.0  # how often an idle LISTEN connection is checked
LISTEN_RETRY_SECONDS = 1.0
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
    # Imported here: alembic (with mako) is ~10 MB a process, and a worker child whose
    # server has migrated never needs it.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class InsertRows:
    """A write that only inserts rows: grouped with its neighbours into one multi-row INSERT
    per table (parents first), so a group of N accepted messages costs a handful of statements
    instead of several per message.

    ``upserts`` are merging rows (counters, last-seen times, see ``upsert.py``): summed per key
    across the whole group and written after the inserts, in the same transaction."""

    __slots__ = ("rows", "upserts")

    def __init__(
        self,
        rows: Sequence[tuple[Table, Sequence[dict[str, Any]]]],
        upserts: UpsertRows = (),
    ) -> None:
        self.rows = rows
        self.upserts = upserts

    async def __call__(self, conn: AsyncConnection) -> None:
        await _insert_merged([self], conn)


Statements = list[tuple[str, list[tuple[Any, ...]]]]


def _plan_inserts(ops: Sequence[InsertRows], dialect: Dialect) -> Statements:
    """One executemany per table and row shape, parents first."""
    merged: dict[Table, list[dict[str, Any]]] = {}
    for op in ops:
        for table, rows in op.rows:
            merged.setdefault(table, []).extend(rows)
    statements: Statements = []
    for table in TABLE_ORDER:
        if not merged.get(table):
            continue
        # Positional rows for the driver's own executemany: SQLAlchemy's per-row parameter
        # processing cost more than the database did.
        shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row in merged[table]:
            shapes.setdefault(tuple(row), []).append(tuple(row.values()))
        for columns, values in shapes.items():
            statements.append((_insert_sql(dialect, table.name, columns), values))
    upserts = [entry for op in ops for entry in op.upserts]
    if upserts:
        statements.extend(plan_upserts(upserts, dialect))
    return statements


async def _insert_merged(ops: Sequence[InsertRows], conn: AsyncConnection) -> None:
    for sql, values in _plan_inserts(ops, conn.dialect):
        await conn.exec_driver_sql(sql, values)


class NeedsLoop(Exception):
    """An operation awaited something other than its connection: it needs the event loop."""


def _complete(coroutine: Awaitable[T]) -> T:
    """Run a coroutine that never suspends to its end, here and now."""
    assert isinstance(coroutine, Coroutine)
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    except RuntimeError as exc:
        if "event loop" in str(exc):  # it asked for the loop (asyncio.get_running_loop ...)
            raise NeedsLoop(str(exc)) from None
        raise
    coroutine.close()
    raise NeedsLoop("the operation awaited something besides its connection")


class _ImmediateConnection:
    """The part of ``AsyncConnection`` that write operations use, over a synchronous
    SQLAlchemy connection: every call runs at once and returns without suspending."""

    def __init__(self, sync: Connection) -> None:
        self._sync = sync
        self.dialect = sync.dialect

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self._sync.execute(*args, **kwargs)

    async def exec_driver_sql(self, *args: Any, **kwargs: Any) -> Any:
        return self._sync.exec_driver_sql(*args, **kwargs)

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(self._sync, *args, **kwargs)


class _SqliteInserter:
    """SQLite writes on a connection of their own, one thread hop per group.

    Through aiosqlite every statement, cursor and commit is a round trip to its thread and
    back through the event loop; a group here is one. Groups of other operations run here too
    (``run``): each ``op(conn)`` is given a connection whose statements run at once, in this
    thread, so the coroutine completes without suspending. A transaction then holds SQLite's
    write lock only as long as its statements take, never while the event loop is busy with
    other work (a worker process signing and sending mail), which would hold up every other
    process's commits. An op that does suspend (it awaits something else) is rolled back and
    its group run through SQLAlchemy's async connection instead (``NeedsLoop``).

    The writer task never runs this and a SQLAlchemy transaction at the same time, so the two
    connections never wait on each other's lock.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._sync: Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            _sqlite_pragmas(conn, None)
            conn.execute("PRAGMA busy_timeout=0")  # _begin waits for the lock itself
            self._conn = conn
        return self._conn

    def _sqlalchemy(self) -> Connection:
        """A synchronous SQLAlchemy connection over the same SQLite connection."""
        if self._sync is None:
            raw = self._connection()
            engine = create_sync_engine("sqlite://", creator=lambda: raw, poolclass=StaticPool)
            self._sync = engine.connect()
        return self._sync

    def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, retried every 0.1-1 ms while another connection (a worker
        process) holds the write lock. SQLite's own busy handler sleeps 1, 2, 5, 10, 15 ms
        and longer between tries, so a lock held for 2 ms could keep this waiting for 8."""
        deadline = time.monotonic() + BUSY_SECONDS
        delay = BUSY_FIRST_SLEEP
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, BUSY_LAST_SLEEP)

    def _run(self, statements: Statements, ops: Sequence[WriteOp]) -> list[Any]:
        conn = self._connection()
        others = [op for op in ops if not isinstance(op, InsertRows)]
        # A group of inserts only (every accept) needs no SQLAlchemy connection at all.
        sync = self._sqlalchemy() if others else None
        done: list[Any] = []
        self._begin(conn)
        try:
            for sql, values in statements:
                conn.executemany(sql, values)
            if sync is not None:
                shim = cast(AsyncConnection, _ImmediateConnection(sync))
                done = [_complete(op(shim)) for op in others]
        except BaseException:
            if sync is not None:
                sync.rollback()  # SQLAlchemy's transaction, and the connection's: ROLLBACK
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if sync is not None:
            sync.commit()  # COMMIT
        if conn.in_transaction:
            conn.execute("COMMIT")
        answers = iter(done)
        return [None if isinstance(op, InsertRows) else next(answers) for op in ops]

    async def run(self, statements: Statements, ops: Sequence[WriteOp]) -> list[Any]:
        """The inserts, then each op that is not one, in one transaction on this thread; each
        op's result (``None`` for inserts). ``NeedsLoop`` (rolled back) when an op suspends."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, "mailwright-sqlite")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, statements, ops)

    def close(self) -> None:
        """Close the connection; a later insert opens a new one (a Store outlives a close)."""
        if self._executor is None:
            return

        def close() -> None:
            if self._sync is not None:
                self._sync.close()
                self._sync = None
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._executor.submit(close).result()
        self._executor.shutdown()
        self._executor = None


@functools.lru_cache(maxsize=256)
def _insert_sql(dialect: Dialect, table: str, columns: tuple[str, ...]) -> str:
    quote = dialect.identifier_preparer.quote
    if dialect.paramstyle == "qmark":
        marks = ["?"] * len(columns)
    elif dialect.paramstyle == "numeric_dollar":
        marks = [f"${i}" for i in range(1, len(columns) + 1)]
    else:
        raise ValueError(f"unsupported paramstyle {dialect.paramstyle}")
    names = ", ".join(quote(c) for c in columns)
    # Identifiers come from our own schema, quoted by the dialect; values are bound.
    return f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join(marks)})"  # noqa: S608


class Store:
    """The database: reads on pooled connections, writes through the group-commit writer."""

    def __init__(self, engine: AsyncEngine, keyring: Keyring | None = None) -> None:
        self.engine = engine
        # Seals and opens the secrets stored here (``sealing.py``). Without one given, a key
        # that lives as long as this object: fine for tests and tools that read no secrets.
        self.keyring = keyring or Keyring.ephemeral()
        self.is_postgres = engine.dialect.name == "postgresql"
        database = engine.url.database or ""
        self._inserter = (
            _SqliteInserter(database)
            if engine.dialect.name == "sqlite" and database not in ("", ":memory:")
            else None
        )
        self._pending: asyncio.Queue[tuple[WriteOp, asyncio.Future[Any]]] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._listeners: list[asyncio.Task[None]] = []

    @classmethod
    def from_url(cls, url: str, keyring: Keyring | None = None) -> Store:
        return cls(create_engine(url), keyring)

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

    def pool_usage(self) -> tuple[int, int]:
        """(pool size, connections checked out now) of this process's connection pool."""
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):  # every pool create_engine makes is one
            return 0, 0
        return pool.size(), pool.checkedout()

    async def listen(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call ``callback(payload)`` for every PostgreSQL NOTIFY on ``channel``, whichever
        process sent it; returns once listening. After the listening connection is lost,
        ``callback("")`` says notifications may have been missed. On SQLite this does nothing:
        one process serves the API, and it acts on its own changes directly."""
        if not self.is_postgres:
            return
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._listeners.append(asyncio.create_task(self._listen(channel, callback, ready)))
        await ready

    async def _listen(
        self, channel: str, callback: Callable[[str], None], ready: asyncio.Future[None]
    ) -> None:
        def notified(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            callback(payload)

        while True:
            try:
                async with self.engine.connect() as conn:
                    try:
                        driver = (await conn.get_raw_connection()).driver_connection
                        assert driver is not None
                        lost = asyncio.Event()
                        driver.add_termination_listener(lambda _conn, lost=lost: lost.set())
                        await driver.add_listener(channel, notified)
                        if not ready.done():
                            ready.set_result(None)
                        while not lost.is_set():
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(lost.wait(), LISTEN_CHECK_SECONDS)
                            if not lost.is_set():  # quiet for long: is it still there?
                                await asyncio.wait_for(driver.execute("SELECT 1"), 10)
                    finally:
                        # The connection carries the listener: close it rather than pool it.
                        with contextlib.suppress(Exception):
                            await conn.invalidate()
            except Exception as exc:  # driver, network or timeout: the connection is gone
                if not ready.done():
                    ready.set_exception(exc)
                    return
            callback("")
            await asyncio.sleep(LISTEN_RETRY_SECONDS)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def write(self, op: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``op`` in a transaction; returns once that transaction is committed."""
        if self._pending is None:
            self._pending = asyncio.Queue()
            # A context of its own: started by whichever request writes first, it must not
            # carry that request's log fields (its request id) for the rest of its life.
            self._writer = asyncio.create_task(
                self._run_writer(self._pending), context=contextvars.Context()
            )
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._pending.put((op, future))
        return await future

    async def write_alone(self, op: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``op`` in a short transaction of its own, outside the group-commit writer: for
        a statement locking a row that other processes share (a throttle lease), which must
        not wait for, or hold its lock through, a neighbour's group."""
        async with self.engine.begin() as conn:
            return await op(conn)

    async def _run_writer(
        self, pending: asyncio.Queue[tuple[WriteOp, asyncio.Future[Any]]]
    ) -> None:
        while True:
            group = [await pending.get()]
            while len(group) < MAX_GROUP and not pending.empty():
                group.append(pending.get_nowait())
            await self._commit_group(group)

    async def _commit_group(self, group: list[tuple[WriteOp, asyncio.Future[Any]]]) -> None:
        if self._inserter is None:
            await self._commit_together(group)
            return
        inserts = [entry for entry in group if isinstance(entry[0], InsertRows)]
        others = [entry for entry in group if not isinstance(entry[0], InsertRows)]
        if inserts:
            await self._commit_together(inserts)
        if others:
            await self._commit_together(others)

    async def _commit_together(self, group: list[tuple[WriteOp, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._run_in_transaction([op for op, _ in group])
        except Exception as exc:
            if len(group) == 1:
                if not group[0][1].done():
                    group[0][1].set_exception(exc)
                return
            # One bad operation must not fail its neighbours: run each alone.
            for op, future in group:
                await self._commit_together([(op, future)])
            return
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _run_in_transaction(self, ops: list[WriteOp]) -> list[Any]:
        inserts = [op for op in ops if isinstance(op, InsertRows)]
        if self._inserter is not None:  # NeedsLoop: never for a group of inserts only
            with contextlib.suppress(NeedsLoop):
                return await self._inserter.run(_plan_inserts(inserts, self.engine.dialect), ops)
        async with self.engine.begin() as conn:
            await _insert_merged(inserts, conn)
            return [None if isinstance(op, InsertRows) else await op(conn) for op in ops]

    async def close(self) -> None:
        for task in self._listeners:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._listeners.clear()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
            self._pending = None
        if self._inserter is not None:
            self._inserter.close()
        await self.engine.dispose()
