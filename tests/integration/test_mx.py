"""MxCache against a real DNS server on loopback."""

import asyncio
from collections.abc import Iterator

import pytest

from mailwright.delivery.mx import Destination, MxCache, NoDestination
from mailwright.resolver import Resolver
from tests.support.dns import LoopbackDNS

ZONE = """
multi.test.            300 IN MX    20 mx2.multi.test.
multi.test.            300 IN MX    10 mx1.multi.test.
multi.test.            300 IN MX    10 mx0.multi.test.
implicit.test.         120 IN A     192.0.2.10
implicit.test.         60  IN AAAA  2001:db8::10
nullmx.test.           300 IN MX    0 .
noaddr.test.           300 IN TXT   "no mail here"
long.test.             86400 IN MX  10 mx.long.test.
xn--bcher-kva.test.    300 IN MX    10 mx.xn--bcher-kva.test.
shared-a.test.         300 IN MX    10 mx1.provider.test.
shared-a.test.         300 IN MX    20 mx2.provider.test.
shared-b.test.         300 IN MX    10 mx2.provider.test.
shared-b.test.         300 IN MX    10 mx1.provider.test.
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(dns: LoopbackDNS, clock: Clock) -> MxCache:
    return MxCache(Resolver(dns.address, timeout=2.0), clock)


def mx_queries(dns: LoopbackDNS, name: str) -> int:
    return sum(1 for qname, qtype, _ in dns.queries if qname == name and qtype == "MX")


async def test_mx_hosts_in_preference_order(cache: MxCache) -> None:
    assert await cache.resolve("Multi.Test.") == Destination(
        domain="multi.test",
        hosts=("mx0.multi.test", "mx1.multi.test", "mx2.multi.test"),
        site_name="(mx0|mx1|mx2).multi.test",
        is_implicit=False,
    )


async def test_implicit_mx_from_addresses(cache: MxCache) -> None:
    assert await cache.resolve("implicit.test") == Destination(
        "implicit.test", ("implicit.test",), "implicit.test", is_implicit=True
    )


@pytest.mark.parametrize(
    ("domain", "enhanced"),
    [
        ("nullmx.test", "5.1.10"),  # RFC 7505
        ("noaddr.test", "5.1.2"),  # exists, but no MX and no A/AAAA
        ("nxdomain.test", "5.1.2"),
    ],
)
async def test_permanent_no_destination(cache: MxCache, domain: str, enhanced: str) -> None:
    found = await cache.resolve(domain)
    assert isinstance(found, NoDestination)
    assert (found.domain, found.permanent, found.enhanced) == (domain, True, enhanced)


async def test_lookup_failure_is_temporary(dns: LoopbackDNS, cache: MxCache) -> None:
    dns.fail("broken.test")
    found = await cache.resolve("broken.test")
    assert isinstance(found, NoDestination)
    assert (found.permanent, found.enhanced) == (False, "4.4.3")
    assert "broken.test" in found.text


async def test_cached_for_the_ttl(dns: LoopbackDNS, cache: MxCache, clock: Clock) -> None:
    first = await cache.resolve("multi.test")
    clock.now += 299
    assert await cache.resolve("MULTI.test") is first
    assert mx_queries(dns, "multi.test") == 1
    clock.now += 2
    assert await cache.resolve("multi.test") == first
    assert mx_queries(dns, "multi.test") == 2


async def test_ttl_capped_at_max_ttl(dns: LoopbackDNS, clock: Clock) -> None:
    cache = MxCache(Resolver(dns.address, timeout=2.0), clock, max_ttl=600)
    await cache.resolve("long.test")
    clock.now += 601
    await cache.resolve("long.test")
    assert mx_queries(dns, "long.test") == 2


async def test_implicit_uses_the_smallest_address_ttl(
    dns: LoopbackDNS, cache: MxCache, clock: Clock
) -> None:
    await cache.resolve("implicit.test")
    clock.now += 59
    await cache.resolve("implicit.test")
    assert mx_queries(dns, "implicit.test") == 1
    clock.now += 2
    await cache.resolve("implicit.test")
    assert mx_queries(dns, "implicit.test") == 2


async def test_negative_answers_cached_for_negative_ttl(dns: LoopbackDNS, clock: Clock) -> None:
    cache = MxCache(Resolver(dns.address, timeout=2.0), clock, negative_ttl=50)
    await cache.resolve("nxdomain.test")
    clock.now += 49
    await cache.resolve("nxdomain.test")
    assert mx_queries(dns, "nxdomain.test") == 1
    dns.add("nxdomain.test. 300 IN MX 10 mx.nxdomain.test.")
    clock.now += 2
    found = await cache.resolve("nxdomain.test")
    assert isinstance(found, Destination)
    assert found.hosts == ("mx.nxdomain.test",)


async def test_failures_cached_briefly(dns: LoopbackDNS, clock: Clock) -> None:
    cache = MxCache(Resolver(dns.address, timeout=2.0), clock, failure_ttl=10)
    dns.fail("broken.test")
    await cache.resolve("broken.test")
    await cache.resolve("broken.test")
    assert mx_queries(dns, "broken.test") == 1
    clock.now += 11
    await cache.resolve("broken.test")
    assert mx_queries(dns, "broken.test") == 2


async def test_concurrent_lookups_share_one_query(dns: LoopbackDNS, cache: MxCache) -> None:
    results = await asyncio.gather(*(cache.resolve("multi.test") for _ in range(20)))
    assert len({id(r) for r in results}) == 1
    assert mx_queries(dns, "multi.test") == 1


async def test_cancelled_caller_does_not_cancel_shared_lookup(
    dns: LoopbackDNS, cache: MxCache
) -> None:
    first = asyncio.ensure_future(cache.resolve("multi.test"))
    second = asyncio.ensure_future(cache.resolve("multi.test"))
    await asyncio.sleep(0)
    first.cancel()
    found = await second
    assert isinstance(found, Destination)
    assert mx_queries(dns, "multi.test") == 1


async def test_idn_domain_is_looked_up_as_a_label(dns: LoopbackDNS, cache: MxCache) -> None:
    found = await cache.resolve("Bücher.test")
    assert isinstance(found, Destination)
    assert (found.domain, found.hosts) == ("xn--bcher-kva.test", ("mx.xn--bcher-kva.test",))


async def test_address_literal_needs_no_dns(dns: LoopbackDNS, cache: MxCache) -> None:
    found = await cache.resolve("[127.0.0.1]")
    assert isinstance(found, Destination)
    assert found.hosts == ("127.0.0.1",)
    assert dns.queries == []


async def test_invalid_domain_is_permanent(dns: LoopbackDNS, cache: MxCache) -> None:
    found = await cache.resolve("a..b")
    assert isinstance(found, NoDestination)
    assert (found.permanent, found.enhanced) == (True, "5.1.2")
    assert dns.queries == []


async def test_domains_with_the_same_mx_share_a_site(cache: MxCache) -> None:
    one, two = await cache.resolve("shared-a.test"), await cache.resolve("shared-b.test")
    assert isinstance(one, Destination)
    assert isinstance(two, Destination)
    assert one.site_name == two.site_name == "(mx1|mx2).provider.test"


async def test_least_recently_used_entry_evicted(dns: LoopbackDNS, clock: Clock) -> None:
    cache = MxCache(Resolver(dns.address, timeout=2.0), clock, max_entries=2)
    for domain in ("multi.test", "long.test", "multi.test", "implicit.test", "multi.test"):
        await cache.resolve(domain)
    assert mx_queries(dns, "multi.test") == 1
    await cache.resolve("long.test")
    assert mx_queries(dns, "long.test") == 2
