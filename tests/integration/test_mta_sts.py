"""MTA-STS: pure parsing and matching, then discovery against loopback DNS and HTTPS."""

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import trustme

from mailwright.delivery.mta_sts import MtaSts, Policy, parse_policy, parse_txt, select_txt
from mailwright.resolver import Resolver
from tests.support.dns import LoopbackDNS

ENFORCE = (
    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.mx.example.test\r\n"
    "max_age: 86400\r\n"
)

# --- pure: parse_policy, parse_txt, Policy.matches (RFC 8461 3.1, 3.2, 4.1)


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        (ENFORCE, Policy("enforce", ("mail.example.test", "*.mx.example.test"), 86400, "")),
        (
            "version: STSv1\nmode: testing\nmx: MX.Example.TEST.\nmax_age: 0\n",
            Policy("testing", ("mx.example.test",), 0, ""),
        ),
        ("version: STSv1\nmode: none\nmax_age: 31557600", Policy("none", (), 31557600, "")),
        # unknown fields are ignored, WSP around values is allowed, blank lines are skipped
        (
            "version:STSv1\r\nmode:\tenforce \r\nfoo_bar.1: anything goes\r\n\r\nmx: a.test\r\n"
            "max_age: 5",
            Policy("enforce", ("a.test",), 5, ""),
        ),
        (
            "max_age: 60\nmx: a.test\nmode: enforce\nversion: STSv1",
            Policy("enforce", ("a.test",), 60, ""),
        ),
    ],
)
def test_parse_policy(text: str, policy: Policy) -> None:
    assert parse_policy(text) == policy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "version"),
        ("version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 60", "version"),
        ("version: stsv1\nmode: enforce\nmx: a.test\nmax_age: 60", "version"),
        ("version: STSv1\nmode: Enforce\nmx: a.test\nmax_age: 60", "mode"),
        ("version: STSv1\nmode: enforce\nmx: a.test", "max_age"),
        ("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1", "max_age"),
        ("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601", "max_age"),
        ("version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 12345678901", "max_age"),
        ("version: STSv1\nmode: enforce\nmax_age: 60", "mx"),
        ("version: STSv1\nmode: enforce\nmx: *.*.a.test\nmax_age: 60", "mx"),
        ("version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 60", "mx"),
        ("version: STSv1\nmode: enforce\nmx: bad host.test\nmax_age: 60", "mx"),
        ("version: STSv1\nmode: enforce\nmode: none\nmx: a.test\nmax_age: 60", "more than once"),
        ("version: STSv1\nmode enforce\nmx: a.test\nmax_age: 60", "key: value"),
        ("<html><body>Not found</body></html>", "key: value"),
    ],
)
def test_parse_policy_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policy(text)


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("mail.example.test", True),
        ("MAIL.example.test.", True),
        ("a.mx.example.test", True),  # wildcard: exactly one left label
        ("mx.example.test", False),
        ("a.b.mx.example.test", False),
        ("other.example.test", False),
        ("example.test", False),
    ],
)
def test_policy_matches(host: str, matches: bool) -> None:
    assert parse_policy(ENFORCE).matches(host) is matches


@pytest.mark.parametrize(
    ("record", "policy_id"),
    [
        ("v=STSv1; id=20160831085700Z", "20160831085700Z"),
        ("v=STSv1;id=abc;", "abc"),
        ("v=STSv1; id=abc; ext-1=value", "abc"),
        ("v=STSv1 ;\tid=abc ; ", "abc"),
        ("v=STSv1", None),
        ("v=STSv1;", None),
        ("v=STSv2; id=abc", None),
        ("id=abc; v=STSv1", None),
        ("v=STSv1; id=", None),
        ("v=STSv1; id=has-dash", None),
        ("v=STSv1; id=" + "a" * 33, None),
        ("v=STSv1; id=a; id=b", None),
        ("v=STSv1; id=abc;; x=y", None),
        ("v=STSv1; id=abc; bad value", None),
    ],
)
def test_parse_txt(record: str, policy_id: str | None) -> None:
    assert parse_txt(record) == policy_id


@pytest.mark.parametrize(
    ("records", "policy_id"),
    [
        (["v=spf1 -all", "v=STSv1; id=one"], "one"),
        (["v=STSv1; id=one", "v=STSv1; id=two"], None),  # RFC 8461 3.1: not exactly one
        (["v=spf1 -all"], None),
        ([], None),
    ],
)
def test_select_txt(records: list[str], policy_id: str | None) -> None:
    assert select_txt(records) == policy_id


# --- discovery over loopback DNS and HTTPS


