"""The Events API: Mailgun's filters and expressions, time order, and paging to the end."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.wait import wait_until


async def send(client: httpx.AsyncClient, domain: str, to: str, **extra: str) -> str:
    data = {"from": f"Shop <shop@{domain}>", "to": to, "subject": "Order", "text": "x"} | extra
    response = await client.post(f"/v3/{domain}/messages", data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])[1:-1]


async def delivered_count(client: httpx.AsyncClient, domain: str, n: int) -> None:
    async def probe() -> bool:
        page = await client.get(f"/v3/{domain}/events", params={"event": "delivered"})
        return len(page.json()["items"]) >= n

    await wait_until(probe)


async def all_pages(client: httpx.AsyncClient, url: str, params: dict) -> list[dict]:
    items: list[dict] = []
    page = (await client.get(url, params=params)).json()
    while page["items"]:
        items.extend(page["items"])
        page = (await client.get(page["paging"]["next"])).json()
    return items


async def test_paging_follows_next_until_empty(client: httpx.AsyncClient, sandbox: str) -> None:
    for i in range(5):
        await send(client, sandbox, f"user{i}@example.com")
    await delivered_count(client, sandbox, 5)
    items = await all_pages(client, f"/v3/{sandbox}/events", {"limit": 3})
    assert len(items) == 10
    assert len({e["id"] for e in items}) == 10
    stamps = [e["timestamp"] for e in items]
    assert stamps == sorted(stamps, reverse=True)
    ascending = await all_pages(client, f"/v3/{sandbox}/events", {"limit": 4, "ascending": "yes"})
    assert [e["id"] for e in ascending] == [e["id"] for e in reversed(items)]
    first = (await client.get(f"/v3/{sandbox}/events", params={"limit": 3})).json()
    assert first["paging"]["next"].startswith(f"http://testserver/v3/{sandbox}/events/")
    last = (await client.get(first["paging"]["last"])).json()["items"]
    assert [e["id"] for e in last] == [e["id"] for e in items[-3:]]
    second = (await client.get(first["paging"]["next"])).json()
    previous = (await client.get(second["paging"]["previous"])).json()["items"]
    assert [e["id"] for e in previous] == [e["id"] for e in first["items"]]


async def test_page_parameter_on_the_base_url(client: httpx.AsyncClient, sandbox: str) -> None:
    """mailgun-python's stream() copies the next URL's query onto the base URL."""
    for i in range(3):
        await send(client, sandbox, f"user{i}@example.com")
    await delivered_count(client, sandbox, 3)
    url = f"/v3/{sandbox}/events"
    params = {"limit": "2", "event": "delivered"}
    seen: list[str] = []
    page = (await client.get(url, params=params)).json()
    while page["items"]:
        seen.extend(e["id"] for e in page["items"])
        token = httpx.URL(page["paging"]["next"]).params["page"]
        page = (await client.get(url, params=params | {"page": token})).json()
    assert len(seen) == len(set(seen)) == 3


async def test_filters_and_expressions(client: httpx.AsyncClient, sandbox: str) -> None:
    await send(client, sandbox, "alice@example.com", **{"o:tag": "welcome"})
    await send(client, sandbox, "bob@example.com", subject="Invoice 7", **{"o:tag": "billing"})
    mid = await send(client, sandbox, "carol@example.com", subject="Receipt")
    await delivered_count(client, sandbox, 3)
    url = f"/v3/{sandbox}/events"

    async def recipients(**params: str) -> list[str]:
        page = (await client.get(url, params={"event": "delivered"} | params)).json()
        return sorted(e["recipient"] for e in page["items"])

    assert await recipients(recipient="alice@example.com") == ["alice@example.com"]
    assert await recipients(recipient="alice@example.com OR bob@example.com") == [
        "alice@example.com",
        "bob@example.com",
    ]
    assert await recipients(recipient="NOT alice@example.com") == [
        "bob@example.com",
        "carol@example.com",
    ]
    assert await recipients(tags="billing") == ["bob@example.com"]
    assert await recipients(subject="invoice") == ["bob@example.com"]
    assert await recipients(**{"message-id": mid}) == ["carol@example.com"]
    assert await recipients(**{"from": "shop@"}) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    accepted = (await client.get(url, params={"event": "accepted OR delivered"})).json()
    assert len(accepted["items"]) == 6


async def test_time_bounds(client: httpx.AsyncClient, sandbox: str) -> None:
    await send(client, sandbox, "a@example.com")
    await delivered_count(client, sandbox, 1)
    future = time.time() + 3600
    empty = (await client.get(f"/v3/{sandbox}/events", params={"begin": str(future)})).json()
    assert empty["items"] == []
    rfc = "Thu, 01 Jan 2099 00:00:00 -0000"
    past = (
        await client.get(f"/v3/{sandbox}/events", params={"begin": rfc, "ascending": "no"})
    ).json()
    assert past["items"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "301"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"begin": "yesterday"}, "begin"),
        ({"ascending": "maybe"}, "ascending"),
        ({"recipient": "(a"}, "recipient"),
    ],
)
async def test_bad_queries_are_400(
    client: httpx.AsyncClient, sandbox: str, params: dict, field: str
) -> None:
    response = await client.get(f"/v3/{sandbox}/events", params=params)
    assert response.status_code == 400
    assert field in response.json()["message"]


async def test_bad_page_token_is_400(client: httpx.AsyncClient, sandbox: str) -> None:
    response = await client.get(f"/v3/{sandbox}/events/not-a-token")
    assert response.status_code == 400


async def test_unknown_domain_events_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v3/nowhere.example/events")).status_code == 404
