"""Mailgun's domain-key endpoints (``/v1/dkim/keys``, ``/v4/domains/{name}/keys``) and the v3
``dkim_selector`` and ``dkim_authority`` settings, on SQLite and PostgreSQL. Signatures are
checked by dkimpy against the loopback DNS."""

from __future__ import annotations

import base64

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailwright.app import Runtime
from mailwright.domains import sign_message
from tests.integration.test_dkim_rotation import (
    MESSAGE,
    NAME,
    ROTATE,
    dns_server,  # noqa: F401  (fixture)
    publish,
    verify_all,
)
from tests.support.dns import LoopbackDNS

KEYS = f"/v4/domains/{NAME}/keys"


async def domain_keys(client: httpx.AsyncClient) -> dict[str, dict]:
    response = await client.get(KEYS)
    assert response.status_code == 200, response.text
    return {item["selector"]: item for item in response.json()["items"]}


async def signed_with(runtime: Runtime, dns: LoopbackDNS) -> tuple[bytes, list]:
    domain = await runtime.services.domains.get(NAME)
    signed = sign_message(MESSAGE, domain, runtime.store.keyring)
    return signed, verify_all(signed, dns)


async def test_create_activate_deactivate_and_delete_keys(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    [first] = (await domain_keys(client)).values()
    assert first["signing_domain"] == NAME
    assert first["dns_record"]["is_active"] is True
    assert first["dns_record"]["valid"] == "invalid"  # looked up: not published yet
    publish(dns_server, first["dns_record"])
    assert (await domain_keys(client))[first["selector"]]["dns_record"]["valid"] == "valid"

    created = await client.post(
        "/v1/dkim/keys", data={"signing_domain": NAME, "selector": "S2", "bits": "1024"}
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert (body["signing_domain"], body["selector"]) == (NAME, "s2")
    assert body["dns_record"]["name"] == f"s2._domainkey.{NAME}"
    assert body["dns_record"]["is_active"] is False
    assert body["dns_record"]["value"].startswith("k=rsa; p=MIGfMA0G")  # 1024 bits

    # Not published: activation is refused and the first key still signs.
    early = await client.put(f"{KEYS}/s2/activate")
    assert early.status_code == 400
    assert f"s2._domainkey.{NAME} is not published yet" in early.json()["message"]
    signed, checks = await signed_with(runtime, dns_server)
    assert f"s={first['selector']};".encode() in signed
    assert checks == [(b"rsa-sha256", True)]

    publish(dns_server, body["dns_record"])
    activated = await client.put(f"{KEYS}/s2/activate")
    assert activated.status_code == 200, activated.text
    assert activated.json() == {
        "active": True,
        "authority": NAME,
        "message": "domain key activated",
        "selector": "s2",
    }
    again = await client.put(f"{KEYS}/s2/activate")
    assert again.status_code == 200  # already active: not an error
    signed, checks = await signed_with(runtime, dns_server)
    assert b"s=s2;" in signed
    assert checks == [(b"rsa-sha256", True)]
    listed = await domain_keys(client)
    assert {s: k["dns_record"]["is_active"] for s, k in listed.items()} == {
        first["selector"]: False,  # retiring: published, no longer signing
        "s2": True,
    }

    # The key the domain signs with can be neither deactivated nor deleted on its own.
    refused = await client.put(f"{KEYS}/s2/deactivate")
    assert refused.status_code == 400
    assert "s2 is the RSA key" in refused.json()["message"]
    refused = await client.delete(
        "/v1/dkim/keys", params={"signing_domain": NAME, "selector": "s2"}
    )
    assert refused.status_code == 400

    # The retiring key: deactivated now, it leaves the list; then deleted.
    off = await client.put(f"{KEYS}/{first['selector']}/deactivate")
    assert off.status_code == 200, off.text
    assert off.json()["active"] is False
    assert list(await domain_keys(client)) == ["s2"]
    gone = await client.delete(
        "/v1/dkim/keys", params={"signing_domain": NAME, "selector": first["selector"]}
    )
    assert gone.json() == {"message": "success"}
    everything = (await client.get("/v1/dkim/keys", params={"signing_domain": NAME})).json()
    assert everything["items"] == [{"selector": "s2", "signing_domain": NAME}]
    missing = await client.put(f"{KEYS}/{first['selector']}/activate")
    assert missing.status_code == 404


async def test_an_imported_key_signs_once_published(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, as Mailgun documents
        serialization.NoEncryption(),
    )
    created = await client.post(
        "/v1/dkim/keys",
        data={"signing_domain": NAME, "selector": "imp"},
        files={"pem": ("key.pem", pem, "application/x-pem-file")},
    )
    assert created.status_code == 200, created.text
    record = created.json()["dns_record"]
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert record["value"] == "k=rsa; p=" + base64.b64encode(public).decode()
    publish(dns_server, record)
    assert (await client.put(f"{KEYS}/imp/activate")).status_code == 200
    signed, checks = await signed_with(runtime, dns_server)
    assert b"s=imp;" in signed
    assert checks == [(b"rsa-sha256", True)]


@pytest.mark.parametrize(
    ("data", "pem", "message"),
    [
        ({"selector": "a"}, None, "'signing_domain' parameter is missing"),
        ({"signing_domain": NAME}, None, "'selector' parameter is missing"),
        ({"signing_domain": NAME, "selector": "a", "bits": "512"}, None, "bits must be 1024"),
        ({"signing_domain": NAME, "selector": "bad selector"}, None, "Invalid DKIM selector"),
        ({"signing_domain": NAME, "selector": "a"}, b"not a key", "pem must be an unencrypted"),
        ({"signing_domain": NAME, "selector": "a"}, "ed25519", "pem must be an RSA private key"),
    ],
)
async def test_create_rejects_bad_input(
    client: httpx.AsyncClient,
    dns_server: LoopbackDNS,  # noqa: F811
    data: dict,
    pem: bytes | str | None,
    message: str,
) -> None:
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    if pem == "ed25519":
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    files = {"pem": ("key.pem", pem, "application/x-pem-file")} if pem else None
    response = await client.post("/v1/dkim/keys", data=data, files=files)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert len(await domain_keys(client)) == 1  # nothing stored


async def test_deactivating_an_ed25519_key_leaves_rsa_alone(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    [rsa_key] = (await domain_keys(client)).values()
    publish(dns_server, rsa_key["dns_record"])
    key = (await client.post(ROTATE, data={"algorithm": "ed25519", "selector": "ed1"})).json()
    publish(dns_server, key["key"]["dns_record"])
    assert (await client.put(f"{KEYS}/ed1/activate")).status_code == 200
    _, checks = await signed_with(runtime, dns_server)
    assert checks == [(b"ed25519-sha256", True), (b"rsa-sha256", True)]

    assert (await client.put(f"{KEYS}/ed1/deactivate")).status_code == 200
    signed, checks = await signed_with(runtime, dns_server)
    assert checks == [(b"rsa-sha256", True)]
    assert b"s=ed1;" not in signed


async def test_listing_every_key_pages_and_filters(
    client: httpx.AsyncClient,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    for name in ("a.example", "b.example", "c.example"):
        await client.post("/v4/domains", data={"name": name, "dkim_key_size": "1024"})
    first = (await client.get("/v1/dkim/keys", params={"limit": "2"})).json()
    domains = [item["signing_domain"] for item in first["items"]]
    assert domains[:2] == ["a.example", "b.example"]
    assert first["paging"]["next"].endswith("/v1/dkim/keys?limit=2&page=2")
    second = (await client.get("/v1/dkim/keys", params={"limit": "2", "page": "2"})).json()
    assert "c.example" in [item["signing_domain"] for item in second["items"]]
    only = (await client.get("/v1/dkim/keys", params={"signing_domain": "b.example"})).json()
    assert [item["signing_domain"] for item in only["items"]] == ["b.example"]
    # The Node SDK sends empty paging values on its first call.
    empty = await client.get("/v1/dkim/keys", params={"page": "", "limit": ""})
    assert empty.status_code == 200
    bad = await client.get("/v1/dkim/keys", params={"limit": "0"})
    assert bad.status_code == 400


async def test_renaming_the_selector_signs_under_the_new_name(
    client: httpx.AsyncClient,
    runtime: Runtime,
    dns_server: LoopbackDNS,  # noqa: F811
) -> None:
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    [before] = (await domain_keys(client)).values()
    url = f"/v3/domains/{NAME}/dkim_selector"
    renamed = await client.put(url, params={"dkim_selector": "Sel3"})  # as the Node SDK sends it
    assert renamed.status_code == 200, renamed.text
    records = {r["name"]: r for r in renamed.json()["sending_dns_records"]}
    moved = records[f"sel3._domainkey.{NAME}"]
    assert moved["value"] == before["dns_record"]["value"]  # the same key
    signed, checks = await signed_with(runtime, dns_server)
    assert b"s=sel3;" in signed
    assert checks == [(b"rsa-sha256", False)]  # not published under the new name yet
    publish(dns_server, moved)
    assert verify_all(signed, dns_server) == [(b"rsa-sha256", True)]
    assert list(await domain_keys(client)) == ["sel3"]

    for data, status in (({"dkim_selector": "bad label!"}, 400), ({}, 400)):
        response = await client.put(url, data=data)
        assert response.status_code == status
        assert "dkim_selector" in response.json()["message"]
    await client.post(ROTATE, data={"selector": "taken"})
    clash = await client.put(url, data={"dkim_selector": "taken"})
    assert clash.status_code == 400
    assert "already used" in clash.json()["message"]


async def test_dkim_authority(client: httpx.AsyncClient, dns_server: LoopbackDNS) -> None:  # noqa: F811
    await client.post("/v4/domains", data={"name": NAME, "dkim_key_size": "1024"})
    url = f"/v3/domains/{NAME}/dkim_authority"
    own = await client.put(url, params={"self": "true"})
    assert own.status_code == 200, own.text
    assert own.json()["changed"] is False
    assert any(r["name"].endswith(f"._domainkey.{NAME}") for r in own.json()["sending_dns_records"])
    for value in ("false", "maybe", ""):
        refused = await client.put(url, data={"self": value})
        assert refused.status_code == 400
        assert "'self'" in refused.json()["message"]
    missing = await client.put("/v3/domains/none.example/dkim_authority", data={"self": "true"})
    assert missing.status_code == 404
