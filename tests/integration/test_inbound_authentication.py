"""SPF, DKIM and DMARC checks against a real loopback DNS server serving zone text."""

import socket
import time
from collections.abc import Iterator

import pytest

from mailwright.domains.dkim import DkimKey, generate_key, sign, txt_value
from mailwright.inbound.authentication import AuthResults, check
from mailwright.resolver import Resolver
from tests.support.dns import LoopbackDNS

NOW = 1_780_000_000.0
INSIDE = "192.0.2.5"  # inside 192.0.2.0/28
OUTSIDE = "192.0.2.200"

ZONE = """
ip4.example.com.        300 IN TXT "v=spf1 ip4:192.0.2.0/28 -all"
soft.example.com.       300 IN TXT "v=spf1 ip4:192.0.2.0/28 ~all"
neutral.example.com.    300 IN TXT "v=spf1 ?all"
nospf.example.com.      300 IN A   192.0.2.1
include.example.com.    300 IN TXT "v=spf1 include:_spf.example.net -all"
_spf.example.net.       300 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"
a.example.com.          300 IN TXT "v=spf1 a -all"
a.example.com.          300 IN A   203.0.113.7
mx.example.com.         300 IN TXT "v=spf1 mx -all"
mx.example.com.         300 IN MX  10 mail.mx.example.com.
mail.mx.example.com.    300 IN A   203.0.113.8
redirect.example.com.   300 IN TXT "v=spf1 redirect=ip4.example.com"
broken.example.com.     300 IN TXT "v=spf1 include:servfail.example.com -all"
helo.example.com.       300 IN TXT "v=spf1 ip4:192.0.2.5 -all"
v6.example.com.         300 IN TXT "v=spf1 a ip6:2001:db8:1::/48 -all"
v6.example.com.         300 IN AAAA 2001:db8::5
v6.example.com.         300 IN A   192.0.2.99
ptr.example.com.        300 IN TXT "v=spf1 ptr -all"
5.2.0.192.in-addr.arpa. 300 IN PTR host.ptr.example.com.
host.ptr.example.com.   300 IN A   192.0.2.5
"""
# eleven DNS-querying terms, one over RFC 7208 4.6.4's limit
ZONE += 'many.example.com. 300 IN TXT "v=spf1 {} -all"\n'.format(
    " ".join(f"a:h{n}.example.com" for n in range(1, 12))
)
ZONE += "\n".join(f"h{n}.example.com. 300 IN A 203.0.113.{n}" for n in range(1, 12))


def message(from_address: str, body: bytes = b"Hello there.\r\n") -> bytes:
    return (
        f"From: Sender <{from_address}>\r\n"
        "To: rcpt@inbound.example\r\n"
        "Subject: Hello\r\n"
        "Date: Mon, 06 May 2024 10:00:00 +0000\r\n"
        "Message-ID: <20240506100000.1@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
    ).encode() + body


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return generate_key("s1", 1024)


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        server.fail("servfail.example.com")
        yield server


@pytest.fixture
def resolver(dns: LoopbackDNS) -> Resolver:
    return Resolver(dns.address, timeout=2.0)


def publish_key(dns: LoopbackDNS, key: DkimKey, domain: str) -> None:
    dns.add(f'{key.selector}._domainkey.{domain}. 300 IN TXT "{txt_value(key.public_b64)}"')


def signed(raw: bytes, key: DkimKey, domain: str, selector: str | None = None) -> bytes:
    return sign(raw, domain=domain, selector=selector or key.selector, private_pem=key.private_pem)


async def run(
    resolver: Resolver,
    raw: bytes | None = None,
    *,
    ip: str = INSIDE,
    mail_from: str = "bounce@ip4.example.com",
    helo: str = "client.example.com",
) -> AuthResults:
    raw = message("a@nodmarc.example.com") if raw is None else raw
    return await check(raw, ip=ip, helo=helo, mail_from=mail_from, resolver=resolver, now=NOW)


