"""DKIM rotation through the API on SQLite and PostgreSQL: a pending key signs only once its
record verifies, the old key retires after its grace period, Ed25519 signs beside RSA; the
signatures are checked by dkimpy against the loopback DNS."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dkim
import dns.rdatatype
import dns.resolver
import httpx
import pytest
from dns.nameserver import Do53Nameserver

from mailwright.app import Runtime
from mailwright.domains import get_domain, retire_expired, sign_message
from mailwright.resolver import Resolver
from mailwright.store import Store, dkim_keys
from mailwright.store.sealed import dkim_place
from tests.support.dns import LoopbackDNS

NOW = 1_780_000_000.0  # 2026-05-28
DAY = 86400.0
NAME = "rotate.test"
MESSAGE = (
    b"From: Sender <sender@rotate.test>\r\n"
    b"To: rcpt@example.org\r\n"
    b"Subject: Hello\r\n"
    b"Date: Mon, 06 May 2024 10:00:00 +0000\r\n"
    b"Message-ID: <1@rotate.test>\r\n"
    b"\r\n"
    b"Hello there.\r\n"
)
OTHER_ED25519 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="  # RFC 8463 A.2's key, not ours
KEYS = f"/mailwright/v1/domains/{NAME}/dkim/keys"
ROTATE = f"/mailwright/v1/domains/{NAME}/dkim/rotate"
ACTIVATE = f"/mailwright/v1/domains/{NAME}/dkim/activate"


@pytest.fixture
def dns_server(runtime: Runtime) -> Iterator[LoopbackDNS]:
    with LoopbackDNS() as server:
        runtime.services.resolver = Resolver(server.address, timeout=2.0)
        runtime.services.clock = lambda: NOW
        yield server


def dkimpy_lookup(server: LoopbackDNS) -> Callable[..., bytes | None]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [Do53Nameserver(*server.address)]
    resolver.use_edns(0, 0, 1232)

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            answer = resolver.resolve(name.decode(), dns.rdatatype.TXT, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings)

    return lookup


def verify_all(signed: bytes, server: LoopbackDNS) -> list[tuple[bytes, bool]]:
    """(a=, verified) of every DKIM-Signature, topmost first."""
    message = dkim.DKIM(signed)
    headers = [v for k, v in message.headers if k.lower() == b"dkim-signature"]
    lookup = dkimpy_lookup(server)
    algorithms = [dkim.util.parse_tag_value(h)[b"a"] for h in headers]
    return [(a, dkim.DKIM(signed).verify(idx=i, dnsfunc=lookup)) for i, a in enumerate(algorithms)]


def publish(server: LoopbackDNS, record: dict) -> None:
    server.add(f'{record["name"]}. 300 IN TXT "{record["value"]}"')


async def keys(client: httpx.AsyncClient) -> list[dict]:
    response = await client.get(KEYS)
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["items"]
    return items


async def test_rotate_activate_and_retire(
    client: httpx.AsyncClient, runtime: Runtime, dns_server: LoopbackDNS
) -> None:
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    [first] = await keys(client)
    assert (first["algorithm"], first["state"], first["key_size"]) == ("rsa", "active", 1024)
    assert first["dns_record"]["value"].startswith("k=rsa; p=")
    publish(dns_server, first["dns_record"])

    rotated = await client.post(ROTATE, data={"grace_days": "2"})
    assert rotated.status_code == 200, rotated.text
    pending = rotated.json()["key"]
    assert pending["selector"] == "mw20260528"
    assert (pending["state"], pending["activated_at"], pending["key_size"]) == (
        "pending",
        None,
        1024,  # the domain's key size
    )
    assert pending["dns_record"]["name"] == f"mw20260528._domainkey.{NAME}"

    # Not published yet: nothing switches, and the answer says what is missing.
    early = await client.post(ACTIVATE)
    assert early.status_code == 400
    assert (
        f"mw20260528._domainkey.{NAME} is not published yet (found: nothing)"
        in (early.json()["message"])
    )
    row = await get_domain(runtime.store, NAME)
    assert row.dkim_selector == first["selector"]
    signed = sign_message(MESSAGE, await runtime.services.domains.get(NAME), runtime.store.keyring)
    assert b"s=" + first["selector"].encode() in signed
    assert verify_all(signed, dns_server) == [(b"rsa-sha256", True)]

    publish(dns_server, pending["dns_record"])
    activated = await client.post(ACTIVATE)
    assert activated.status_code == 200, activated.text
    assert [k["selector"] for k in activated.json()["activated"]] == ["mw20260528"]

    listed = {k["selector"]: k for k in await keys(client)}
    assert listed[first["selector"]]["state"] == "retiring"
    assert listed[first["selector"]]["retire_at"] == "Sat, 30 May 2026 20:26:40 GMT"  # NOW + 2d
    assert listed["mw20260528"]["state"] == "active"
    assert listed["mw20260528"]["activated_at"] == "Thu, 28 May 2026 20:26:40 GMT"

    domain = await runtime.services.domains.get(NAME)  # forgotten on activation: fresh
    assert domain.dkim_selector == "mw20260528"
    signed = sign_message(MESSAGE, domain, runtime.store.keyring)
    assert b"s=mw20260528;" in signed
    assert verify_all(signed, dns_server) == [(b"rsa-sha256", True)]
    records = (await client.get(f"/v4/domains/{NAME}")).json()["sending_dns_records"]
    assert pending["dns_record"]["name"] in [r["name"] for r in records]

    # The doctor checks the retiring key too (published-as-valid until retire_at).
    doctor = (await client.get(f"/mailwright/v1/domains/{NAME}/doctor")).json()
    assert [c["status"] for c in doctor["checks"] if c["check"] == "dkim"] == ["pass", "pass"]

    # Past the grace period the old key reads as retired, then the purge erases it.
    runtime.services.clock = lambda: NOW + 2 * DAY + 1
    listed = {k["selector"]: k for k in await keys(client)}
    assert listed[first["selector"]]["state"] == "retired"
    assert await retire_expired(runtime.store, now=NOW + DAY) == 0
    assert await retire_expired(runtime.store, now=NOW + 2 * DAY + 1) == 1
    async with runtime.store.read() as conn:
        stored = {k.selector: k for k in await dkim_keys.list_keys(conn, domain.id)}
    assert (stored[first["selector"]].state, stored[first["selector"]].private_key) == (
        "retired",
        "",
    )
    new_key = stored["mw20260528"]
    assert new_key.private_key.startswith("mwenc1:")  # sealed at rest
    opened = runtime.store.keyring.open(new_key.private_key, dkim_place(domain.id, "mw20260528"))
    assert opened.startswith("-----BEGIN PRIVATE KEY-----")


async def test_ed25519_signs_beside_rsa_once_verified(
    client: httpx.AsyncClient, runtime: Runtime, dns_server: LoopbackDNS
) -> None:
    created = (await client.post("/v4/domains", data={"name": NAME})).json()
    for record in created["sending_dns_records"]:
        if record["record_type"] == "TXT":
            publish(dns_server, record)
    rotated = await client.post(ROTATE, data={"algorithm": "ed25519", "selector": "Ed1"})
    assert rotated.status_code == 200, rotated.text
    key = rotated.json()["key"]
    assert (key["selector"], key["algorithm"], key["key_size"]) == ("ed1", "ed25519", None)
    assert key["dns_record"]["value"].startswith("k=ed25519; p=")
    publish(dns_server, key["dns_record"])

    # The domain's verify activates the pending key whose record is published.
    verified = (await client.put(f"/v4/domains/{NAME}/verify")).json()
    assert verified["domain"]["state"] == "active"
    ed_records = [r for r in verified["sending_dns_records"] if r["name"].startswith("ed1.")]
    assert [r["valid"] for r in ed_records] == ["valid"]
    states = {k["selector"]: (k["algorithm"], k["state"]) for k in await keys(client)}
    assert states["ed1"] == ("ed25519", "active")
    assert sorted(s for _, s in states.values()) == ["active", "active"]  # RSA stays active

    signed = sign_message(MESSAGE, await runtime.services.domains.get(NAME), runtime.store.keyring)
    assert verify_all(signed, dns_server) == [(b"ed25519-sha256", True), (b"rsa-sha256", True)]

    # A wrong Ed25519 record fails dkimpy's verification: the check above can fail.
    dns_server.set_zone(
        "\n".join(
            f'{r["name"]}. 300 IN TXT "{r["value"]}"'
            for r in created["sending_dns_records"]
            if r["record_type"] == "TXT"
        )
        + f'\ned1._domainkey.{NAME}. 300 IN TXT "k=ed25519; p={OTHER_ED25519}"'
    )
    assert verify_all(signed, dns_server) == [(b"ed25519-sha256", False), (b"rsa-sha256", True)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"algorithm": "dsa"}, "algorithm must be rsa or ed25519"),
        ({"key_size": "4096"}, "key_size must be 1024 or 2048"),
        ({"grace_days": "-1"}, "grace_days must be a number of days from 0 to 365"),
        ({"grace_days": "soon"}, "grace_days must be"),
        ({"selector": "bad selector"}, "Invalid DKIM selector"),
    ],
)
async def test_rotate_rejects_bad_input(
    client: httpx.AsyncClient, dns_server: LoopbackDNS, data: dict, message: str
) -> None:
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    response = await client.post(ROTATE, data=data)
    assert response.status_code == 400
    assert message in response.json()["message"]


async def test_rotate_again_replaces_the_pending_key_and_selectors_stay_unique(
    client: httpx.AsyncClient, dns_server: LoopbackDNS
) -> None:
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    [first] = await keys(client)
    taken = await client.post(ROTATE, data={"selector": first["selector"]})
    assert taken.status_code == 400
    assert "already used" in taken.json()["message"]
    one = (await client.post(ROTATE, data={"key_size": "1024"})).json()["key"]
    two = (await client.post(ROTATE, data={"key_size": "1024"})).json()["key"]
    assert one["selector"] == two["selector"] == "mw20260528"
    assert one["dns_record"]["value"] != two["dns_record"]["value"]
    assert [k["state"] for k in await keys(client)] == ["active", "pending"]
    missing = await client.post(ACTIVATE, data={"selector": "nope"})
    assert missing.status_code == 404
    assert (await client.get("/mailwright/v1/domains/none.test/dkim/keys")).status_code == 404


async def test_deleting_a_domain_deletes_its_keys(client: httpx.AsyncClient, store: Store) -> None:
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    row = await get_domain(store, NAME)
    await client.delete(f"/v3/domains/{NAME}")
    async with store.read() as conn:
        assert await dkim_keys.list_keys(conn, row.id) == []
