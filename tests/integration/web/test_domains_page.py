"""The domains pages on SQLite and PostgreSQL: the list, adding a domain, its DNS records and
a live check against a real DNS server on loopback."""

from __future__ import annotations

import html

import httpx

from mailwright.app import Runtime
from mailwright.resolver import Resolver
from tests.integration.web.conftest import Dashboard
from tests.integration.web.markup import attribute_of, row, rows
from tests.support.dns import LoopbackDNS

NAME = "page.example"


async def add(dashboard: Dashboard, name: str = NAME) -> httpx.Response:
    return await dashboard.post("/domains", {"name": name, "dkim_key_size": "1024"})


def publish(dns: LoopbackDNS, records: list[dict]) -> None:
    for record in records:
        kind, name, value = record["record_type"], record["name"], record["value"]
        if kind == "TXT":
            dns.add(f'{name}. 300 IN TXT "{value}"')
        elif kind == "MX":
            dns.add(f"{name}. 300 IN MX {record['priority']} {value}.")
        else:
            dns.add(f"{name}. 300 IN CNAME {value}.")


async def test_list_and_add(dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str) -> None:
    listed = await dashboard.client.get("/domains")
    assert listed.status_code == 200
    assert "active" in row(listed.text, "data-domain", sandbox)

    added = await add(dashboard)
    assert added.status_code == 303
    assert added.headers["location"] == f"/domains/{NAME}"
    assert (await client.get(f"/v4/domains/{NAME}")).status_code == 200
    listed = await dashboard.client.get("/domains")
    assert "unverified" in row(listed.text, "data-domain", NAME)


async def test_bad_and_duplicate_names_are_400_with_the_message(dashboard: Dashboard) -> None:
    bad = await add(dashboard, "not a domain")
    assert bad.status_code == 400
    assert "is not a valid domain name" in html.unescape(bad.text)
    assert (await add(dashboard)).status_code == 303
    again = await add(dashboard)
    assert again.status_code == 400
    assert f"Domain {NAME} already exists" in again.text


async def test_the_page_lists_the_records_the_api_returns(
    dashboard: Dashboard, client: httpx.AsyncClient
) -> None:
    await add(dashboard)
    api = (await client.get(f"/v4/domains/{NAME}")).json()
    records = api["sending_dns_records"] + api["receiving_dns_records"]
    assert {r["record_type"] for r in records} == {"TXT", "CNAME", "MX"}
    page = await dashboard.client.get(f"/domains/{NAME}")
    assert page.status_code == 200
    assert len(rows(page.text, "data-record")) == len(records)
    for record in records:
        markup = row(page.text, "data-record", f"{record['record_type']} {record['name']}")
        assert html.escape(record["value"]) in markup
        assert "not checked" in markup


async def test_verify_now_looks_the_records_up_live(
    dashboard: Dashboard, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await add(dashboard)
    api = (await client.get(f"/v4/domains/{NAME}")).json()
    records = api["sending_dns_records"] + api["receiving_dns_records"]
    with LoopbackDNS(f"{NAME}. 300 IN A 192.0.2.1") as dns:
        runtime.services.resolver = Resolver(dns.address, timeout=1.0)
        before = await dashboard.post(f"/domains/{NAME}/verify")
        assert before.status_code == 200
        checked = rows(before.text, "data-record")
        assert {attribute_of(r, "data-valid") for r in checked} == {"invalid"}
        assert "nothing published" in checked[0]
        assert 'data-state="unverified"' in before.text

        publish(dns, records)
        after = await dashboard.post(f"/domains/{NAME}/verify")
    assert after.status_code == 200
    checked = rows(after.text, "data-record")
    assert len(checked) == len(records)
    assert {attribute_of(r, "data-valid") for r in checked} == {"valid"}
    spf = next(r for r in records if r["value"].startswith("v=spf1"))
    markup = row(after.text, "data-record", f"TXT {spf['name']}")
    assert markup.count(html.escape(spf["value"])) == 2  # expected and found
    assert 'data-state="active"' in after.text
    # the stored state, without a new lookup
    stored = await dashboard.client.get(f"/domains/{NAME}")
    assert 'data-state="active"' in stored.text
    assert (await client.get(f"/v4/domains/{NAME}")).json()["domain"]["state"] == "active"


async def test_unknown_domain_is_404(dashboard: Dashboard) -> None:
    assert (await dashboard.client.get("/domains/nope.example")).status_code == 404
    assert (await dashboard.post("/domains/nope.example/verify")).status_code == 404


async def test_post_without_csrf_token_is_403_and_adds_nothing(
    dashboard: Dashboard, client: httpx.AsyncClient
) -> None:
    refused = await dashboard.client.post("/domains", data={"name": NAME})
    assert refused.status_code == 403
    wrong = await dashboard.client.post("/domains", data={"name": NAME, "csrf_token": "x" * 32})
    assert wrong.status_code == 403
    assert (await client.get(f"/v4/domains/{NAME}")).status_code == 404


async def test_signed_out_is_sent_to_the_login_page(
    browser: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    for path in ("/domains", "/webhooks", "/templates", "/keys", f"/domains/{NAME}"):
        response = await browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")
    refused = await browser.post("/domains", data={"name": NAME})
    assert refused.status_code == 303
    assert (await client.get(f"/v4/domains/{NAME}")).status_code == 404
