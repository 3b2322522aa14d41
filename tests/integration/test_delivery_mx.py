"""Real MX delivery end to end: HTTP send -> loopback DNS -> STARTTLS SMTP sink, DKIM verified,
with bounces, tempfails, suppressions, null MX, require-tls and relay mode, on both stores."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import dkim
import dns.resolver
import httpx
import pytest
from dns.nameserver import Do53Nameserver

from mailwright.app import build_runtime, first_start
from mailwright.config import Settings
from mailwright.store import Store
from tests.conftest import API_KEY
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink, tls_materials
from tests.support.wait import wait_until

ZONE = """
rcpt.test. 300 IN MX 10 mx.example.test.
mx.example.test. 300 IN A 127.0.0.1
nullmx.test. 300 IN MX 0 .
"""


def script(rcpt: str) -> tuple[int, str] | None:
    local = rcpt.split("@")[0]
    if local.startswith("bounce"):
        return (550, "5.1.1 The email account that you tried to reach does not exist")
    if local.startswith("later"):
        return (451, "4.7.1 Greylisted, try again later")
    return None


@pytest.fixture
def loopback_dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    _, leaf, _ = tls_materials()
    with SmtpSink(tls_cert=leaf, script=script) as server:
        yield server


def mx_settings(
    tmp_path: Path, database_url: str, dns_server: LoopbackDNS, port: int, **extra: str
) -> Settings:
    return Settings.from_env(
        environ={
            "MAILWRIGHT_DATA_DIR": str(tmp_path),
            "MAILWRIGHT_DATABASE_URL": database_url,
            "MAILWRIGHT_API_KEY": API_KEY,
            "MAILWRIGHT_PUBLIC_URL": "http://testserver",
            "MAILWRIGHT_DELIVERY": "mx",
            "MAILWRIGHT_DNS_SERVER": dns_server.nameserver,
            "MAILWRIGHT_MX_PORT": str(port),
        }
        | extra
    )


@contextlib.asynccontextmanager
async def serving(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The whole server (API and worker) trusting the sink's CA, and a client for its API."""
    runtime = build_runtime(
        settings, frozenset({"api", "worker"}), store=store, ssl_context=tls_materials()[2]
    )
    await first_start(settings, store)
    await runtime.start()
    transport = httpx.ASGITransport(app=runtime.app)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", auth=("api", API_KEY)
        ) as client:
            yield client
    finally:
        await runtime.stop()


@pytest.fixture
async def mx_client(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS, sink: SmtpSink
) -> AsyncIterator[httpx.AsyncClient]:
    settings = mx_settings(tmp_path, database_url, loopback_dns, sink.port)
    async with serving(settings, store) as client:
        yield client


async def sandbox_of(client: httpx.AsyncClient) -> str:
    return str((await client.get("/v4/domains")).json()["items"][0]["name"])


