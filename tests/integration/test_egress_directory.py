"""The egress directory on SQLite and PostgreSQL: two processes sharing one database see each
other's warm-up sends once their snapshots are reloaded, and API writes drop the snapshot."""

from __future__ import annotations

from mailwright.egress import EgressDirectory, Source
from mailwright.store import Store

SOURCES = (Source("10.1.0.1", "a.example.test"), Source("10.1.0.2", "b.example.test"))


async def test_warm_up_counts_are_shared_through_the_database(store: Store) -> None:
    now = [1_800_000_000.0]
    first = EgressDirectory(store, SOURCES, lambda: now[0], seconds=5)
    second = EgressDirectory(store, SOURCES, lambda: now[0], seconds=5)
    await first.start_warmup("10.1.0.1")
    await first.assignments()
    await second.assignments()
    first.count_send("10.1.0.1", 3)
    first.count_send("10.1.0.2", 7)  # not warming: not counted
    assert (await first.assignments()).warmups["10.1.0.1"].sent == 3  # at once, in memory
    assert (await second.assignments()).warmups["10.1.0.1"].sent == 0  # its snapshot is fresh

    now[0] += 6  # both snapshots expire: the first writes its count, the second reads it
    await first.assignments()
    second.count_send("10.1.0.1", 2)
    now[0] += 6
    await second.assignments()
    assert (await first.warmups())["10.1.0.1"].sent == 5
    assert set(await first.warmups()) == {"10.1.0.1"}

    warm = (await first.warmups())["10.1.0.1"]
    assert (warm.hour, warm.hour_sent) == (0, 5)
    now[0] += 3600  # the next warm-up hour counts from zero, the day goes on
    first.count_send("10.1.0.1", 1)
    await first.warmups()  # written
    warm = (await second.warmups())["10.1.0.1"]
    assert (warm.day, warm.sent, warm.hour, warm.hour_sent) == (0, 6, 1, 1)
    now[0] += 86400  # the next warm-up day counts from zero
    first.count_send("10.1.0.1", 1)
    warm = (await first.warmups())["10.1.0.1"]
    assert (warm.day, warm.sent, warm.hour, warm.hour_sent) == (1, 1, 25, 1)


async def test_writes_drop_the_snapshot(store: Store) -> None:
    directory = EgressDirectory(store, SOURCES, lambda: 1_800_000_000.0, seconds=3600)
    assert (await directory.assignments()).pools == {}
    pool_id = await directory.create_pool("p", "", ["10.1.0.2"])
    await directory.assign("example.com", ip="10.1.0.1", pool_id=None)
    await directory.assign("example.com", ip=None, pool_id=pool_id)
    snapshot = await directory.assignments()
    assert snapshot.pools[pool_id].ips == ("10.1.0.2",)
    assert snapshot.domain_ips == {"example.com": ("10.1.0.1",)}
    assert snapshot.domain_pools == {"example.com": pool_id}
    await directory.delete_pool(pool_id)
    assert (await directory.assignments()).domain_pools == {}