# --- SPF -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mail_from", "ip", "expected"),
    [
        pytest.param("b@ip4.example.com", INSIDE, "pass", id="ip4-cidr-pass"),
        pytest.param("b@ip4.example.com", "192.0.2.15", "pass", id="ip4-cidr-last"),
        pytest.param("b@ip4.example.com", "192.0.2.16", "fail", id="ip4-cidr-outside"),
        pytest.param("b@soft.example.com", OUTSIDE, "softfail", id="softfail"),
        pytest.param("b@neutral.example.com", OUTSIDE, "neutral", id="neutral"),
        pytest.param("b@nospf.example.com", OUTSIDE, "none", id="no-record"),
        pytest.param("b@missing.example.com", OUTSIDE, "none", id="nxdomain"),
        pytest.param("b@include.example.com", "198.51.100.9", "pass", id="include-pass"),
        pytest.param("b@include.example.com", OUTSIDE, "fail", id="include-fail"),
        pytest.param("b@a.example.com", "203.0.113.7", "pass", id="a-pass"),
        pytest.param("b@a.example.com", "203.0.113.9", "fail", id="a-fail"),
        pytest.param("b@mx.example.com", "203.0.113.8", "pass", id="mx-pass"),
        pytest.param("b@mx.example.com", "203.0.113.7", "fail", id="mx-fail"),
        pytest.param("b@redirect.example.com", INSIDE, "pass", id="redirect-pass"),
        pytest.param("b@redirect.example.com", OUTSIDE, "fail", id="redirect-fail"),
        pytest.param("b@v6.example.com", "2001:db8::5", "pass", id="a-ipv6-pass"),
        pytest.param("b@v6.example.com", "192.0.2.99", "pass", id="a-ipv4-pass"),
        pytest.param("b@v6.example.com", "2001:db8::99", "fail", id="a-ipv6-fail"),
        pytest.param("b@v6.example.com", "2001:db8:1:2::3", "pass", id="ip6-cidr"),
        pytest.param("b@ptr.example.com", INSIDE, "pass", id="ptr-pass"),
        pytest.param("b@ptr.example.com", "192.0.2.6", "fail", id="ptr-fail"),
        pytest.param("b@many.example.com", OUTSIDE, "permerror", id="too-many-lookups"),
        pytest.param("b@broken.example.com", OUTSIDE, "temperror", id="servfail"),
    ],
)
async def test_spf(resolver: Resolver, mail_from: str, ip: str, expected: str) -> None:
    results = await run(resolver, ip=ip, mail_from=mail_from)

    assert results.spf.result == expected
    assert results.spf.domain == mail_from.partition("@")[2]
    assert results.spf.identity == "mailfrom"


async def test_spf_too_many_lookups_stops_at_the_limit(
    dns: LoopbackDNS, resolver: Resolver
) -> None:
    await run(resolver, ip=OUTSIDE, mail_from="b@many.example.com")

    # RFC 7208 4.6.4: ten DNS-querying terms are evaluated; the eleventh is never looked up
    asked = {q[0] for q in dns.queries if q[0].startswith("h")}
    assert asked == {f"h{n}.example.com" for n in range(1, 11)}


async def test_spf_void_lookup_limit(dns: LoopbackDNS, resolver: Resolver) -> None:
    voids = "a:v1.example.com a:v2.example.com a:v3.example.com"  # three names without data
    dns.add(f'void.example.com. 300 IN TXT "v=spf1 {voids} -all"')

    results = await run(resolver, ip=OUTSIDE, mail_from="b@void.example.com")

    assert results.spf.result == "permerror"
    assert "Void lookup" in results.spf.reason


async def test_spf_null_sender_checks_helo(resolver: Resolver) -> None:
    results = await run(resolver, mail_from="", helo="helo.example.com")

    assert (results.spf.result, results.spf.domain, results.spf.identity) == (
        "pass",
        "helo.example.com",
        "helo",
    )
    assert "spf=pass smtp.helo=helo.example.com" in results.header("mx.inbound.example")


async def test_spf_explanation_uses_the_given_clock(dns: LoopbackDNS, resolver: Resolver) -> None:
    # RFC 7208 7.3: %{t} may appear only in an explanation
    dns.add('macro.example.com. 300 IN TXT "v=spf1 -all exp=why.macro.example.com"')
    dns.add('why.macro.example.com. 300 IN TXT "%{i} is not ours at %{t}"')

    results = await run(resolver, ip=OUTSIDE, mail_from="b@macro.example.com")

    assert results.spf.result == "fail"
    assert results.spf.reason == f"{OUTSIDE} is not ours at {int(NOW)}"


# --- DKIM ----------------------------------------------------------------------------------


