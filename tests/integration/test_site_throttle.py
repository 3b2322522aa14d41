"""Destination rate limits shared through the database: two worker Stores on one PostgreSQL
database together stay within the configured rate (time from an injected clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailwright.app import site_throttle
from mailwright.config import Settings
from mailwright.delivery import LocalThrottle, SharedThrottle, SiteThrottle
from mailwright.delivery.throttle import LEASE_SECONDS, ThrottleSpec
from mailwright.store import Store, throttles

SITE = "mx.example.net"
RATE = ThrottleSpec.parse("100/s")


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def worker_stores(postgres_database: str) -> AsyncIterator[tuple[Store, Store]]:
    first, second = Store.from_url(postgres_database), Store.from_url(postgres_database)
    async with first.engine.begin() as conn:
        await conn.exec_driver_sql("DELETE FROM site_throttles")
    yield first, second
    await first.close()
    await second.close()


async def greedy_sends(
    workers: list[SiteThrottle], clock: Clock, seconds: float, slots: int = 20
) -> list[float]:
    """Each worker runs ``slots`` sends at once, each starting its next as soon as it may:
    the send times of all of them."""
    sent = await paced_sends([(w, slots, 0.0) for w in workers], clock, seconds)
    return [t for times in sent for t in times]


async def paced_sends(
    workers: list[tuple[SiteThrottle, int, float]], clock: Clock, seconds: float
) -> list[list[float]]:
    """Workers given as (throttle, sends at once, seconds each send takes): the send times of
    each worker, from the start."""
    start, step = clock.now, 0.01
    busy_until = [[start] * slots for _, slots, _ in workers]
    sent: list[list[float]] = [[] for _ in workers]
    while clock.now < start + seconds:
        for (throttle, _, takes), slot_times, times in zip(workers, busy_until, sent, strict=True):
            for i, until in enumerate(slot_times):
                if until <= clock.now:
                    at = clock.now + await throttle.reserve(SITE)
                    slot_times[i] = at + takes
                    times.append(at - start)
        clock.now += step
    return sent


def in_window(sent: list[float], seconds: float) -> int:
    return sum(1 for t in sent if t < seconds)


async def test_two_workers_share_one_sites_rate(worker_stores: tuple[Store, Store]) -> None:
    clock = Clock()
    workers: list[SiteThrottle] = [SharedThrottle(store, RATE, clock) for store in worker_stores]
    sent = await greedy_sends(workers, clock, seconds=6.0)
    combined = in_window(sent, 5.0)
    # Documented bound: burst + rate * (T + LEASE_SECONDS); two unshared workers send ~1200.
    limit = RATE.burst + RATE.per_second * (5.0 + LEASE_SECONDS)
    assert combined <= limit, combined
    assert combined >= RATE.per_second * 5.0, combined  # and the rate is used, not starved


async def test_a_slow_worker_leaves_the_rate_to_a_busy_one(
    worker_stores: tuple[Store, Store],
) -> None:
    clock = Clock()
    slow, busy = (SharedThrottle(store, RATE, clock) for store in worker_stores)
    # The slow worker sends one message at a time, each taking 0.3 s: at most about 3/s.
    slow_sent, busy_sent = await paced_sends([(slow, 1, 0.3), (busy, 20, 0.0)], clock, 6.0)
    # It waits behind the busy worker's reservations (up to a lease, 0.25 s), but is not starved,
    assert in_window(slow_sent, 5.0) >= 5
    # and the tokens it does not use go to the busy worker: the rate is used. (Leasing a full
    # quarter second's worth each time, the slow worker would drop most of them: about 460.)
    combined = in_window(slow_sent, 5.0) + in_window(busy_sent, 5.0)
    assert RATE.per_second * 5.0 <= combined <= RATE.burst + RATE.per_second * (5.0 + LEASE_SECONDS)


async def test_per_process_buckets_multiply_the_rate() -> None:
    """What SQLite keeps (one machine, one worker process), and why PostgreSQL shares."""
    clock = Clock()
    workers: list[SiteThrottle] = [LocalThrottle(RATE, clock), LocalThrottle(RATE, clock)]
    sent = await greedy_sends(workers, clock, seconds=6.0)
    assert in_window(sent, 5.0) >= 2 * RATE.per_second * 5.0


async def test_a_lease_refills_then_takes(store: Store) -> None:
    async def lease(count: int, now: float) -> float:
        return await store.write_alone(
            lambda conn: throttles.lease_tokens(
                conn, SITE, count=count, per_second=10.0, burst=10.0, now=now
            )
        )

    assert await lease(4, now=100.0) == 6.0  # a new site starts full
    assert await lease(8, now=100.0) == -2.0  # two reserved ahead
    assert await lease(1, now=101.0) == 7.0  # refilled by 10, capped at the burst
    # A host whose clock is behind refills nothing and cannot move the bucket's time back.
    assert await lease(1, now=99.0) == 6.0
    assert await lease(1, now=101.5) == 9.0  # 6 + 0.5 s * 10, capped at 10, less 1


def test_the_shared_throttle_is_used_on_postgresql_only(store: Store, tmp_path: Path) -> None:
    settings = Settings.from_env(
        environ={"MAILWRIGHT_DATA_DIR": str(tmp_path), "MAILWRIGHT_DESTINATION_RATE": "100/s"}
    )
    chosen = site_throttle(settings, store)
    assert isinstance(chosen, SharedThrottle) == store.is_postgres
    assert chosen is None or store.is_postgres
