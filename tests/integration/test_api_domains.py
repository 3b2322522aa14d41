"""Domain endpoints (v4 and v3) with real DNS verification against a loopback server."""

from __future__ import annotations

import httpx
import pytest

from mailwright.app import Runtime
from mailwright.resolver import Resolver
from tests.support.dns import LoopbackDNS


async def test_create_returns_records_to_publish(client: httpx.AsyncClient) -> None:
    response = await client.post("/v4/domains", data={"name": "Example.ORG"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Domain DNS records have been created"
    assert body["domain"]["name"] == "example.org"
    assert body["domain"]["state"] == "unverified"
    assert body["domain"]["smtp_login"] == "postmaster@example.org"
    sending = {(r["record_type"], r["name"]): r for r in body["sending_dns_records"]}
    assert sending[("TXT", "example.org")]["value"].startswith("v=spf1 ")
    dkim = [r for (kind, name), r in sending.items() if name.endswith("._domainkey.example.org")]
    assert dkim[0]["value"].startswith("k=rsa; p=MIIBIjAN")  # 2048-bit RSA public key
    assert ("CNAME", "email.example.org") in sending
    assert body["receiving_dns_records"][0]["record_type"] == "MX"


async def test_list_get_delete(client: httpx.AsyncClient) -> None:
    await client.post("/v4/domains", data={"name": "a.example"})
    await client.post("/v3/domains", data={"name": "b.example", "dkim_key_size": "1024"})
    listing = (await client.get("/v4/domains")).json()
    names = [d["name"] for d in listing["items"]]
    assert listing["total_count"] == 3  # with the sandbox
    assert {"a.example", "b.example"} <= set(names)
    limited = (await client.get("/v4/domains", params={"limit": 1, "skip": 1})).json()
    assert len(limited["items"]) == 1
    one = (await client.get("/v3/domains/a.example")).json()
    assert one["domain"]["name"] == "a.example"
    assert (await client.delete("/v3/domains/a.example")).json() == {
        "message": "Domain has been deleted"
    }
    missing = await client.get("/v4/domains/a.example")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Domain not found: a.example"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "name"),
        ({"name": "not a domain"}, "name"),
        ({"name": "x.example", "dkim_key_size": "512"}, "dkim_key_size"),
        ({"name": "x.example", "spam_action": "explode"}, "spam_action"),
    ],
)
async def test_create_rejects_bad_input(client: httpx.AsyncClient, data: dict, field: str) -> None:
    response = await client.post("/v4/domains", data=data)
    assert response.status_code == 400
    assert field in response.json()["message"]