async def test_dkim_pass(dns: LoopbackDNS, resolver: Resolver, key: DkimKey) -> None:
    publish_key(dns, key, "signed.example.com")
    raw = signed(message("a@signed.example.com"), key, "signed.example.com")

    results = await run(resolver, raw)

    assert [(d.result, d.domain, d.selector) for d in results.dkim] == [
        ("pass", "signed.example.com", "s1")
    ]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda raw: raw.replace(b"Hello there.", b"Hello t\xc3\xa4ere."), id="body"),
        pytest.param(lambda raw: raw.replace(b"Subject: Hello", b"Subject: Pay now"), id="header"),
    ],
)
async def test_dkim_fail_after_tampering(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey, tamper
) -> None:
    publish_key(dns, key, "signed.example.com")
    raw = tamper(signed(message("a@signed.example.com"), key, "signed.example.com"))

    results = await run(resolver, raw)

    assert [d.result for d in results.dkim] == ["fail"]


async def test_dkim_no_key_is_permerror(resolver: Resolver, key: DkimKey) -> None:
    # RFC 6376 6.1.2: no key record -> PERMFAIL (no key for signature)
    raw = signed(message("a@signed.example.com"), key, "signed.example.com")

    results = await run(resolver, raw)

    assert [(d.result, d.reason) for d in results.dkim] == [("permerror", "no key for signature")]


async def test_dkim_key_lookup_servfail_is_temperror(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey
) -> None:
    # RFC 6376 6.1.2: the key query fails to respond -> TEMPFAIL (key unavailable)
    dns.fail("s1._domainkey.signed.example.com")
    raw = signed(message("a@signed.example.com"), key, "signed.example.com")

    results = await run(resolver, raw)

    assert [d.result for d in results.dkim] == ["temperror"]


@pytest.mark.parametrize(
    "record",
    [
        pytest.param("v=DKIM1; k=rsa; p=", id="revoked"),
        pytest.param("v=DKIM1; k=rsa; p=bm90IGEga2V5", id="garbage-key"),
        pytest.param("v=DKIM1; k=rsa", id="no-p"),
    ],
)
async def test_dkim_unusable_key_is_permerror(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey, record: str
) -> None:
    dns.add(f's1._domainkey.signed.example.com. 300 IN TXT "{record}"')
    raw = signed(message("a@signed.example.com"), key, "signed.example.com")

    results = await run(resolver, raw)

    assert [d.result for d in results.dkim] == ["permerror"]


async def test_dkim_every_signature_reported(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey
) -> None:
    publish_key(dns, key, "signed.example.com")
    raw = signed(message("a@signed.example.com"), key, "signed.example.com")
    raw = signed(raw, key, "relay.example.net", selector="gone")

    results = await run(resolver, raw)

    assert [(d.result, d.domain, d.selector) for d in results.dkim] == [
        ("permerror", "relay.example.net", "gone"),
        ("pass", "signed.example.com", "s1"),
    ]
    assert results.dkim_summary == "pass"


@pytest.mark.parametrize(
    ("tags", "expected", "in_header"),
    [
        pytest.param(
            "v=1; a=rsa-sha256; d=x.example.com; s=s1",
            ("neutral", "x.example.com", "s1"),
            "dkim=neutral header.d=x.example.com header.s=s1;",
            id="missing-tags",
        ),
        pytest.param("v=1; s=s1", ("neutral", "", "s1"), "dkim=neutral header.s=s1;", id="no-d"),
        pytest.param("garbage", ("neutral", "", ""), "dkim=neutral;", id="unparseable"),
    ],
)
async def test_dkim_malformed_signature_is_neutral(
    resolver: Resolver, tags: str, expected: tuple[str, str, str], in_header: str
) -> None:
    raw = f"DKIM-Signature: {tags}\r\n".encode() + message("a@x.example.com")

    results = await run(resolver, raw)

    assert [(d.result, d.domain, d.selector) for d in results.dkim] == [expected]
    assert in_header in results.header("mx.inbound.example")


async def test_unsigned_message_has_no_dkim_results(resolver: Resolver) -> None:
    results = await run(resolver)

    assert results.dkim == ()
    assert results.dkim_summary == "none"
    assert "dkim=none" in results.header("mx.inbound.example")


# --- DMARC ---------------------------------------------------------------------------------


async def test_dmarc_pass_via_aligned_dkim_only(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey
) -> None:
    dns.add('_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject"')
    publish_key(dns, key, "example.org")
    raw = signed(message("a@example.org"), key, "example.org")

    results = await run(resolver, raw, mail_from="bounce@ip4.example.com")

    assert results.spf.result == "pass"  # but for ip4.example.com: not aligned
    dmarc = results.dmarc
    assert (dmarc.result, dmarc.policy, dmarc.disposition) == ("pass", "reject", "none")
    assert (dmarc.is_spf_aligned, dmarc.is_dkim_aligned, dmarc.dkim_domain) == (
        False,
        True,
        "example.org",
    )


