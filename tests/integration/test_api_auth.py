"""Authentication and keys: hashed storage, 401s, domain sending keys limited to their domain."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from sqlalchemy import select

from mailwright.store import Store, schema
from tests.conftest import API_KEY

SEND = {"from": "me@example.com", "to": "a@example.com", "text": "x"}


@pytest.mark.parametrize("auth", [None, ("api", "wrong-key"), ("notapi", API_KEY), ("api", "")])
async def test_missing_or_wrong_credentials_are_401(
    client: httpx.AsyncClient, sandbox: str, auth: tuple[str, str] | None
) -> None:
    response = await client.get("/v4/domains", auth=auth)  # None sends no credentials
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid private key"}


async def test_keys_are_stored_hashed(client: httpx.AsyncClient, store: Store) -> None:
    created = (await client.post("/v1/keys", data={"role": "admin", "description": "ci"})).json()
    secret = created["key"]["secret"]
    async with store.read() as conn:
        hashes = [r[0] for r in await conn.execute(select(schema.api_keys.c.secret_hash))]
    assert hashlib.sha256(secret.encode()).hexdigest() in hashes
    assert secret not in hashes
    listing = (await client.get("/v1/keys")).json()
    assert listing["total_count"] == 2
    assert all("secret" not in item for item in listing["items"])
    ok = await client.get("/v4/domains", auth=("api", secret))
    assert ok.status_code == 200


async def test_deleted_key_stops_working(client: httpx.AsyncClient) -> None:
    created = (await client.post("/v1/keys", data={"role": "admin"})).json()["key"]
    assert (await client.get("/v4/domains", auth=("api", created["secret"]))).status_code == 200
    assert (await client.delete(f"/v1/keys/{created['id']}")).status_code == 200
    assert (await client.get("/v4/domains", auth=("api", created["secret"]))).status_code == 401
    assert (await client.delete(f"/v1/keys/{created['id']}")).status_code == 404


async def test_domain_key_sends_only_for_its_domain(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await client.post("/v4/domains", data={"name": "other.example"})
    created = await client.post(
        "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": sandbox}
    )
    assert created.status_code == 200, created.text
    auth = ("api", created.json()["key"]["secret"])
    own = await client.post(f"/v3/{sandbox}/messages", data=SEND, auth=auth)
    assert own.status_code == 200
    other = await client.post("/v3/other.example/messages", data=SEND, auth=auth)
    assert other.status_code == 403
    assert "message" in other.json()
    assert (await client.get("/v4/domains", auth=auth)).status_code == 403
    assert (await client.get(f"/v3/{sandbox}/events", auth=auth)).status_code == 403
    assert (await client.post("/v1/keys", data={"role": "admin"}, auth=auth)).status_code == 403


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "role"),
        ({"role": "emperor"}, "role"),
        ({"role": "sending", "kind": "domain"}, "domain_name"),
        ({"role": "admin", "expiration": "soon"}, "expiration"),
    ],
)
async def test_key_creation_validates(client: httpx.AsyncClient, data: dict, field: str) -> None:
    response = await client.post("/v1/keys", data=data)
    assert response.status_code == 400
    assert field in response.json()["message"]


async def test_expired_key_is_refused(client: httpx.AsyncClient, store: Store) -> None:
    created = (await client.post("/v1/keys", data={"role": "admin", "expiration": "0"})).json()
    response = await client.get("/v4/domains", auth=("api", created["key"]["secret"]))
    assert response.status_code == 401


async def test_health_needs_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", auth=None)
    assert response.json() == {"status": "ok"}


async def test_public_key_validates_addresses_and_nothing_else(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    made = await client.post("/v1/keys/public")
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["message"] == "The public key has been regenerated"
    secret = body["key"]
    assert secret.startswith("pubkey-")
    assert len(secret) == len("pubkey-") + 32
    public = ("api", secret)

    for method, path in (("GET", "/v4/address/validate"), ("POST", "/v4/address/validate")):
        params = {"address": "someone@example.com"}
        answer = await client.request(
            method,
            path,
            auth=public,
            params=params if method == "GET" else None,
            data=params if method == "POST" else None,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["address"] == "someone@example.com"
    refused = {"message": "The public key may only be used for address validation"}
    for method, path, data in (
        ("GET", "/v4/domains", None),
        ("GET", f"/v3/{sandbox}/events", None),
        ("POST", f"/v3/{sandbox}/messages", SEND),
        ("POST", "/v1/keys", {"role": "admin"}),
        ("POST", "/v1/keys/public", None),
        ("GET", "/v4/address/validate/bulk", None),
    ):
        response = await client.request(method, path, data=data, auth=public)
        assert response.status_code == 403, (path, response.text)
        assert response.json() == refused

    # stored hashed, not listed with the API keys
    async with store.read() as conn:
        hashes = [r[0] for r in await conn.execute(select(schema.api_keys.c.secret_hash))]
    assert hashlib.sha256(secret.encode()).hexdigest() in hashes
    listed = (await client.get("/v1/keys")).json()
    assert listed["total_count"] == 1
    assert {item["kind"] for item in listed["items"]} == {"user"}

    # regenerating replaces it: the old one stops working at once
    again = (await client.post("/v1/keys/public")).json()["key"]
    assert again != secret
    gone = await client.get(
        "/v4/address/validate", params={"address": "a@example.com"}, auth=public
    )
    assert gone.status_code == 401
    fresh = ("api", again)
    ok = await client.get("/v4/address/validate", params={"address": "a@example.com"}, auth=fresh)
    assert ok.status_code == 200, ok.text
    async with store.read() as conn:
        kinds = [r[0] for r in await conn.execute(select(schema.api_keys.c.kind))]
    assert kinds.count("public") == 1

    # only admin (or developer) keys may make it
    basic = (await client.post("/v1/keys", data={"role": "basic"})).json()["key"]["secret"]
    denied = await client.post("/v1/keys/public", auth=("api", basic))
    assert denied.status_code == 403
