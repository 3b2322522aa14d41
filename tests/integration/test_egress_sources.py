"""Egress sources and IP pools end to end, on SQLite and PostgreSQL: the HTTP API, and mail
leaving from the chosen source address with that source's HELO name, seen by a loopback sink.

127.0.0.2 and 127.0.0.3 stand in for public addresses: on Linux the whole of 127/8 is local,
so a connection can be bound to either and the sink sees it as the peer address."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from mailwright.delivery.warmup import DAY
from mailwright.store import Store, schema
from tests.integration.test_delivery_mx import events_of, mx_settings, sandbox_of, send, serving
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink, tls_materials
from tests.support.wait import wait_until

ZONE = """
rcpt.test. 300 IN MX 10 mx.example.test.
mx.example.test. 300 IN A 127.0.0.1
"""
SOURCES = "127.0.0.2=mta1.example.test,127.0.0.3=mta2.example.test"
HELO = {"127.0.0.2": "mta1.example.test", "127.0.0.3": "mta2.example.test"}


@pytest.fixture
def loopback_dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(tls_cert=tls_materials()[1]) as server:
        yield server


@pytest.fixture
async def egress_client(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS, sink: SmtpSink
) -> AsyncIterator[httpx.AsyncClient]:
    settings = mx_settings(
        tmp_path,
        database_url,
        loopback_dns,
        sink.port,
        MAILWRIGHT_EGRESS_SOURCES=SOURCES,
        MAILWRIGHT_WARMUP_SCHEDULE="2,1000",
    )
    async with serving(settings, store) as client:
        yield client


async def received_from(sink: SmtpSink, count: int) -> list[tuple[str, str | None]]:
    """(peer address, EHLO name) of each of the first ``count`` messages the sink received."""
    return [(m.peer[0], m.helo) for m in await sink.wait_for(count, within=15)]


async def test_ips_lists_the_configured_sources_with_their_helo_names(
    egress_client: httpx.AsyncClient,
) -> None:
    listed = await egress_client.get("/v3/ips")
    assert listed.json() == {"items": ["127.0.0.2", "127.0.0.3"], "total_count": 2}
    one = await egress_client.get("/v3/ips/127.0.0.3")
    assert one.json() == {"ip": "127.0.0.3", "dedicated": True, "rdns": "mta2.example.test"}
    missing = await egress_client.get("/v3/ips/192.0.2.9")
    assert missing.status_code == 404
    assert "192.0.2.9" in missing.json()["message"]
    bad = await egress_client.get("/v3/ips/not-an-ip")
    assert bad.status_code == 400


async def test_sending_ip_option_binds_the_connection_and_says_its_helo(
    egress_client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    domain = await sandbox_of(egress_client)
    await send(egress_client, domain, "a@rcpt.test", **{"o:sending-ip": "127.0.0.3"})
    assert await received_from(sink, 1) == [("127.0.0.3", "mta2.example.test")]
    probe = await events_of(egress_client, domain, event="delivered")
    [event] = await wait_until(probe, within=15)
    assert event["envelope"]["sending-ip"] == "127.0.0.3"
    key = event["storage"]["key"]
    attempts = (await egress_client.get(f"/mailwright/v1/messages/{key}/attempts")).json()
    assert [a["sending-ip"] for a in attempts["items"]] == ["127.0.0.3"]


async def test_unknown_sending_ip_or_pool_is_refused_naming_the_field(
    egress_client: httpx.AsyncClient,
) -> None:
    domain = await sandbox_of(egress_client)
    base = {"from": f"a@{domain}", "to": "a@rcpt.test", "subject": "s", "text": "t"}
    ip = await egress_client.post(
        f"/v3/{domain}/messages", data=base | {"o:sending-ip": "192.0.2.1"}
    )
    assert ip.status_code == 400
    assert "o:sending-ip" in ip.json()["message"]
    pool = await egress_client.post(
        f"/v3/{domain}/messages", data=base | {"o:sending-ip-pool": "nope"}
    )
    assert pool.status_code == 400
    assert "o:sending-ip-pool" in pool.json()["message"]


async def test_pools_crud_and_a_domain_linked_to_a_pool_sends_from_it(
    egress_client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    client = egress_client
    domain = await sandbox_of(client)
    refused = await client.post("/v3/ip_pools", data={"name": "x", "ip": "192.0.2.1"})
    assert refused.status_code == 400
    created = await client.post(
        "/v3/ip_pools", data={"name": "marketing", "description": "bulk", "ip": "127.0.0.3"}
    )
    assert created.status_code == 200, created.text
    pool_id = created.json()["pool_id"]
    assert created.json()["message"] == "success"
    [pool] = (await client.get("/v3/ip_pools")).json()["ip_pools"]
    assert (pool["pool_id"], pool["name"], pool["description"], pool["ips"]) == (
        pool_id,
        "marketing",
        "bulk",
        ["127.0.0.3"],
    )
    patched = await client.patch(
        f"/v3/ip_pools/{pool_id}",
        data={"name": "transactional", "add_ip": "127.0.0.2", "remove_ip": "127.0.0.3"},
    )
    assert patched.status_code == 200, patched.text
    one = (await client.get(f"/v3/ip_pools/{pool_id}")).json()
    assert (one["name"], one["ips"], one["is_linked"]) == ("transactional", ["127.0.0.2"], False)
    assert (await client.get("/v3/ip_pools/nope")).status_code == 404

    linked = await client.post(f"/v3/domains/{domain}/ips", data={"pool_id": pool_id})
    assert linked.status_code == 200, linked.text
    ips = (await client.get(f"/v3/domains/{domain}/ips")).json()
    assert ips == {"items": ["127.0.0.2"], "total_count": 1, "pool_id": pool_id}
    assert (await client.get(f"/v3/ip_pools/{pool_id}")).json()["is_linked"] is True
    for i in range(3):
        await send(client, domain, f"p{i}@rcpt.test")
    assert await received_from(sink, 3) == [("127.0.0.2", "mta1.example.test")] * 3

    # The message's own pool wins over the domain's.
    other = await client.post("/v3/ip_pools", data={"name": "other", "ip": "127.0.0.3"})
    await send(client, domain, "q@rcpt.test", **{"o:sending-ip-pool": other.json()["pool_id"]})
    assert (await received_from(sink, 4))[3] == ("127.0.0.3", "mta2.example.test")

    assert (await client.delete(f"/v3/domains/{domain}/ips/ip_pool")).status_code == 200
    assert (await client.get(f"/v3/domains/{domain}/ips")).json()["total_count"] == 0
    deleted = await client.delete(f"/v3/ip_pools/{pool_id}")
    assert deleted.status_code == 200
    assert (await client.delete(f"/v3/ip_pools/{pool_id}")).status_code == 404


async def test_domain_ip_assignment_and_round_robin_without_one(
    egress_client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    client = egress_client
    domain = await sandbox_of(client)
    for i in range(4):
        await send(client, domain, f"r{i}@rcpt.test")
    spread = Counter(await received_from(sink, 4))
    assert spread == {("127.0.0.2", HELO["127.0.0.2"]): 2, ("127.0.0.3", HELO["127.0.0.3"]): 2}

    unknown = await client.post(f"/v3/domains/{domain}/ips", data={"ip": "192.0.2.1"})
    assert unknown.status_code == 400
    assigned = await client.post(f"/v3/domains/{domain}/ips", data={"ip": "127.0.0.3"})
    assert assigned.status_code == 200, assigned.text
    assert (await client.get(f"/v4/domains/{domain}/ips")).json()["items"] == ["127.0.0.3"]
    for i in range(2):
        await send(client, domain, f"s{i}@rcpt.test")
    assert (await received_from(sink, 6))[4:] == [("127.0.0.3", HELO["127.0.0.3"])] * 2
    removed = await client.delete(f"/v3/domains/{domain}/ips/127.0.0.3")
    assert removed.status_code == 200
    assert (await client.delete(f"/v3/domains/{domain}/ips/127.0.0.3")).status_code == 404


async def test_a_warming_ip_spills_to_the_warm_one_once_its_day_is_used(
    egress_client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    client = egress_client
    domain = await sandbox_of(client)
    started = await client.post("/v3/ip_warmups/127.0.0.2")
    assert started.status_code == 200, started.text
    await client.post(f"/v3/domains/{domain}/ips", data={"ip": "127.0.0.2"})
    for i in range(5):
        await send(client, domain, f"w{i}@rcpt.test")
    spread = Counter(peer for peer, _ in await received_from(sink, 5))
    assert spread == {"127.0.0.2": 2, "127.0.0.3": 3}  # day 1 of "2,1000" allows 2

    details = (await client.get("/v3/ip_warmups/127.0.0.2")).json()["details"]
    assert details["stage_number"] == 1
    assert details["stage_volume_limit"] == 2
    assert details["sent_within_stage"] == 2
    assert details["remaining_within_stage"] == 0
    shown = (await client.get("/v3/ips/127.0.0.2")).json()
    assert shown["warmup"]["sent_within_stage"] == 2
    listed = (await client.get("/v3/ip_warmups")).json()
    assert [item["ip"] for item in listed["items"]] == ["127.0.0.2"]
    assert (await client.delete("/v3/ip_warmups/127.0.0.2")).status_code == 200
    assert (await client.get("/v3/ip_warmups/127.0.0.2")).status_code == 404
    assert "warmup" not in (await client.get("/v3/ips/127.0.0.2")).json()


async def test_deleting_a_domain_drops_its_ip_assignments(
    egress_client: httpx.AsyncClient,
) -> None:
    client = egress_client
    made = await client.post("/v4/domains", data={"name": "gone.example.com"})
    assert made.status_code == 200, made.text
    await client.post("/v3/domains/gone.example.com/ips", data={"ip": "127.0.0.2"})
    pool = await client.post("/v3/ip_pools", data={"name": "p", "ip": "127.0.0.3"})
    await client.post("/v3/domains/gone.example.com/ips", data={"pool_id": pool.json()["pool_id"]})
    assert (await client.get("/v3/domains/gone.example.com/ips")).json()["total_count"] == 2
    assert (await client.delete("/v3/domains/gone.example.com")).status_code == 200
    again = await client.post("/v4/domains", data={"name": "gone.example.com"})
    assert again.status_code == 200, again.text
    listed = (await client.get("/v3/domains/gone.example.com/ips")).json()
    assert listed == {"items": [], "total_count": 0}


async def test_mail_waits_for_the_next_warm_up_day_when_no_source_has_room(
    egress_client: httpx.AsyncClient, sink: SmtpSink, store: Store
) -> None:
    client = egress_client
    domain = await sandbox_of(client)
    for ip in ("127.0.0.2", "127.0.0.3"):
        assert (await client.post(f"/v3/ip_warmups/{ip}")).status_code == 200
    before = time.time()
    for i in range(6):
        await send(client, domain, f"h{i}@rcpt.test")
    spread = Counter(peer for peer, _ in await received_from(sink, 4))
    assert spread == {"127.0.0.2": 2, "127.0.0.3": 2}

    async def held() -> list[dict] | None:
        async with store.read() as conn:
            rows = await conn.execute(
                select(schema.deliveries).where(schema.deliveries.c.claimed_by.is_(None))
            )
            found = [dict(r._mapping) for r in rows if r.status == "queued"]
        return found if len(found) == 2 else None

    waiting = await wait_until(held, within=15)
    for row in waiting:
        # Due when the warm-up's second day begins; the held claim is not an attempt.
        assert before + DAY - 60 < row["due_at"] < time.time() + DAY
        assert row["attempts"] == 0
    failed = await client.get(f"/v3/{domain}/events", params={"event": "failed"})
    assert failed.json()["items"] == []
    assert len(sink.messages) == 4


@pytest.fixture
async def hourly_client(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS, sink: SmtpSink
) -> AsyncIterator[httpx.AsyncClient]:
    settings = mx_settings(
        tmp_path,
        database_url,
        loopback_dns,
        sink.port,
        MAILWRIGHT_EGRESS_SOURCES="127.0.0.2=mta1.example.test",
        MAILWRIGHT_WARMUP_SCHEDULE="4;hourly=50%",
    )
    async with serving(settings, store) as client:
        yield client


async def test_a_warming_ips_hourly_share_holds_the_rest_until_the_next_hour(
    hourly_client: httpx.AsyncClient, sink: SmtpSink, store: Store
) -> None:
    client = hourly_client
    domain = await sandbox_of(client)
    assert (await client.post("/v3/ip_warmups/127.0.0.2")).status_code == 200
    before = time.time()
    for i in range(3):
        await send(client, domain, f"u{i}@rcpt.test")
    assert await received_from(sink, 2) == [("127.0.0.2", "mta1.example.test")] * 2

    async def held() -> list[dict] | None:
        async with store.read() as conn:
            rows = await conn.execute(
                select(schema.deliveries).where(schema.deliveries.c.claimed_by.is_(None))
            )
            found = [dict(r._mapping) for r in rows if r.status == "queued"]
        return found or None

    [row] = await wait_until(held, within=15)
    assert before + 3600 - 60 < row["due_at"] < time.time() + 3600  # the next warm-up hour
    details = (await client.get("/v3/ip_warmups/127.0.0.2")).json()["details"]
    assert details["stage_volume_limit"] == 4
    assert details["hourly_volume_limit"] == 2
    assert (details["sent_within_stage"], details["sent_within_hour"]) == (2, 2)
    assert details["remaining_within_stage"] == 0