async def test_dmarc_pass_via_aligned_spf_only(dns: LoopbackDNS, resolver: Resolver) -> None:
    dns.add('_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject"')
    dns.add('example.org. 300 IN TXT "v=spf1 ip4:192.0.2.0/28 -all"')

    results = await run(resolver, message("a@example.org"), mail_from="bounce@example.org")

    assert results.dkim == ()
    assert (results.dmarc.result, results.dmarc.is_spf_aligned) == ("pass", True)
    assert results.dmarc.is_dkim_aligned is False


async def test_dmarc_fail_with_reject(dns: LoopbackDNS, resolver: Resolver, key: DkimKey) -> None:
    dns.add('_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:d@example.org"')
    publish_key(dns, key, "signed.example.com")
    # SPF and DKIM both pass, but for domains unrelated to the From domain
    raw = signed(message("ceo@example.org"), key, "signed.example.com")

    results = await run(resolver, raw, mail_from="bounce@ip4.example.com")

    assert (results.spf.result, results.dkim_summary) == ("pass", "pass")
    dmarc = results.dmarc
    assert (dmarc.result, dmarc.policy, dmarc.disposition) == ("fail", "reject", "reject")
    assert results.to_json()["details"]["dmarc"]["disposition"] == "reject"


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param("", "pass", id="relaxed-default"),
        pytest.param("; aspf=r", "pass", id="relaxed"),
        pytest.param("; aspf=s", "fail", id="strict"),
    ],
)
async def test_dmarc_spf_alignment_mode(
    dns: LoopbackDNS, resolver: Resolver, tags: str, expected: str
) -> None:
    dns.add(f'_dmarc.example.org. 300 IN TXT "v=DMARC1; p=quarantine{tags}"')
    dns.add('bounces.example.org. 300 IN TXT "v=spf1 ip4:192.0.2.0/28 -all"')

    results = await run(resolver, message("a@example.org"), mail_from="b@bounces.example.org")

    assert results.spf.result == "pass"
    assert results.dmarc.result == expected
    assert results.dmarc.aspf == ("s" if "aspf=s" in tags else "r")


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        pytest.param("", "pass", id="relaxed-default"),
        pytest.param("; adkim=s", "fail", id="strict"),
    ],
)
async def test_dmarc_dkim_alignment_mode(
    dns: LoopbackDNS, resolver: Resolver, key: DkimKey, tags: str, expected: str
) -> None:
    dns.add(f'_dmarc.example.org. 300 IN TXT "v=DMARC1; p=quarantine{tags}"')
    publish_key(dns, key, "mail.example.org")
    raw = signed(message("a@example.org"), key, "mail.example.org")

    results = await run(resolver, raw)

    assert results.dkim_summary == "pass"
    assert results.dmarc.result == expected


async def test_dmarc_org_domain_fallback(dns: LoopbackDNS, resolver: Resolver) -> None:
    dns.add('_dmarc.example.com. 300 IN TXT "v=DMARC1; p=quarantine; sp=reject"')

    results = await run(resolver, message("a@mail.sub.example.com"), ip=OUTSIDE)

    dmarc = results.dmarc
    assert (dmarc.result, dmarc.from_domain, dmarc.record_domain) == (
        "fail",
        "mail.sub.example.com",
        "example.com",
    )
    assert dmarc.policy == "reject"  # sp= applies below the organizational domain
    assert [q[0] for q in dns.queries if q[0].startswith("_dmarc")] == [
        "_dmarc.mail.sub.example.com",
        "_dmarc.example.com",
    ]


async def test_dmarc_own_record_wins_over_org_domain(dns: LoopbackDNS, resolver: Resolver) -> None:
    dns.add('_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"')
    dns.add('_dmarc.news.example.com. 300 IN TXT "v=DMARC1; p=none"')

    results = await run(resolver, message("a@news.example.com"))

    assert (results.dmarc.policy, results.dmarc.record_domain) == ("none", "news.example.com")


async def test_dmarc_no_record_is_none(resolver: Resolver) -> None:
    results = await run(resolver, message("a@nodmarc.example.com"))

    assert (results.dmarc.result, results.dmarc.policy) == ("none", "none")
    assert results.dmarc.from_domain == "nodmarc.example.com"


async def test_dmarc_servfail_is_temperror(dns: LoopbackDNS, resolver: Resolver) -> None:
    dns.fail("_dmarc.example.org")

    results = await run(resolver, message("a@example.org"))

    assert results.dmarc.result == "temperror"


