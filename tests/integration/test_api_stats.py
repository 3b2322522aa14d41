"""Stats and tags through the API: counters follow the events that capture delivery, test mode and
suppressions produce; tags are listed, described and deleted; bad parameters are 400s."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.support.wait import wait_until

ALL = (
    "accepted",
    "delivered",
    "failed",
    "opened",
    "clicked",
    "unsubscribed",
    "complained",
    "stored",
)


async def send(client: httpx.AsyncClient, domain: str, to: str | list[str], **extra: Any) -> None:
    data = {"from": f"Shop <shop@{domain}>", "to": to, "subject": "Hi", "text": "x"} | extra
    response = await client.post(f"/v3/{domain}/messages", data=data)
    assert response.status_code == 200, response.text


async def settled(client: httpx.AsyncClient, domain: str, delivered: int, failed: int) -> None:
    async def probe() -> bool:
        params: dict[str, Any] = {"event": ["delivered", "failed"], "duration": "1d"}
        body = (await client.get(f"/v3/{domain}/stats/total", params=params)).json()
        done_delivered = sum(e["delivered"]["total"] for e in body["stats"])
        done_failed = sum(e["failed"]["permanent"]["total"] for e in body["stats"])
        return done_delivered >= delivered and done_failed >= failed

    await wait_until(probe)


def summed(stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Every bucket added up (a test may straddle an hour or a day)."""

    def add(a: Any, b: Any) -> Any:
        if isinstance(a, dict):
            return {k: add(a[k], b[k]) for k in a}
        return a + b

    total: dict[str, Any] = {}
    for entry in stats:
        body = {k: v for k, v in entry.items() if k != "time"}
        total = add(total, body) if total else body
    return total


