import socket
from collections.abc import Iterator

import pytest

from mailwright.domains.dkim import generate_key, txt_value
from mailwright.errors import ConfigError
from mailwright.resolver import DnsLookupFailed, Resolver, parse_nameserver
from tests.support.dns import LoopbackDNS

ZONE = """
example.test.          300 IN TXT   "v=spf1 include:spf.mw.test ~all"
example.test.          300 IN TXT   "hello" " world"
example.test.          300 IN MX    20 mxb.mw.test.
example.test.          300 IN MX    10 MXA.mw.test.
example.test.          300 IN A     192.0.2.10
example.test.          300 IN AAAA  2001:db8::10
email.example.test.    300 IN CNAME track.mw.test.
track.mw.test.         300 IN A     192.0.2.20
10.2.0.192.in-addr.arpa. 300 IN PTR  Host.Example.test.
"""


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
def resolver(dns: LoopbackDNS) -> Resolver:
    return Resolver(dns.address, timeout=2.0)


async def test_txt_joins_character_strings(resolver: Resolver) -> None:
    assert sorted(await resolver.txt("example.test")) == [
        "hello world",
        "v=spf1 include:spf.mw.test ~all",
    ]


async def test_mx_sorted_without_trailing_dot(resolver: Resolver) -> None:
    assert await resolver.mx("example.test") == [(10, "mxa.mw.test"), (20, "mxb.mw.test")]


async def test_cname(resolver: Resolver) -> None:
    assert await resolver.cname("email.example.test") == ["track.mw.test"]


async def test_addresses_a_and_aaaa(resolver: Resolver) -> None:
    assert await resolver.addresses("example.test") == ["192.0.2.10", "2001:db8::10"]


async def test_addresses_follow_cname(resolver: Resolver) -> None:
    assert await resolver.addresses("email.example.test") == ["192.0.2.20"]


async def test_a_and_aaaa_one_family_each(resolver: Resolver) -> None:
    assert await resolver.a("example.test") == ["192.0.2.10"]
    assert await resolver.aaaa("example.test") == ["2001:db8::10"]
    assert await resolver.aaaa("track.mw.test") == []
    assert await resolver.a("missing.example.test") == []


async def test_ptr(resolver: Resolver) -> None:
    assert await resolver.ptr("10.2.0.192.in-addr.arpa") == ["host.example.test"]
    assert await resolver.ptr("11.2.0.192.in-addr.arpa") == []


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("missing.example.test", id="nxdomain"),
        pytest.param("track.mw.test", id="no-answer"),
    ],
)
async def test_no_data_is_empty(resolver: Resolver, name: str) -> None:
    assert await resolver.txt(name) == []
    assert await resolver.mx(name) == []
    assert await resolver.cname(name) == []


async def test_nxdomain_addresses_empty(resolver: Resolver) -> None:
    assert await resolver.addresses("missing.example.test") == []


async def test_long_dkim_txt_fits_udp_with_edns(dns: LoopbackDNS, resolver: Resolver) -> None:
    value = txt_value(generate_key("mw202405", 2048).public_b64)
    assert len(value) > 255
    dns.add(f'mw202405._domainkey.example.test. 300 IN TXT "{value}"')

    assert await resolver.txt("mw202405._domainkey.example.test") == [value]
    asked = [q for q in dns.queries if q[0] == "mw202405._domainkey.example.test"]
    assert asked == [("mw202405._domainkey.example.test", "TXT", "udp")]


async def test_oversized_txt_falls_back_to_tcp(dns: LoopbackDNS, resolver: Resolver) -> None:
    value = "x" * 2000  # well over the 1232-byte EDNS payload
    dns.add(f'big.example.test. 300 IN TXT "{value}"')

    assert await resolver.txt("big.example.test") == [value]
    asked = [q[2] for q in dns.queries if q[0] == "big.example.test"]
    assert asked == ["udp", "tcp"]


async def test_servfail_raises(dns: LoopbackDNS, resolver: Resolver) -> None:
    dns.fail("broken.example.test")
    with pytest.raises(DnsLookupFailed) as info:
        await resolver.txt("broken.example.test")
    assert info.value.name == "broken.example.test"
    assert info.value.rdtype == "TXT"


@pytest.fixture
def silent_nameserver() -> Iterator[tuple[str, int]]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()


async def test_unanswering_nameserver_times_out(silent_nameserver: tuple[str, int]) -> None:
    resolver = Resolver(silent_nameserver, timeout=0.5)
    with pytest.raises(DnsLookupFailed, match="timeout"):
        await resolver.mx("example.test")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("::1", ("::1", 53)),
        ("[::1]:53", ("::1", 53)),
        ("[::1]", ("::1", 53)),
        ("[2001:db8::1]:5300", ("2001:db8::1", 5300)),
        (" 10.0.0.1:53 ", ("10.0.0.1", 53)),
    ],
)
def test_parse_nameserver(value: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(value) == expected


@pytest.mark.parametrize(
    "value", ["dns.example:53", "127.0.0.1:0", "127.0.0.1:70000", "", "1.2.3.4:x"]
)
def test_parse_nameserver_rejects(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_nameserver(value)


async def test_nameserver_string_round_trips(dns: LoopbackDNS) -> None:
    resolver = Resolver(parse_nameserver(dns.nameserver), timeout=2.0)
    assert await resolver.cname("email.example.test") == ["track.mw.test"]