@dataclass
class Served:
    status: int = 200
    body: bytes = ENFORCE.encode()
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})


class PolicyServer:
    """A small HTTPS server on loopback: answers by Host header and records each request."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.sites: dict[str, Served] = {}
        self.requests: list[tuple[str, str]] = []  # (Host, path)
        self.sni: list[str | None] = []
        context.sni_callback = self._record_sni
        self.port = 0
        self._server: asyncio.Server | None = None

    def _record_sni(self, _sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.sni.append(name)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, ssl.SSLError):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
            host = {k.lower(): v for k, v in headers.items()}.get("host", "")
            self.requests.append((host, path))
            served = self.sites.get(host, Served(status=404, body=b"no such site"))
            lines = [
                f"HTTP/1.1 {served.status} X",
                f"Content-Length: {len(served.body)}",
                "Connection: close",
                *(f"{k}: {v}" for k, v in served.headers.items()),
            ]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + served.body)
            await writer.drain()
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


ZONE = """
_mta-sts.example.test.   60 IN TXT "v=STSv1; id=one"
mta-sts.example.test.    60 IN A   127.0.0.1
_mta-sts.wrong.test.     60 IN TXT "v=STSv1; id=one"
mta-sts.wrong.test.      60 IN A   127.0.0.1
_mta-sts.noaddr.test.    60 IN TXT "v=STSv1; id=one"
_mta-sts.twice.test.     60 IN TXT "v=STSv1; id=one"
_mta-sts.twice.test.     60 IN TXT "v=STSv1; id=two"
mta-sts.twice.test.      60 IN A   127.0.0.1
plain.test.              60 IN MX  10 mx.plain.test.
"""
POLICY_HOSTS = ["mta-sts.example.test", "mta-sts.twice.test"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
async def server(ca: trustme.CA) -> AsyncIterator[PolicyServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*POLICY_HOSTS).configure_cert(context)
    policy_server = PolicyServer(context)
    for host in [*POLICY_HOSTS, "mta-sts.wrong.test"]:
        policy_server.sites[host] = Served()
    await policy_server.start()
    yield policy_server
    await policy_server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sts(ca: trustme.CA, dns: LoopbackDNS, server: PolicyServer, clock: Clock) -> MtaSts:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return MtaSts(
        Resolver(dns.address, timeout=2.0),
        clock,
        fetch_port=server.port,
        ssl_context=context,
        timeout=5,
    )


def txt_queries(dns: LoopbackDNS, domain: str) -> int:
    return sum(1 for q in dns.queries if q[0] == f"_mta-sts.{domain}" and q[1] == "TXT")


async def test_fetches_policy_with_host_and_sni(sts: MtaSts, server: PolicyServer) -> None:
    policy = await sts.policy_for("Example.Test")
    assert policy == Policy("enforce", ("mail.example.test", "*.mx.example.test"), 86400, "one")
    assert server.requests == [("mta-sts.example.test", "/.well-known/mta-sts.txt")]
    assert server.sni == ["mta-sts.example.test"]
    assert policy.matches("a.mx.example.test")


@pytest.mark.parametrize(
    ("body", "mode"),
    [
        ("version: STSv1\nmode: testing\nmx: mail.example.test\nmax_age: 600\n", "testing"),
        ("version: STSv1\nmode: none\nmax_age: 600\n", "none"),
    ],
)
async def test_modes(sts: MtaSts, server: PolicyServer, body: str, mode: str) -> None:
    server.sites["mta-sts.example.test"] = Served(body=body.encode())
    policy = await sts.policy_for("example.test")
    assert policy is not None
    assert (policy.mode, policy.max_age) == (mode, 600)


async def test_no_txt_record_means_no_policy(
    sts: MtaSts, dns: LoopbackDNS, server: PolicyServer
) -> None:
    assert await sts.policy_for("plain.test") is None
    assert await sts.policy_for("nxdomain.test") is None
    assert server.requests == []


async def test_two_sts_records_mean_no_policy(sts: MtaSts, server: PolicyServer) -> None:
    assert await sts.policy_for("twice.test") is None
    assert server.requests == []


async def test_certificate_for_another_name_is_rejected(sts: MtaSts, server: PolicyServer) -> None:
    assert await sts.policy_for("wrong.test") is None
    assert server.requests == []  # the client hung up during the handshake


async def test_untrusted_certificate_is_rejected(
    dns: LoopbackDNS, server: PolicyServer, clock: Clock
) -> None:
    context = ssl.create_default_context()
    trustme.CA().configure_trust(context)  # a different CA
    sts = MtaSts(
        Resolver(dns.address, timeout=2.0), clock, fetch_port=server.port, ssl_context=context
    )
    assert await sts.policy_for("example.test") is None


async def test_policy_host_without_address(sts: MtaSts) -> None:
    assert await sts.policy_for("noaddr.test") is None


@pytest.mark.parametrize(
    "served",
    [
        Served(body=b"version: STSv1\nmode: enforce\nmax_age: 60\n"),  # no mx
        Served(body=b"<html>hello</html>"),
        Served(status=404, body=b"not found"),
        Served(status=500, body=b"oops"),
        Served(
            status=301,
            body=b"",
            headers={"Location": "https://elsewhere.test/", "Content-Type": "text/plain"},
        ),
        Served(headers={"Content-Type": "text/html"}),
        Served(headers={}),
        Served(body=ENFORCE.encode() + b"x-padding: " + b"a" * 70_000 + b"\n"),
        Served(body=b"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 60\n\xff\n"),
    ],
    ids=[
        "invalid",
        "html-body",
        "404",
        "500",
        "redirect",
        "text-html",
        "no-type",
        "too-big",
        "not-utf8",
    ],
)
async def test_bad_responses_mean_no_policy(
    sts: MtaSts, server: PolicyServer, served: Served
) -> None:
    server.sites["mta-sts.example.test"] = served
    assert await sts.policy_for("example.test") is None
    assert len(server.requests) == 1


async def test_content_type_with_charset_is_accepted(sts: MtaSts, server: PolicyServer) -> None:
    server.sites["mta-sts.example.test"] = Served(
        headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    assert await sts.policy_for("example.test") is not None


async def test_cache_hit_makes_no_request(
    sts: MtaSts, dns: LoopbackDNS, server: PolicyServer, clock: Clock
) -> None:
    first = await sts.policy_for("example.test")
    clock.now += 30
    assert await sts.policy_for("example.test") is first
    assert len(server.requests) == 1
    assert txt_queries(dns, "example.test") == 1  # the TXT answer is kept for its TTL too
    clock.now += 3600  # TXT re-read, same id: still no fetch
    assert await sts.policy_for("example.test") is first
    assert len(server.requests) == 1
    assert txt_queries(dns, "example.test") == 2


async def test_new_txt_id_triggers_refetch(
    sts: MtaSts, dns: LoopbackDNS, server: PolicyServer, clock: Clock
) -> None:
    await sts.policy_for("example.test")
    dns.set_zone(ZONE.replace('"v=STSv1; id=one"', '"v=STSv1; id=two"', 1))
    server.sites["mta-sts.example.test"] = Served(
        body=b"version: STSv1\nmode: testing\nmx: mail.example.test\nmax_age: 86400\n"
    )
    assert (await sts.policy_for("example.test")).mode == "enforce"  # type: ignore[union-attr]
    clock.now += 61  # the old TXT answer expires
    policy = await sts.policy_for("example.test")
    assert policy is not None
    assert (policy.mode, policy.id) == ("testing", "two")
    assert len(server.requests) == 2


async def test_failed_refetch_keeps_the_cached_policy(
    sts: MtaSts, dns: LoopbackDNS, server: PolicyServer, clock: Clock
) -> None:
    first = await sts.policy_for("example.test")
    dns.set_zone(ZONE.replace("id=one", "id=two", 1))
    server.sites["mta-sts.example.test"] = Served(status=500, body=b"down")
    clock.now += 61
    assert await sts.policy_for("example.test") is first
    # The failure is remembered for this id: no new request on every message.
    clock.now += 10
    assert await sts.policy_for("example.test") is first
    assert len(server.requests) == 2


async def test_cached_policy_outlives_a_removed_txt_record(
    sts: MtaSts, dns: LoopbackDNS, clock: Clock
) -> None:
    first = await sts.policy_for("example.test")
    dns.set_zone(ZONE.replace('_mta-sts.example.test.   60 IN TXT "v=STSv1; id=one"', ""))
    clock.now += 61
    assert await sts.policy_for("example.test") is first
    clock.now += 86400  # max_age passed: the policy is gone with the record
    assert await sts.policy_for("example.test") is None


async def test_expired_policy_is_fetched_again(
    sts: MtaSts, server: PolicyServer, clock: Clock
) -> None:
    await sts.policy_for("example.test")
    clock.now += 86401
    assert await sts.policy_for("example.test") is not None
    assert len(server.requests) == 2


async def test_concurrent_callers_share_one_fetch(sts: MtaSts, server: PolicyServer) -> None:
    results = await asyncio.gather(*(sts.policy_for("example.test") for _ in range(10)))
    assert all(r is results[0] and r is not None for r in results)
    assert len(server.requests) == 1
