"""Mailgun's SMTP credentials API on SQLite and PostgreSQL: create, list, change, delete."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from mailwright.auth import CredentialCache
from mailwright.store import Store, schema


async def test_credentials_crud(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/domains/{sandbox}/credentials"
    assert (await client.get(base)).json() == {"total_count": 0, "items": []}

    created = await client.post(base, data={"login": "alice", "password": "s3cret-pw"})
    assert created.status_code == 200, created.text
    assert created.json() == {"message": "Created 1 credentials pair(s)"}
    full = await client.post(base, data={"login": f"Bob@{sandbox}", "password": "another"})
    assert full.status_code == 200, full.text

    listed = (await client.get(base)).json()
    assert listed["total_count"] == 2
    assert [item["login"] for item in listed["items"]] == [f"alice@{sandbox}", f"bob@{sandbox}"]
    item = listed["items"][0]
    assert item["mailbox"] == f"alice@{sandbox}"
    assert set(item) == {"login", "mailbox", "size_bytes", "created_at"}
    assert item["created_at"].endswith("GMT")
    page = (await client.get(base, params={"skip": "1", "limit": "1"})).json()
    assert page["total_count"] == 2
    assert [i["login"] for i in page["items"]] == [f"bob@{sandbox}"]

    changed = await client.put(f"{base}/alice", data={"password": "changed-pw"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"message": "Password changed"}
    by_address = await client.put(f"{base}/alice@{sandbox}", data={"password": "again-pw"})
    assert by_address.status_code == 200

    deleted = await client.delete(f"{base}/alice@{sandbox}")
    assert deleted.json() == {
        "message": "Credentials have been deleted",
        "spec": f"alice@{sandbox}",
    }
    assert (await client.delete(f"{base}/alice")).status_code == 404
    assert (await client.put(f"{base}/alice", data={"password": "whatever"})).status_code == 404

    everything = await client.delete(base)
    assert everything.status_code == 200
    assert everything.json()["count"] == 1
    assert (await client.get(base)).json()["total_count"] == 0


async def test_passwords_are_stored_as_salted_slow_hashes(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    base = f"/v3/domains/{sandbox}/credentials"
    for login in ("one", "two"):
        response = await client.post(base, data={"login": login, "password": "same-password"})
        assert response.status_code == 200
    async with store.read() as conn:
        rows = (await conn.execute(select(schema.smtp_credentials))).all()
    hashes = [row.password_hash for row in rows]
    assert all(h.startswith("scrypt$16384$8$1$") for h in hashes)
    assert hashes[0] != hashes[1]  # a salt per password
    assert not any("same-password" in h for h in hashes)

    cache = CredentialCache(store, lambda: 0.0)
    assert await cache.verify(f"one@{sandbox}", "same-password") is not None
    assert await cache.verify(f"ONE@{sandbox}", "same-password") is not None
    assert await cache.verify(f"one@{sandbox}", "wrong-password") is None
    assert await cache.verify(f"nobody@{sandbox}", "same-password") is None


@pytest.mark.parametrize(
    ("data", "field_text"),
    [
        ({"password": "s3cret"}, "'login' parameter is missing"),
        ({"login": "alice"}, "'password' parameter is missing"),
        ({"login": "alice", "password": "abcd"}, "between 5 and 32"),
        ({"login": "alice", "password": "x" * 33}, "between 5 and 32"),
        ({"login": "alice@other.example", "password": "s3cret"}, "must be an address at"),
        ({"login": "al ice", "password": "s3cret"}, "not a valid mailbox"),
    ],
)
async def test_create_refuses_bad_input(
    client: httpx.AsyncClient, sandbox: str, data: dict[str, str], field_text: str
) -> None:
    response = await client.post(f"/v3/domains/{sandbox}/credentials", data=data)
    assert response.status_code == 400
    assert field_text in response.json()["message"]


async def test_duplicate_login_and_unknown_domain(client: httpx.AsyncClient, sandbox: str) -> None:
    base = f"/v3/domains/{sandbox}/credentials"
    assert (await client.post(base, data={"login": "a", "password": "12345"})).status_code == 200
    again = await client.post(base, data={"login": "a", "password": "12345"})
    assert again.status_code == 400
    assert "already exist" in again.json()["message"]

    missing = "/v3/domains/missing.example/credentials"
    for response in (
        await client.get(missing),
        await client.post(missing, data={"login": "a", "password": "12345"}),
        await client.put(missing + "/a", data={"password": "12345"}),
        await client.delete(missing + "/a"),
        await client.delete(missing),
    ):
        assert response.status_code == 404
        assert response.json() == {"message": "Domain not found: missing.example"}


async def test_domain_sending_keys_cannot_manage_credentials(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    created = await client.post(
        "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": sandbox}
    )
    auth = ("api", created.json()["key"]["secret"])
    base = f"/v3/domains/{sandbox}/credentials"
    assert (await client.get(base, auth=auth)).status_code == 403
    refused = await client.post(base, data={"login": "a", "password": "12345"}, auth=auth)
    assert refused.status_code == 403
    assert (await client.delete(base, auth=auth)).status_code == 403
    basic = await client.post("/v1/keys", data={"role": "basic"})
    read_only = ("api", basic.json()["key"]["secret"])
    assert (await client.get(base, auth=read_only)).status_code == 200
    denied = await client.post(base, data={"login": "a", "password": "12345"}, auth=read_only)
    assert denied.status_code == 403


async def test_domain_smtp_password_creates_postmaster(client: httpx.AsyncClient) -> None:
    short = await client.post("/v4/domains", data={"name": "mg.example.com", "smtp_password": "x"})
    assert short.status_code == 400
    assert (await client.get("/v4/domains/mg.example.com")).status_code == 404

    created = await client.post(
        "/v4/domains", data={"name": "mg.example.com", "smtp_password": "postmaster-pw"}
    )
    assert created.status_code == 200, created.text
    assert created.json()["domain"]["smtp_login"] == "postmaster@mg.example.com"
    listed = (await client.get("/v3/domains/mg.example.com/credentials")).json()
    assert [i["login"] for i in listed["items"]] == ["postmaster@mg.example.com"]

    assert (await client.delete("/v3/domains/mg.example.com")).status_code == 200
    again = await client.post("/v4/domains", data={"name": "mg.example.com"})
    assert again.status_code == 200
    listed = (await client.get("/v3/domains/mg.example.com/credentials")).json()
    assert listed["total_count"] == 0  # deleting the domain deleted its logins