async def test_duplicate_domain_is_400(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v4/domains", data={"name": "dup.example"})).status_code == 200
    again = await client.post("/v4/domains", data={"name": "dup.example"})
    assert again.status_code == 400
    assert "already exists" in again.json()["message"]


async def test_verify_looks_records_up_for_real(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    created = (await client.post("/v4/domains", data={"name": "verify.example"})).json()
    with LoopbackDNS("verify.example. 300 IN A 192.0.2.1") as dns:
        runtime.services.resolver = Resolver(dns.address, timeout=1.0)
        before = (await client.put("/v4/domains/verify.example/verify")).json()
        assert before["domain"]["state"] == "unverified"
        assert {r["valid"] for r in before["sending_dns_records"]} == {"invalid"}

        for record in created["sending_dns_records"] + created["receiving_dns_records"]:
            kind, name, value = record["record_type"], record["name"], record["value"]
            if kind == "TXT":
                dns.add(f'{name}. 300 IN TXT "{value}"')
            elif kind == "MX":
                dns.add(f"{name}. 300 IN MX {record['priority']} {value}.")
            else:
                dns.add(f"{name}. 300 IN CNAME {value}.")
        after = (await client.put("/v3/domains/verify.example/verify")).json()
    assert after["domain"]["state"] == "active"
    assert {r["valid"] for r in after["sending_dns_records"]} == {"valid"}
    assert {r["valid"] for r in after["receiving_dns_records"]} == {"valid"}
    spf = next(r for r in after["sending_dns_records"] if r["name"] == "verify.example")
    assert spf["cached"] == [spf["value"]]


async def test_connection_settings(client: httpx.AsyncClient, sandbox: str) -> None:
    url = f"/v3/domains/{sandbox}/connection"
    assert (await client.get(url)).json() == {
        "connection": {"require_tls": False, "skip_verification": False}
    }
    changed = await client.put(url, data={"require_tls": "true"})
    assert changed.status_code == 200
    assert changed.json()["require_tls"] is True
    assert (await client.get(url)).json()["connection"]["require_tls"] is True
    bad = await client.put(url, data={"skip_verification": "maybe"})
    assert bad.status_code == 400
    assert "skip_verification" in bad.json()["message"]


async def test_update_changes_only_the_fields_given(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await client.post("/v4/domains", data={"name": "upd.example"})
    changed = await client.put(
        "/v4/domains/upd.example",
        data={
            "spam_action": "block",
            "wildcard": "true",
            "web_scheme": "https",
            "web_prefix": "Track",
            "require_tls": "yes",
        },
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["message"] == "Domain has been updated"
    domain = body["domain"]
    assert (domain["spam_action"], domain["wildcard"], domain["web_scheme"]) == (
        "block",
        True,
        "https",
    )
    assert (domain["web_prefix"], domain["require_tls"], domain["skip_verification"]) == (
        "track",
        True,
        False,
    )
    cnames = [r["name"] for r in body["sending_dns_records"] if r["record_type"] == "CNAME"]
    assert cnames == ["track.upd.example"]  # the tracking record follows the prefix
    # The v3 path, and a field left out keeps its value.
    again = await client.put("/v3/domains/upd.example", data={"spam_action": "tag"})
    assert again.status_code == 200
    fetched = (await client.get("/v4/domains/upd.example")).json()["domain"]
    assert (fetched["spam_action"], fetched["web_scheme"], fetched["wildcard"]) == (
        "tag",
        "https",
        True,
    )
    # Signing and tracking read the cached domain: it was forgotten, so it is fresh.
    cached = await runtime.services.domains.get("upd.example")
    assert (cached.web_scheme, cached.web_prefix, cached.require_tls) == ("https", "track", True)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"spam_action": "delete"}, "spam_action"),
        ({"web_scheme": "ftp"}, "web_scheme"),
        ({"web_prefix": "not a label"}, "web_prefix"),
        ({"wildcard": "sometimes"}, "wildcard"),
        ({"require_tls": "2"}, "require_tls"),
        ({"mailfrom_host": "bounce.upd.example"}, "mailfrom_host"),
        ({"smtp_password": "abc"}, "password"),
    ],
)
async def test_update_rejects_bad_input(client: httpx.AsyncClient, data: dict, field: str) -> None:
    await client.post("/v4/domains", data={"name": "upd.example"})
    before = (await client.get("/v4/domains/upd.example")).json()["domain"]
    response = await client.put("/v4/domains/upd.example", data={"wildcard": "true", **data})
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert (await client.get("/v4/domains/upd.example")).json()["domain"] == before


async def test_update_sets_the_postmaster_password(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await client.post("/v4/domains", data={"name": "upd.example"})
    verify = runtime.services.credentials.verify
    login = "postmaster@upd.example"
    assert (await client.put("/v4/domains/upd.example", data={"smtp_password": "first-pw"})).json()
    assert await verify(login, "first-pw") is not None
    changed = await client.put("/v3/domains/upd.example", data={"smtp_password": "second-pw"})
    assert changed.status_code == 200
    assert await verify(login, "first-pw") is None
    assert await verify(login, "second-pw") is not None
    listed = (await client.get("/v3/domains/upd.example/credentials")).json()
    assert [i["login"] for i in listed["items"]] == [login]


async def test_web_prefix_and_unknown_domains(client: httpx.AsyncClient) -> None:
    await client.post("/v4/domains", data={"name": "upd.example"})
    url = "/v3/domains/upd.example/web_prefix"
    assert (await client.put(url, params={"web_prefix": "links"})).json() == {
        "message": "Domain web prefix updated"
    }
    assert (await client.get("/v4/domains/upd.example")).json()["domain"]["web_prefix"] == "links"
    for data in ({}, {"web_prefix": "-bad"}):
        bad = await client.put(url, data=data)
        assert bad.status_code == 400
        assert "web_prefix" in bad.json()["message"]
    for method, path in (
        ("PUT", "/v4/domains/none.example"),
        ("PUT", "/v3/domains/none.example/web_prefix?web_prefix=x"),
        ("GET", "/v3/domains/none.example/sending_queues"),
    ):
        assert (await client.request(method, path)).status_code == 404