async def get_stats(client: httpx.AsyncClient, url: str, **params: Any) -> dict[str, Any]:
    response = await client.get(url, params={"event": list(ALL), "duration": "1d"} | params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_stats_count_deliveries_test_mode_and_suppressions(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    for kind, address in (("bounces", "gone@example.com"), ("unsubscribes", "left@example.com")):
        added = await client.post(f"/v3/{sandbox}/{kind}", data={"address": address})
        assert added.status_code == 200, added.text
    await send(client, sandbox, "a@example.com", **{"o:tag": "Welcome"})
    await send(
        client, sandbox, ["b@example.com", "c@example.com"], **{"o:tag": ["welcome", "promo"]}
    )
    await send(client, sandbox, "d@example.com", **{"o:testmode": "yes"})
    await send(client, sandbox, "gone@example.com", **{"o:tag": "promo"})
    await send(client, sandbox, "left@example.com")
    await settled(client, sandbox, delivered=4, failed=2)

    body = await get_stats(client, f"/v3/{sandbox}/stats/total")
    assert body["resolution"] == "day"
    assert body["description"] == ""
    assert len(body["stats"]) == 2  # yesterday's bucket and today's, zeros included
    assert [e["time"] for e in body["stats"]] == [body["start"], body["end"]]
    assert body["end"].endswith(" 00:00:00 UTC")
    total = summed(body["stats"])
    assert total["accepted"] == {"incoming": 0, "outgoing": 6, "total": 6}
    assert total["delivered"] == {"smtp": 4, "http": 0, "optimized": 0, "total": 4}
    assert total["failed"]["permanent"] == {
        "suppress-bounce": 1,
        "suppress-unsubscribe": 1,
        "suppress-complaint": 0,
        "bounce": 0,
        "delayed-bounce": 0,
        "webhook": 0,
        "optimized": 0,
        "total": 2,
    }
    assert total["failed"]["temporary"] == {"espblock": 0, "total": 0}
    for event in ("opened", "clicked", "unsubscribed", "complained", "stored"):
        assert total[event] == {"total": 0}

    welcome = await get_stats(client, f"/v3/{sandbox}/tags/welcome/stats")
    assert welcome["tag"] == "welcome"
    total = summed(welcome["stats"])
    assert total["accepted"]["total"] == 3
    assert total["delivered"]["total"] == 3
    assert total["failed"]["permanent"]["total"] == 0
    promo = summed((await get_stats(client, f"/v3/{sandbox}/tags/PROMO/stats"))["stats"])
    assert promo["accepted"]["total"] == 3
    assert promo["delivered"]["total"] == 2
    assert promo["failed"]["permanent"]["suppress-bounce"] == 1


async def test_hour_resolution_puts_counts_in_the_current_hour(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await send(client, sandbox, "a@example.com")
    await settled(client, sandbox, delivered=1, failed=0)
    now = time.time()
    body = await get_stats(
        client, f"/v3/{sandbox}/stats/total", resolution="hour", duration="3h", end=str(now)
    )
    assert len(body["stats"]) == 4
    times = [e["time"] for e in body["stats"]]
    hour = time.strftime("%a, %d %b %Y %H:00:00 UTC", time.gmtime(now))
    assert times[-1] == hour
    # Both events happened within the last few seconds: the current hour, or the one before.
    assert sum(e["accepted"]["total"] for e in body["stats"][-2:]) == 1
    assert sum(e["accepted"]["total"] for e in body["stats"]) == 1
    only = await client.get(
        f"/v3/{sandbox}/stats/total", params={"event": "delivered", "duration": "2h"}
    )
    assert set(only.json()["stats"][0]) == {"time", "delivered"}


async def test_explicit_start_end_and_month_resolution(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    body = await get_stats(
        client,
        f"/v3/{sandbox}/stats/total",
        start="Tue, 14 Feb 2012 10:00:00 -0000",
        end="1333238400",  # 2012-04-01 00:00:00 UTC
        resolution="month",
        duration="",
    )
    assert body["start"] == "Wed, 01 Feb 2012 00:00:00 UTC"
    assert body["end"] == "Sun, 01 Apr 2012 00:00:00 UTC"
    assert [e["time"] for e in body["stats"]] == [
        "Wed, 01 Feb 2012 00:00:00 UTC",
        "Thu, 01 Mar 2012 00:00:00 UTC",
        "Sun, 01 Apr 2012 00:00:00 UTC",
    ]
    assert all(e["accepted"]["total"] == 0 for e in body["stats"])


async def test_account_total_sums_every_domain(client: httpx.AsyncClient, sandbox: str) -> None:
    created = await client.post(
        "/v4/domains", data={"name": "other.example", "dkim_key_size": "1024"}
    )
    assert created.status_code == 200, created.text
    await send(client, sandbox, "a@example.com")
    await send(client, "other.example", ["b@example.com", "c@example.com"])
    await settled(client, "other.example", delivered=2, failed=0)
    await settled(client, sandbox, delivered=1, failed=0)
    account = summed((await get_stats(client, "/v3/stats/total"))["stats"])
    assert account["accepted"]["outgoing"] == 3
    assert account["delivered"]["smtp"] == 3
    other = summed((await get_stats(client, "/v3/other.example/stats/total"))["stats"])
    assert other["accepted"]["outgoing"] == 2


async def test_concurrent_accepts_sum_in_group_commit(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    """Sends that share a group commit merge their increments into one row per key; the sum
    must still count every message and every recipient."""
    sends = [
        send(client, sandbox, [f"u{i}@example.com", f"v{i}@example.com"], **{"o:tag": "bulk"})
        for i in range(40)
    ]
    await asyncio.gather(*sends)
    body = await get_stats(client, f"/v3/{sandbox}/stats/total", event="accepted")
    assert summed(body["stats"])["accepted"]["outgoing"] == 80
    bulk = await get_stats(client, f"/v3/{sandbox}/tags/bulk/stats", event="accepted")
    assert summed(bulk["stats"])["accepted"]["outgoing"] == 80


async def test_tags_list_page_get_update_delete(client: httpx.AsyncClient, sandbox: str) -> None:
    names = ["alpha", "beta", "gamma", "delta", "epsilon"]
    for name in names:
        await send(client, sandbox, "a@example.com", **{"o:tag": name})
    base = f"/v3/{sandbox}/tags"

    seen: list[str] = []
    page = (await client.get(base, params={"limit": 2})).json()
    while page["items"]:
        assert len(page["items"]) <= 2
        seen.extend(item["tag"] for item in page["items"])
        assert page["paging"]["next"].startswith(f"http://testserver{base}?")
        page = (await client.get(page["paging"]["next"])).json()
    assert seen == sorted(names)
    last = (await client.get(base, params={"limit": 2, "page": "last"})).json()
    assert [i["tag"] for i in last["items"]] == ["epsilon", "gamma"]
    previous = (await client.get(last["paging"]["previous"])).json()
    assert [i["tag"] for i in previous["items"]] == ["beta", "delta"]
    prefixed = (await client.get(base, params={"prefix": "ga"})).json()
    assert [i["tag"] for i in prefixed["items"]] == ["gamma"]

    one = await client.get(f"{base}/Gamma")
    assert one.status_code == 200
    item = one.json()
    assert item["tag"] == "gamma"
    assert item["description"] == ""
    assert item["first-seen"].endswith(" +0000 UTC")
    assert item["first-seen"] <= item["last-seen"]

    put = await client.put(f"{base}/gamma", data={"description": "Spring campaign"})
    assert put.status_code == 200
    assert put.json() == {"message": "Tag updated"}
    assert (await client.get(f"{base}/gamma")).json()["description"] == "Spring campaign"
    stats = await get_stats(client, f"{base}/gamma/stats")
    assert stats["description"] == "Spring campaign"
    countries = await client.get(f"{base}/gamma/stats/aggregates/countries")
    assert countries.json() == {"tag": "gamma", "countries": {}}

    deleted = await client.delete(f"{base}/gamma")
    assert deleted.json() == {"message": "Tag deleted"}
    for gone in (
        await client.get(f"{base}/gamma"),
        await client.get(f"{base}/gamma/stats", params={"event": "accepted"}),
        await client.put(f"{base}/gamma", data={"description": "x"}),
        await client.delete(f"{base}/gamma"),
    ):
        assert gone.status_code == 404
        assert gone.json() == {"message": "tag not found"}
    listed = (await client.get(base)).json()["items"]
    assert "gamma" not in [i["tag"] for i in listed]

    # Using the tag again creates it afresh: its old counters went with it.
    await send(client, sandbox, "a@example.com", **{"o:tag": "gamma"})
    again = await get_stats(client, f"{base}/gamma/stats", event="accepted")
    assert summed(again["stats"])["accepted"]["total"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "event"),
        ({"event": "bounced"}, "event"),
        ({"event": "accepted", "resolution": "week"}, "resolution"),
        ({"event": "accepted", "duration": "7x"}, "duration"),
        ({"event": "accepted", "duration": "99999999d"}, "duration"),
        ({"event": "accepted", "start": "yesterday"}, "start"),
        ({"event": "accepted", "end": "1e400"}, "end"),
        ({"event": "accepted", "end": "99999999999999"}, "end"),
        ({"event": "accepted", "start": "1700000000", "end": "1600000000"}, "start"),
        ({"event": "accepted", "start": "0", "resolution": "hour"}, "resolution"),
    ],
)
async def test_bad_stats_parameters_are_400(
    client: httpx.AsyncClient, sandbox: str, params: dict[str, str], field: str
) -> None:
    for url in (f"/v3/{sandbox}/stats/total", "/v3/stats/total"):
        response = await client.get(url, params=params)
        assert response.status_code == 400, response.text
        assert field in response.json()["message"]


async def test_missing_event_is_mailguns_message(client: httpx.AsyncClient, sandbox: str) -> None:
    response = await client.get(f"/v3/{sandbox}/stats/total")
    assert response.json() == {
        "message": "please provide at least one event: Missing mandatory parameter: event"
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"), ({"page": "middle"}, "page")],
)
async def test_bad_tag_list_parameters_are_400(
    client: httpx.AsyncClient, sandbox: str, params: dict[str, str], field: str
) -> None:
    response = await client.get(f"/v3/{sandbox}/tags", params=params)
    assert response.status_code == 400
    assert field in response.json()["message"]


async def test_tag_update_needs_a_description(client: httpx.AsyncClient, sandbox: str) -> None:
    await send(client, sandbox, "a@example.com", **{"o:tag": "t"})
    response = await client.put(f"/v3/{sandbox}/tags/t", data={})
    assert response.status_code == 400
    assert "description" in response.json()["message"]


async def test_unknown_domain_is_404(client: httpx.AsyncClient) -> None:
    for url in ("/v3/nowhere.example/stats/total", "/v3/nowhere.example/tags"):
        assert (await client.get(url, params={"event": "accepted"})).status_code == 404
