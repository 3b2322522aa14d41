"""The API keys page on SQLite and PostgreSQL: the list (never a secret), creating a key whose
secret is shown once and works against the API, and deleting it so it stops working."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from mailwright.app import Runtime
from tests.integration.web.conftest import Dashboard
from tests.integration.web.markup import row


@pytest.fixture
async def anonymous(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def create(dashboard: Dashboard, **fields: str) -> tuple[str, str, str]:
    """(key id, secret, the result page)."""
    response = await dashboard.post("/keys", {"role": "admin", **fields})
    assert response.status_code == 200, response.text
    secret = re.search(r"<pre data-secret>([^<]+)</pre>", response.text)
    key_id = re.search(r"Key id <code>([^<]+)</code>", response.text)
    assert secret
    assert key_id
    return key_id.group(1), secret.group(1), response.text


async def test_a_created_key_works_until_it_is_deleted(
    dashboard: Dashboard, anonymous: httpx.AsyncClient
) -> None:
    key_id, secret, _ = await create(dashboard, description="deploy bot")
    auth = ("api", secret)
    assert (await anonymous.get("/v4/domains", auth=auth)).status_code == 200

    listed = await dashboard.client.get("/keys")
    assert secret not in listed.text
    markup = row(listed.text, "data-key", key_id)
    assert "deploy bot" in markup
    assert "admin" in markup
    assert "never" not in markup.split("</td>")[6]  # last used: just now

    deleted = await dashboard.post(f"/keys/{key_id}/delete")
    assert deleted.status_code == 303
    assert (await anonymous.get("/v4/domains", auth=auth)).status_code == 401
    assert f'data-key="{key_id}"' not in (await dashboard.client.get("/keys")).text


async def test_domain_key_with_allowed_ips_and_expiry(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    key_id, _, page = await create(
        dashboard,
        role="sending",
        domain_name=sandbox,
        allowed_ips="203.0.113.0/24",
        expiration="86400",
    )
    markup = row(page, "data-key", key_id)
    assert sandbox in markup
    assert "203.0.113.0/24" in markup
    api = {k["id"]: k for k in (await client.get("/v1/keys")).json()["items"]}[key_id]
    assert api["kind"] == "domain"
    assert api["domain_name"] == sandbox
    assert api["role"] == "sending"
    assert api["expires_at"] is not None


async def test_bad_input_is_400_with_the_message(
    dashboard: Dashboard, client: httpx.AsyncClient
) -> None:
    before = (await client.get("/v1/keys")).json()["total_count"]
    bad_role = await dashboard.post("/keys", {"role": "root"})
    assert bad_role.status_code == 400
    assert "role must be one of" in bad_role.text
    bad_ips = await dashboard.post("/keys", {"role": "admin", "allowed_ips": "not-an-ip"})
    assert bad_ips.status_code == 400
    assert "must be IP addresses or CIDR ranges" in bad_ips.text
    bad_domain = await dashboard.post("/keys", {"role": "admin", "domain_name": "nope.example"})
    assert bad_domain.status_code == 404
    assert "Domain not found" in bad_domain.text
    assert "data-secret" not in bad_role.text + bad_ips.text + bad_domain.text
    assert (await client.get("/v1/keys")).json()["total_count"] == before
    assert (await dashboard.post("/keys/nope/delete")).status_code == 404


async def test_posts_without_csrf_token_are_403_and_change_nothing(
    dashboard: Dashboard, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    before = (await client.get("/v1/keys")).json()["total_count"]
    refused = await dashboard.client.post("/keys", data={"role": "admin"})
    assert refused.status_code == 403
    assert "data-secret" not in refused.text
    assert (await client.get("/v1/keys")).json()["total_count"] == before

    key_id, secret, _ = await create(dashboard)
    refused = await dashboard.client.post(f"/keys/{key_id}/delete")
    assert refused.status_code == 403
    assert (await anonymous.get("/v4/domains", auth=("api", secret))).status_code == 200