async def test_dmarc_without_from_is_permerror(resolver: Resolver) -> None:
    raw = b"Subject: no author\r\n\r\nbody\r\n"

    results = await run(resolver, raw)

    assert (results.dmarc.result, results.dmarc.from_domain) == ("permerror", "")


# --- results -------------------------------------------------------------------------------


async def test_header_and_json(dns: LoopbackDNS, resolver: Resolver, key: DkimKey) -> None:
    dns.add('_dmarc.example.org. 300 IN TXT "v=DMARC1; p=reject"')
    dns.add('example.org. 300 IN TXT "v=spf1 ip4:192.0.2.0/28 -all"')
    publish_key(dns, key, "example.org")
    raw = signed(message("a@example.org"), key, "example.org")

    results = await run(resolver, raw, mail_from="bounce@example.org")

    assert results.header("mx.inbound.example") == (
        "mx.inbound.example; spf=pass smtp.mailfrom=example.org; "
        "dkim=pass header.d=example.org header.s=s1; "
        "dmarc=pass (p=reject dis=none) header.from=example.org"
    )
    assert results.to_json() == {
        "spf": "pass",
        "dkim": "pass",
        "dmarc": "pass",
        "details": {
            "spf": {"result": "pass", "domain": "example.org", "identity": "mailfrom"},
            "dkim": [{"result": "pass", "domain": "example.org", "selector": "s1"}],
            "dmarc": {
                "result": "pass",
                "policy": "reject",
                "disposition": "none",
                "from_domain": "example.org",
                "record_domain": "example.org",
                "adkim": "r",
                "aspf": "r",
                "spf_aligned": True,
                "dkim_aligned": True,
                "dkim_domain": "example.org",
            },
        },
    }


async def test_header_quotes_odd_values(resolver: Resolver) -> None:
    results = await run(resolver, mail_from='x@"odd domain"', ip=OUTSIDE)

    header = results.header("mx.inbound.example")
    assert 'smtp.mailfrom="\\"odd domain\\""' in header
    assert "\r" not in header
    assert "\n" not in header


# --- bounded and robust --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "ip", "helo", "mail_from"),
    [
        pytest.param(b"", "", "", "", id="all-empty"),
        pytest.param(b"\x00\xff\xfe garbage", "not-an-ip", "\x00", "@@@", id="binary"),
        pytest.param(b"From: <@>\r\n\r\n", "999.1.1.1", "h", "a@" + "x" * 300, id="long-domain"),
        pytest.param(
            b"DKIM-Signature: \xff\xfe\r\nFrom: a@b..c\r\n\r\n",
            "::ffff:1.2.3.4",
            "h",
            "a@..",
            id="bad-signature",
        ),
        pytest.param(
            b"From: a@example.com\r\nFrom: b@example.net\r\n\r\n", "::1", "h", "a@b", id="two-from"
        ),
        pytest.param(
            b"DKIM-Signature: v=1; a=rsa-sha256; b=!!; bh=!!; d=; h=from; s=\r\n"
            b"From: a@x.com\r\n\r\n",
            "192.0.2.1",
            "h",
            "a@x.com",
            id="empty-tags",
        ),
    ],
)
async def test_garbage_never_raises(
    resolver: Resolver, raw: bytes, ip: str, helo: str, mail_from: str
) -> None:
    results = await check(raw, ip=ip, helo=helo, mail_from=mail_from, resolver=resolver, now=NOW)

    assert results.spf.result in {"none", "permerror", "temperror", "neutral", "fail"}
    assert all(d.result in {"neutral", "permerror", "temperror"} for d in results.dkim)
    assert results.dmarc.result in {"none", "permerror", "temperror"}
    results.header("mx.inbound.example")
    results.to_json()


@pytest.fixture
def silent_nameserver() -> Iterator[tuple[str, int]]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()


async def test_time_budget_bounds_the_whole_check(
    silent_nameserver: tuple[str, int], key: DkimKey
) -> None:
    resolver = Resolver(silent_nameserver, timeout=30.0)
    raw = signed(message("a@example.org"), key, "example.org")
    started = time.monotonic()

    results = await check(
        raw,
        ip=INSIDE,
        helo="h.example.com",
        mail_from="b@example.org",
        resolver=resolver,
        now=NOW,
        time_budget=0.5,
    )

    assert time.monotonic() - started < 3
    assert results.spf.result == "temperror"
    assert [d.result for d in results.dkim] == ["temperror"]
    assert results.dmarc.result == "temperror"
