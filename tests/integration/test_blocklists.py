"""Blocklist monitoring against a loopback DNS server that lists 127.0.0.2, on SQLite and
PostgreSQL: one round directly, then the worker's monitor through the API."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from mailwright.app import Runtime, build_runtime, first_start
from mailwright.config import Settings
from mailwright.domains import (
    BlocklistConfig,
    BlocklistMonitor,
    check_blocklists,
    create_domain,
    current_listings,
)
from mailwright.resolver import Resolver
from mailwright.store import Store
from tests.conftest import API_KEY
from tests.support.dns import LoopbackDNS
from tests.support.wait import wait_until

NOW = 1_780_000_000.0
REASON = "Listed by the test list, see https://bl.test/2"
LISTED_ZONE = "\n".join(
    [
        "2.0.0.127.zen.test. 300 IN A 127.0.0.2",
        f'2.0.0.127.zen.test. 300 IN TXT "{REASON}"',
        "listed.test.dbl.test. 300 IN A 127.0.1.2",
        'listed.test.dbl.test. 300 IN TXT "spam domain"',
        "zen.test. 300 IN A 192.0.2.53",  # the zones exist; everything else is NXDOMAIN
        "dbl.test. 300 IN A 192.0.2.53",
        "other.test. 300 IN A 192.0.2.53",
    ]
)
CONFIG = BlocklistConfig(
    ip_zones=("zen.test", "other.test"),
    domain_zones=("dbl.test",),
    egress=("127.0.0.2", "127.0.0.3"),
)


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(LISTED_ZONE) as server:
        yield server


def summary(rows) -> dict[tuple[str, str], tuple[str, str, str]]:
    return {(r.target, r.zone): (r.status, r.codes, r.reason) for r in rows}


async def test_one_round_stores_the_latest_answer_per_target_and_zone(
    store: Store, dns: LoopbackDNS
) -> None:
    for name in ("listed.test", "clean.test"):
        await create_domain(store, name, {"dkim_key_size": "1024"}, now=NOW)
    await create_domain(
        store, "sandbox1.mailwright.test", {"dkim_key_size": "1024"}, now=NOW, type_="sandbox"
    )
    resolver = Resolver(dns.address, timeout=2.0)

    rows = await check_blocklists(store, resolver, CONFIG, now=NOW)
    assert summary(rows) == {
        ("127.0.0.2", "zen.test"): ("listed", "127.0.0.2", REASON),
        ("127.0.0.2", "other.test"): ("clean", "", ""),
        ("127.0.0.3", "zen.test"): ("clean", "", ""),
        ("127.0.0.3", "other.test"): ("clean", "", ""),
        ("listed.test", "dbl.test"): ("listed", "127.0.1.2", "spam domain"),
        ("clean.test", "dbl.test"): ("clean", "", ""),
    }
    assert not [q for q in dns.queries if "sandbox" in q[0]]
    listings = await current_listings(store)
    assert [(r.target, r.kind, r.listed_since) for r in listings] == [
        ("listed.test", "domain", NOW),
        ("127.0.0.2", "ip", NOW),
    ]

    # Later: the domain is delisted, the zen lookup fails; the IP's listing keeps its start.
    dns.set_zone(LISTED_ZONE.replace("listed.test.dbl.test. 300 IN A 127.0.1.2", ""))
    dns.fail("2.0.0.127.zen.test")
    rows = await check_blocklists(store, resolver, CONFIG, now=NOW + 3600)
    found = {(r.target, r.zone): r for r in rows}
    assert found["listed.test", "dbl.test"].status == "clean"
    assert found["listed.test", "dbl.test"].listed_since is None
    failed = found["127.0.0.2", "zen.test"]
    assert (failed.status, failed.listed_since, failed.checked_at) == ("error", NOW, NOW + 3600)
    assert "SERVFAIL" in failed.reason
    assert await current_listings(store) == []

    # Listed again once the lookup answers: still since the first sighting.
    dns.set_zone(LISTED_ZONE)
    dns.recover("2.0.0.127.zen.test")
    rows = await check_blocklists(store, resolver, CONFIG, now=NOW + 7200)
    assert [(r.target, r.listed_since) for r in await current_listings(store)] == [
        ("listed.test", NOW + 7200),
        ("127.0.0.2", NOW),
    ]


@pytest.fixture
async def monitored(
    tmp_path: Path, database_url: str, store: Store, dns: LoopbackDNS
) -> AsyncIterator[Runtime]:
    settings = Settings.from_env(
        environ={
            "MAILWRIGHT_DATA_DIR": str(tmp_path),
            "MAILWRIGHT_DATABASE_URL": database_url,
            "MAILWRIGHT_API_KEY": API_KEY,
            "MAILWRIGHT_PUBLIC_URL": "http://testserver",
            "MAILWRIGHT_DELIVERY": "mx",
            "MAILWRIGHT_DNS_SERVER": dns.nameserver,
            "MAILWRIGHT_EGRESS_SOURCES": "127.0.0.2=mta1.mw.test",
            "MAILWRIGHT_DNSBL_ZONES": "zen.test",
            "MAILWRIGHT_DNSBL_DOMAIN_ZONES": "dbl.test",
        }
    )
    await create_domain(store, "listed.test", {"dkim_key_size": "1024"}, now=NOW)
    runtime = build_runtime(settings, frozenset({"api", "worker"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    yield runtime
    await runtime.stop()


async def test_the_worker_checks_at_start_and_the_api_shows_it(monitored: Runtime) -> None:
    assert monitored.blocklist_monitor is not None
    transport = httpx.ASGITransport(app=monitored.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=("api", API_KEY)
    ) as client:

        async def checked() -> dict | None:
            body = (await client.get("/mailwright/v1/blocklists")).json()
            return body if body["items"] else None

        body = await wait_until(checked)
        metrics = (await client.get("/metrics")).text
    assert body["listed"] == 2
    assert (
        'mailwright_blocklist_listed{kind="ip",target="127.0.0.2",zone="zen.test"} 1.0' in metrics
    )
    assert (
        'mailwright_blocklist_listed{kind="domain",target="listed.test",zone="dbl.test"} 1.0'
        in metrics
    )
    items = {(i["target"], i["zone"]): i for i in body["items"]}
    assert set(items) == {("127.0.0.2", "zen.test"), ("listed.test", "dbl.test")}
    ip = items["127.0.0.2", "zen.test"]
    assert (ip["kind"], ip["status"], ip["listed"], ip["codes"], ip["reason"]) == (
        "ip",
        "listed",
        True,
        ["127.0.0.2"],
        REASON,
    )
    assert ip["checked_at"].endswith(" GMT")
    assert ip["listed_since"] == ip["checked_at"]


async def test_capture_mode_runs_no_monitor(runtime: Runtime, client: httpx.AsyncClient) -> None:
    assert runtime.settings.delivery == "capture"
    assert runtime.blocklist_monitor is None
    assert (await client.get("/mailwright/v1/blocklists")).json() == {"items": [], "listed": 0}


async def test_a_round_another_process_just_made_is_not_repeated(
    store: Store, dns: LoopbackDNS
) -> None:
    clock = [NOW]
    config = dataclasses.replace(CONFIG, interval=3600.0)
    first = BlocklistMonitor(store, Resolver(dns.address, timeout=2.0), config, lambda: clock[0])
    other = BlocklistMonitor(store, Resolver(dns.address, timeout=2.0), config, lambda: clock[0])
    assert await first.seconds_until_due() == 0.0  # nothing checked yet
    await first.run_once()
    clock[0] = NOW + 600
    assert await other.seconds_until_due() == 3000.0
    clock[0] = NOW + 3600
    assert await other.seconds_until_due() == 0.0
