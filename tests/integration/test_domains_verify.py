import socket
from collections.abc import Iterator

import pytest

from mailwright.domains.dkim import DkimKey, generate_key, txt_value
from mailwright.domains.records import DnsRecord, receiving_records, sending_records
from mailwright.domains.verify import check_records
from mailwright.resolver import Resolver
from tests.support.dns import LoopbackDNS

DOMAIN = "example.test"


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return generate_key("mw202405", 1024)


@pytest.fixture
def records(key: DkimKey) -> list[DnsRecord]:
    sending = sending_records(
        DOMAIN,
        selector=key.selector,
        public_b64=key.public_b64,
        spf_include="spf.mw.test",
        tracking_target="track.mw.test",
    )
    return sending + receiving_records(DOMAIN, mx_hosts=["mxa.mw.test", "mxb.mw.test"])


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(f"{DOMAIN}. 300 IN A 192.0.2.1") as server:
        yield server


@pytest.fixture
def resolver(dns: LoopbackDNS) -> Resolver:
    return Resolver(dns.address, timeout=2.0)


def publish(dns: LoopbackDNS, key: DkimKey, *, dkim_value: str | None = None) -> None:
    dns.add(f'{DOMAIN}. 300 IN TXT "google-site-verification=abc"')
    dns.add(f'{DOMAIN}. 300 IN TXT "v=spf1 mx include:_spf.google.com include:spf.mw.test ~all"')
    dns.add(f'mw202405._domainkey.{DOMAIN}. 300 IN TXT "{dkim_value or txt_value(key.public_b64)}"')
    dns.add(f"email.{DOMAIN}. 300 IN CNAME TRACK.mw.test.")
    dns.add(f"{DOMAIN}. 300 IN MX 10 mxa.mw.test.")
    dns.add(f"{DOMAIN}. 300 IN MX 10 mxb.mw.test.")


async def test_before_publishing_everything_is_invalid(
    resolver: Resolver, records: list[DnsRecord]
) -> None:
    checked = await check_records(resolver, records)
    assert [(r.record_type, r.valid, r.cached) for r in checked] == [
        ("TXT", "invalid", ()),
        ("TXT", "invalid", ()),
        ("CNAME", "invalid", ()),
        ("MX", "invalid", ()),
        ("MX", "invalid", ()),
    ]


async def test_after_publishing_everything_is_valid(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey, records: list[DnsRecord]
) -> None:
    publish(dns, key)
    checked = await check_records(resolver, records)

    assert [r.valid for r in checked] == ["valid"] * 5
    spf, dkim, cname, mxa, _ = checked
    assert sorted(spf.cached) == [
        "google-site-verification=abc",
        "v=spf1 mx include:_spf.google.com include:spf.mw.test ~all",
    ]
    assert dkim.cached == (txt_value(key.public_b64),)
    assert cname.cached == ("track.mw.test",)
    assert mxa.cached == ("mxa.mw.test", "mxb.mw.test")
    # copies: the inputs are untouched
    assert [r.valid for r in records] == ["unknown"] * 5


async def test_dkim_value_matches_ignoring_whitespace(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey, records: list[DnsRecord]
) -> None:
    b64 = key.public_b64
    publish(dns, key, dkim_value=f"v=DKIM1; k=rsa; p={b64[:40]} {b64[40:]}")
    checked = await check_records(resolver, records)
    assert checked[1].valid == "valid"


async def test_wrong_dkim_key_is_invalid(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey, records: list[DnsRecord]
) -> None:
    other = generate_key("mw202405", 1024)
    publish(dns, key, dkim_value=txt_value(other.public_b64))
    checked = await check_records(resolver, records)

    assert checked[1].valid == "invalid"
    assert checked[1].cached == (txt_value(other.public_b64),)
    assert [r.valid for r in checked[:1] + checked[2:]] == ["valid"] * 4


@pytest.mark.parametrize(
    "spf",
    [
        "v=spf1 include:_spf.google.com ~all",
        "v=spf1 ~include:spf.mw.test -all",
        "spf.mw.test include:spf.mw.test",
    ],
)
async def test_spf_without_our_mechanism_is_invalid(
    dns: LoopbackDNS, resolver: Resolver, records: list[DnsRecord], spf: str
) -> None:
    dns.add(f'{DOMAIN}. 300 IN TXT "{spf}"')
    checked = await check_records(resolver, records[:1])
    assert checked[0].valid == "invalid"
    assert checked[0].cached == (spf,)


async def test_wrong_cname_and_mx_are_invalid(
    dns: LoopbackDNS, resolver: Resolver, records: list[DnsRecord]
) -> None:
    dns.add(f"email.{DOMAIN}. 300 IN CNAME elsewhere.test.")
    dns.add(f"{DOMAIN}. 300 IN MX 10 mxa.mw.test.")
    checked = await check_records(resolver, records)

    _, _, cname, mxa, mxb = checked
    assert (cname.valid, cname.cached) == ("invalid", ("elsewhere.test",))
    assert (mxa.valid, mxb.valid) == ("valid", "invalid")
    assert mxb.cached == ("mxa.mw.test",)


async def test_failed_lookup_is_unknown(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey, records: list[DnsRecord]
) -> None:
    publish(dns, key)
    dns.fail(f"mw202405._domainkey.{DOMAIN}")
    checked = await check_records(resolver, records)
    assert [r.valid for r in checked] == ["valid", "unknown", "valid", "valid", "valid"]
    assert checked[1].cached == ()


async def test_unanswering_nameserver_leaves_all_unknown(records: list[DnsRecord]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        checked = await check_records(Resolver(sock.getsockname(), timeout=0.5), records)
    assert [r.valid for r in checked] == ["unknown"] * 5


async def test_lookups_are_shared_and_concurrent(
    dns: LoopbackDNS, resolver: Resolver, records: list[DnsRecord]
) -> None:
    await check_records(resolver, records)
    # SPF and DKIM are different names; the two MX records share one lookup.
    assert sorted((name, rdtype) for name, rdtype, _ in dns.queries) == [
        (f"email.{DOMAIN}", "CNAME"),
        (DOMAIN, "MX"),
        (DOMAIN, "TXT"),
        (f"mw202405._domainkey.{DOMAIN}", "TXT"),
    ]
