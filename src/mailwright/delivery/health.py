"""Queue health per destination: how much waits for each recipient domain, since when, and
why the last try failed. Read by ``/metrics``, ``mailwright status`` and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from mailwright.store import Backlog, Store, health

TOP_DESTINATIONS = 50  # enough to see who is stuck, few enough to stay cheap and bounded


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationHealth:
    destination: str  # the recipient domain
    queued: int
    due: int  # due now
    deferred: int  # queued after at least one attempt
    oldest_created_at: float
    oldest_age: float  # seconds
    last_code: int | None  # of the most recently updated deferred delivery
    last_message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueHealth:
    deliveries: Backlog  # every queued delivery
    destinations: list[DestinationHealth]  # the largest queues, largest first


async def queue_health(store: Store, now: float, limit: int = TOP_DESTINATIONS) -> QueueHealth:
    """Every queued delivery counted, and the ``limit`` destinations with the most of them."""
    async with store.read() as conn:
        rows, total = await health.destinations(conn, now=now, limit=limit)
        errors = await health.last_errors(conn, [r.destination for r in rows if r.deferred])
    found = []
    for row in rows:
        error = errors.get(row.destination)
        found.append(
            DestinationHealth(
                destination=row.destination,
                queued=row.queued,
                due=row.due,
                deferred=row.deferred,
                oldest_created_at=row.oldest_created_at,
                oldest_age=max(0.0, now - row.oldest_created_at),
                last_code=None if error is None else error.code,
                last_message="" if error is None else error.message,
            )
        )
    return QueueHealth(deliveries=total, destinations=found)


async def destination_health(
    store: Store, now: float, limit: int = TOP_DESTINATIONS
) -> list[DestinationHealth]:
    """The ``limit`` destinations with the most queued deliveries, largest first."""
    return (await queue_health(store, now, limit)).destinations


async def settled_last_day(store: Store, now: float) -> dict[str, int]:
    """``{"delivered": n, "failed": n}`` over the last 24 hours (whole hours)."""
    async with store.read() as conn:
        return await health.settled_since(conn, now - 86400)


async def is_queue_readable(store: Store) -> bool:
    """True when the deliveries table answers a query."""
    try:
        async with store.read() as conn:
            await health.can_read_queue(conn)
    except (SQLAlchemyError, OSError):
        return False
    return True
