"""Address validation against real components: a loopback DNS server, SMTP sinks that accept,
reject or catch all, both stores, and the API through the ASGI app."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailwright.app import build_runtime, first_start
from mailwright.config import Settings
from mailwright.delivery import RcptProber
from mailwright.resolver import Resolver
from mailwright.store import Store, queries
from mailwright.suppressions import add_bounce
from mailwright.validation import Validator, ValidatorConfig
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink

API_KEY = "key-validation-test"

ZONE = """
example.com. 300 IN MX 10 mx.example.com.
mx.example.com. 300 IN A 127.0.0.1
other.com. 300 IN MX 10 mx.other.com.
mx.other.com. 300 IN A 127.0.0.1
catchall.org. 300 IN MX 10 mx.catchall.org.
mx.catchall.org. 300 IN A 127.0.0.1
implicit.net. 300 IN A 127.0.0.1
nullmx.com. 300 IN MX 0 .
nothing.com. 300 IN TXT "v=spf1 -all"
gmail.com. 300 IN MX 5 mx.example.com.
mailinator.com. 300 IN MX 10 mx.example.com.
gmial.com. 300 IN MX 10 mx.example.com.
"""


def script(rcpt: str) -> tuple[int, str] | None:
    """example.com and other.com have only alice, bob and info; catchall.org takes anything."""
    local, _, domain = rcpt.partition("@")
    if domain in {"example.com", "other.com"} and local not in {"alice", "bob", "info"}:
        return 550, "5.1.1 No such user"
    if local == "greylisted":
        return 451, "4.7.1 Try again later"
    return None


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(script=script) as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def validator(store: Store, dns: LoopbackDNS, sink: SmtpSink, clock: Clock) -> Validator:
    resolver = Resolver(dns.address, timeout=2.0)
    prober = RcptProber(resolver, helo_name="validator.test", port=sink.port)
    return Validator(
        store, resolver, clock, prober=prober, config=ValidatorConfig(probe_interval=0)
    )


async def test_mailbox_that_exists_is_deliverable(validator: Validator, sink: SmtpSink) -> None:
    body = await validator.validate("alice@example.com")
    assert (body["result"], body["risk"], body["reason"]) == ("deliverable", "low", [])
    assert body["is_disposable_address"] is False
    assert body["root_address"] is None
    assert sink.messages == []  # RCPT only: nothing was delivered


async def test_mailbox_that_does_not_exist_is_undeliverable(validator: Validator) -> None:
    body = await validator.validate("nobody@example.com")
    assert (body["result"], body["risk"]) == ("undeliverable", "high")
    assert body["reason"] == ["mailbox_does_not_exist"]


async def test_catch_all_domain(validator: Validator) -> None:
    body = await validator.validate("anyone@catchall.org")
    assert (body["result"], body["risk"], body["reason"]) == ("catch_all", "medium", ["catch_all"])


async def test_greylisting_is_unknown(validator: Validator) -> None:
    body = await validator.validate("greylisted@catchall.org")
    assert (body["result"], body["risk"]) == ("unknown", "unknown")


async def test_provider_lookup_false_skips_the_probe(validator: Validator, sink: SmtpSink) -> None:
    body = await validator.validate("nobody@example.com", provider_lookup=False)
    assert body["result"] == "deliverable"
    assert sink.sessions == 0


async def test_probe_results_are_cached(validator: Validator, sink: SmtpSink) -> None:
    for _ in range(3):
        assert (await validator.validate("bob@example.com"))["result"] == "deliverable"
    assert sink.sessions == 1


async def test_probes_are_rate_limited_per_mx_host(
    store: Store, dns: LoopbackDNS, sink: SmtpSink, clock: Clock
) -> None:
    resolver = Resolver(dns.address, timeout=2.0)
    prober = RcptProber(resolver, helo_name="validator.test", port=sink.port)
    validator = Validator(store, resolver, clock, prober=prober, config=ValidatorConfig())
    assert (await validator.validate("alice@example.com"))["result"] == "deliverable"
    # Same MX host within the interval: not probed, so the mailbox is unknown, and not cached.
    assert (await validator.validate("nobody@example.com"))["result"] == "unknown"
    clock.now += 1.5
    assert (await validator.validate("nobody@example.com"))["result"] == "undeliverable"
    assert sink.sessions == 2


@pytest.mark.parametrize(
    ("address", "result", "reason"),
    [
        ("a@nullmx.com", "undeliverable", ["no_mx"]),  # RFC 7505
        ("a@nothing.com", "undeliverable", ["no_mx"]),  # neither MX nor A/AAAA
        ("a@unknown-domain.com", "undeliverable", ["no_mx"]),  # NXDOMAIN
    ],
)
async def test_domains_without_mail(
    validator: Validator, address: str, result: str, reason: list[str]
) -> None:
    body = await validator.validate(address, provider_lookup=False)
    assert (body["result"], body["reason"]) == (result, reason)


async def test_implicit_mx_from_an_a_record(validator: Validator, sink: SmtpSink) -> None:
    assert (await validator.validate("a@implicit.net", provider_lookup=False))["result"] == (
        "deliverable"
    )
    # The probe went to the domain's own address; the sink takes any local part there.
    assert (await validator.validate("someone@implicit.net"))["result"] == "catch_all"
    assert sink.sessions == 1


async def test_dns_failure_is_unknown_and_cached_briefly(
    validator: Validator, dns: LoopbackDNS, clock: Clock
) -> None:
    dns.fail("broken.com")
    body = await validator.validate("a@broken.com", provider_lookup=False)
    assert (body["result"], body["risk"]) == ("unknown", "unknown")
    asked = len(dns.queries)
    await validator.validate("b@broken.com", provider_lookup=False)
    assert len(dns.queries) == asked  # cached
    clock.now += 31
    await validator.validate("c@broken.com", provider_lookup=False)
    assert len(dns.queries) > asked


async def test_dns_answers_are_cached(validator: Validator, dns: LoopbackDNS) -> None:
    await validator.validate("alice@example.com", provider_lookup=False)
    asked = len(dns.queries)
    await validator.validate("bob@example.com", provider_lookup=False)
    assert len(dns.queries) == asked


async def test_gmail_grammar_and_root_address(validator: Validator) -> None:
    short = await validator.validate("abc@gmail.com")
    assert (short["result"], short["reason"]) == ("undeliverable", ["failed custom grammar check"])
    folded = await validator.validate("John.Smith+news@gmail.com", provider_lookup=False)
    assert folded["root_address"] == "johnsmith@gmail.com"


async def test_disposable_role_and_typo(validator: Validator) -> None:
    disposable = await validator.validate("someone@mailinator.com", provider_lookup=False)
    assert (disposable["result"], disposable["risk"]) == ("do_not_send", "high")
    assert disposable["is_disposable_address"] is True
    assert disposable["reason"] == ["mailbox_is_disposable_address"]
    role = await validator.validate("info@example.com")
    assert role["is_role_address"] is True
    assert (role["result"], role["risk"]) == ("deliverable", "medium")
    typo = await validator.validate("someone@gmial.com", provider_lookup=False)
    assert typo["did_you_mean"] == "someone@gmail.com"


async def test_our_bounce_and_complaint_history(validator: Validator, store: Store) -> None:
    async def bounce(conn: Any) -> None:
        await add_bounce(conn, "sender.test", "Alice@Example.com", code=550, error="x", now=1.0)

    await store.write(bounce)
    body = await validator.validate("alice@example.com", provider_lookup=False)
    assert (body["result"], body["risk"]) == ("do_not_send", "high")
    assert body["reason"] == ["previously_bounces"]


def _event(event: str, recipient: str, n: int) -> dict[str, Any]:
    return {
        "id": f"{event}-{n}",
        "domain": "sender.test",
        "timestamp": time.time(),
        "event": event,
        "severity": None,
        "recipient": recipient,
        "message_id": f"m{n}@sender.test",
        "sender": "s@sender.test",
        "to": recipient,
        "subject": "s",
        "tags_key": "",
        "attachments": "",
        "size": 1,
        "list": None,
        "payload": "{}",
    }


async def test_engagement_from_our_events(validator: Validator, store: Store) -> None:
    assert "engagement" not in await validator.validate("bob@example.com", provider_lookup=False)

    async def events(conn: Any) -> None:
        await queries.insert_events(
            conn,
            [_event("delivered", "bob@example.com", 1), _event("opened", "bob@example.com", 2)],
        )

    await store.write(events)
    body = await validator.validate("bob@example.com", provider_lookup=False)
    assert body["engagement"] == {"engaging": True, "behavior": "opener", "is_bot": False}


# -- the API ------------------------------------------------------------------------------


@pytest.fixture
async def client(
    tmp_path: Path, database_url: str, store: Store, dns: LoopbackDNS, sink: SmtpSink
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.from_env(
        environ={
            "MAILWRIGHT_DATA_DIR": str(tmp_path),
            "MAILWRIGHT_DATABASE_URL": database_url,
            "MAILWRIGHT_API_KEY": API_KEY,
            "MAILWRIGHT_PUBLIC_URL": "http://testserver",
            "MAILWRIGHT_DNS_SERVER": dns.nameserver,
            "MAILWRIGHT_MX_PORT": str(sink.port),
            "MAILWRIGHT_VALIDATION_SMTP_PROBE": "true",
        }
    )
    runtime = build_runtime(settings, frozenset({"api"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=("api", API_KEY)
    ) as http:
        yield http
    await runtime.stop()


async def test_api_get_and_post(client: httpx.AsyncClient) -> None:
    got = await client.get("/v4/address/validate", params={"address": "alice@example.com"})
    assert got.status_code == 200, got.text
    assert got.json() == {
        "address": "alice@example.com",
        "did_you_mean": None,
        "is_disposable_address": False,
        "is_role_address": False,
        "reason": [],
        "result": "deliverable",
        "risk": "low",
        "root_address": None,
    }
    # another MX host: the one-probe-per-host-per-second limit does not apply
    posted = await client.post("/v4/address/validate", data={"address": "nobody@other.com"})
    assert posted.json()["result"] == "undeliverable"
    assert posted.json()["reason"] == ["mailbox_does_not_exist"]
    skipped = await client.post(
        "/v4/address/validate?provider_lookup=false", data={"address": "nobody2@example.com"}
    )
    assert skipped.json()["result"] == "deliverable"


async def test_api_invalid_syntax_is_a_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/v4/address/validate", params={"address": "not an address"})
    assert response.status_code == 200
    body = response.json()
    assert (body["result"], body["risk"], body["reason"]) == (
        "undeliverable",
        "high",
        ["failed syntax check"],
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "address"),
        ({"address": ""}, "address"),
        ({"address": "a" * 513}, "address"),
        ({"address": "a@example.com", "provider_lookup": "maybe"}, "provider_lookup"),
    ],
)
async def test_api_bad_input_is_a_400_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get("/v4/address/validate", params=params)
    assert response.status_code == 400
    assert field in response.json()["message"]
    posted = await client.post("/v4/address/validate", data=params)
    assert posted.status_code == 400
    assert field in posted.json()["message"]


async def test_api_needs_a_key(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v4/address/validate", params={"address": "a@example.com"}, auth=("api", "wrong")
    )
    assert response.status_code == 401


async def test_validate_many_keeps_order_and_reads_history_per_address(
    validator: Validator, store: Store
) -> None:
    async def bounce(conn: Any) -> None:
        await add_bounce(conn, "sender.test", "bob@example.com", code=550, error="x", now=1.0)

    await store.write(bounce)
    addresses = ["alice@example.com", "bad", "bob@example.com", "a@nullmx.com", "Bob@example.com"]
    bodies = await validator.validate_many(addresses, provider_lookup=False)
    assert [b["address"] for b in bodies] == addresses
    assert [b["result"] for b in bodies] == [
        "deliverable",
        "undeliverable",
        "do_not_send",
        "undeliverable",
        "do_not_send",  # our suppressions are case-insensitive
    ]