async def send(client: httpx.AsyncClient, domain: str, to: str, **extra: str) -> str:
    data = {"from": f"App <app@{domain}>", "to": to, "subject": "Hello", "text": "Hi"} | extra
    response = await client.post(f"/v3/{domain}/messages", data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def events_of(client: httpx.AsyncClient, domain: str, **params: str) -> Callable:
    async def probe() -> list[dict]:
        page = await client.get(f"/v3/{domain}/events", params=params)
        return list(page.json()["items"])

    return probe


def dkim_lookup(server: LoopbackDNS) -> Callable[..., bytes | None]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [Do53Nameserver(*server.address)]
    resolver.use_edns(0, 0, 1232)

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
        except dns.resolver.NXDOMAIN:
            return None
        return b"".join(b"".join(r.strings) for r in answer)

    return lookup


async def test_delivered_over_starttls_and_dkim_valid(
    mx_client: httpx.AsyncClient, sink: SmtpSink, loopback_dns: LoopbackDNS
) -> None:
    domain = await sandbox_of(mx_client)
    records = (await mx_client.get(f"/v4/domains/{domain}")).json()["sending_dns_records"]
    for record in records:
        if record["record_type"] == "TXT":
            loopback_dns.add(f'{record["name"]}. 300 IN TXT "{record["value"]}"')
    message_id = await send(mx_client, domain, "Alice <alice@rcpt.test>")

    [received] = await sink.wait_for(1)
    assert received.rcpt_tos == ("alice@rcpt.test",)
    assert received.tls is True
    # Mailgun's VERP return path: bounce+<tag>-alice=rcpt.test@<sending domain>
    assert received.mail_from.startswith("bounce+")
    assert received.mail_from.endswith(f"-alice=rcpt.test@{domain}")
    assert message_id.encode() in received.data
    assert dkim.verify(received.data, dnsfunc=dkim_lookup(loopback_dns))

    [event] = await wait_until(await events_of(mx_client, domain, event="delivered"))
    status = event["delivery-status"]
    assert status["code"] == 250
    assert status["tls"] is True
    assert status["certificate-verified"] is True
    assert status["mx-host"] == "mx.example.test"
    key = event["storage"]["key"]
    attempts = (await mx_client.get(f"/mailwright/v1/messages/{key}/attempts")).json()
    [attempt] = attempts["items"]
    assert attempt["outcome"] == "delivered"
    assert "STARTTLS" in attempt["transcript"]
    assert "RCPT TO:<alice@rcpt.test>" in attempt["transcript"]


async def test_recipients_of_one_message_share_a_transaction(
    mx_client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    domain = await sandbox_of(mx_client)
    await send(mx_client, domain, "a@rcpt.test, b@rcpt.test, c@rcpt.test")
    [received] = await sink.wait_for(1)
    assert sorted(received.rcpt_tos) == ["a@rcpt.test", "b@rcpt.test", "c@rcpt.test"]


async def test_bounce_is_permanent_and_suppresses_the_next_send(
    mx_client: httpx.AsyncClient, sink: SmtpSink
) -> None:
    domain = await sandbox_of(mx_client)
    await send(mx_client, domain, "bounce@rcpt.test")
    [failed] = await wait_until(await events_of(mx_client, domain, event="failed"))
    assert failed["severity"] == "permanent"
    assert failed["reason"] == "bounce"
    assert failed["log-level"] == "error"
    assert failed["delivery-status"]["code"] == 550
    assert failed["delivery-status"]["enhanced-code"] == "5.1.1"
    bounce = await mx_client.get(f"/v3/{domain}/bounces/bounce@rcpt.test")
    assert bounce.status_code == 200
    assert bounce.json()["code"] == "550"

    await send(mx_client, domain, "bounce@rcpt.test")

    async def suppressed() -> list[dict]:
        page = await mx_client.get(f"/v3/{domain}/events", params={"event": "failed"})
        return [e for e in page.json()["items"] if e["reason"] == "suppress-bounce"]

    [event] = await wait_until(suppressed)
    assert event["severity"] == "permanent"
    assert sink.transactions == 1  # the second message was never attempted


async def test_tempfail_is_retried_later(mx_client: httpx.AsyncClient, sink: SmtpSink) -> None:
    domain = await sandbox_of(mx_client)
    await send(mx_client, domain, "later@rcpt.test")
    [failed] = await wait_until(await events_of(mx_client, domain, event="failed"))
    assert failed["severity"] == "temporary"
    assert failed["log-level"] == "warn"
    assert failed["delivery-status"]["code"] == 451
    assert failed["delivery-status"]["retry-seconds"] >= 60
    assert (await mx_client.get(f"/v3/{domain}/bounces/later@rcpt.test")).status_code == 404


async def test_null_mx_is_a_permanent_failure(mx_client: httpx.AsyncClient, sink: SmtpSink) -> None:
    domain = await sandbox_of(mx_client)
    await send(mx_client, domain, "someone@nullmx.test")
    [failed] = await wait_until(await events_of(mx_client, domain, event="failed"))
    assert failed["severity"] == "permanent"
    assert failed["delivery-status"]["enhanced-code"].startswith("5.1.")
    assert sink.transactions == 0


async def test_require_tls_without_starttls_is_not_delivered(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS
) -> None:
    with SmtpSink() as plain:
        settings = mx_settings(tmp_path, database_url, loopback_dns, plain.port)
        async with serving(settings, store) as client:
            domain = await sandbox_of(client)
            await send(client, domain, "a@rcpt.test", **{"o:require-tls": "yes"})
            [failed] = await wait_until(await events_of(client, domain, event="failed"))
            await send(client, domain, "b@rcpt.test")
            await plain.wait_for(1)
    assert failed["delivery-status"]["enhanced-code"] == "4.7.10"
    assert [m.rcpt_tos for m in plain.messages] == [("b@rcpt.test",)]


async def test_relay_mode_sends_everything_to_the_smarthost(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS
) -> None:
    with SmtpSink(auth_users={"relayuser": "s3cret"}) as relay:
        settings = mx_settings(
            tmp_path,
            database_url,
            loopback_dns,
            relay.port,
            MAILWRIGHT_DELIVERY="relay",
            MAILWRIGHT_RELAY_URL=f"smtp://relayuser:s3cret@127.0.0.1:{relay.port}",
        )
        async with serving(settings, store) as client:
            domain = await sandbox_of(client)
            await send(client, domain, "anyone@nowhere-in-dns.test")
            [received] = await relay.wait_for(1)
            [event] = await wait_until(await events_of(client, domain, event="delivered"))
    assert received.login == "relayuser"
    assert received.rcpt_tos == ("anyone@nowhere-in-dns.test",)
    assert event["delivery-status"]["mx-host"] == "127.0.0.1"


async def test_destination_rate_limit_spaces_sends(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS, sink: SmtpSink
) -> None:
    settings = mx_settings(
        tmp_path, database_url, loopback_dns, sink.port, MAILWRIGHT_DESTINATION_RATE="4/s"
    )
    async with serving(settings, store) as client:
        domain = await sandbox_of(client)
        started = time.monotonic()
        for i in range(8):
            await send(client, domain, f"user{i}@rcpt.test")
        await sink.wait_for(8)
        elapsed = time.monotonic() - started
    # A burst of 4, then 4 more at 4/s: the last cannot leave before ~1 s.
    assert elapsed >= 0.9


async def test_domain_require_tls_setting_is_honoured(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS
) -> None:
    with SmtpSink() as plain:
        settings = mx_settings(tmp_path, database_url, loopback_dns, plain.port)
        async with serving(settings, store) as client:
            domain = await sandbox_of(client)
            await client.put(f"/v3/domains/{domain}/connection", data={"require_tls": "yes"})
            await send(client, domain, "a@rcpt.test")
            [failed] = await wait_until(await events_of(client, domain, event="failed"))
    assert failed["delivery-status"]["enhanced-code"] == "4.7.10"
    assert plain.messages == []
