"""Mailgun's /v1/analytics metrics and account tags through the API: figures follow the counters
that capture delivery, suppressions and test mode produce (the same ones the v3 stats read),
grouped by time, domain and tag; tags are listed across domains, described and deleted; bad
bodies are 400s naming the field; domain keys are refused as on the v3 stats."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.support.wait import wait_until

METRICS = "/v1/analytics/metrics"
TAGS = "/v1/analytics/tags"
OTHER = "other.example"


async def send(client: httpx.AsyncClient, domain: str, to: str | list[str], **extra: Any) -> None:
    data = {"from": f"Shop <shop@{domain}>", "to": to, "subject": "Hi", "text": "x"} | extra
    response = await client.post(f"/v3/{domain}/messages", data=data)
    assert response.status_code == 200, response.text


async def query(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(METRICS, json={"duration": "1d"} | body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def by_dimensions(body: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(d["value"] for d in i["dimensions"]): i["metrics"] for i in body["items"]}


async def settled(client: httpx.AsyncClient, delivered: int, failed: int) -> None:
    async def probe() -> bool:
        body = await query(client, metrics=["delivered_count", "permanent_failed_count"])
        done = body["aggregates"]["metrics"]
        return bool(
            done["delivered_count"] >= delivered and done["permanent_failed_count"] >= failed
        )

    await wait_until(probe)


@pytest.fixture
async def traffic(client: httpx.AsyncClient, sandbox: str) -> str:
    """Sandbox: 5 recipients (welcome x3, promo x3), one bounced and one unsubscribed address
    suppressed; other.example: 2 recipients tagged promo. 5 delivered, 2 failed."""
    created = await client.post("/v4/domains", data={"name": OTHER, "dkim_key_size": "1024"})
    assert created.status_code == 200, created.text
    for kind, address in (("bounces", "gone@example.com"), ("unsubscribes", "left@example.com")):
        added = await client.post(f"/v3/{sandbox}/{kind}", data={"address": address})
        assert added.status_code == 200, added.text
    await send(client, sandbox, "a@example.com", **{"o:tag": "Welcome"})
    await send(
        client, sandbox, ["b@example.com", "c@example.com"], **{"o:tag": ["welcome", "promo"]}
    )
    await send(client, sandbox, "gone@example.com", **{"o:tag": "promo"})
    await send(client, sandbox, "left@example.com")
    await send(client, OTHER, ["d@example.com", "e@example.com"], **{"o:tag": "promo"})
    await settled(client, delivered=5, failed=2)
    return sandbox


FIGURES = [
    "accepted_count",
    "accepted_outgoing_count",
    "delivered_count",
    "failed_count",
    "permanent_failed_count",
    "temporary_failed_count",
    "suppressed_bounces_count",
    "suppressed_unsubscribed_count",
    "bounced_count",
    "opened_count",
    "delivered_rate",
    "fail_rate",
    "opened_rate",
]


async def test_metrics_by_domain_match_the_events(client: httpx.AsyncClient, traffic: str) -> None:
    body = await query(client, dimensions=["domain"], metrics=FIGURES, include_aggregates=True)
    assert body["dimensions"] == ["domain"]
    assert body["resolution"] == "day"
    assert body["duration"] == "1d"
    assert body["start"].endswith(" 00:00:00 +0000")
    assert body["pagination"] == {"sort": "", "skip": 0, "limit": 1500, "total": 2}
    assert body["items"][0]["dimensions"] == [
        {"dimension": "domain", "value": OTHER, "display_value": OTHER}
    ]
    items = by_dimensions(body)
    assert items[(traffic,)] == {
        "accepted_count": 5,
        "accepted_outgoing_count": 5,
        "delivered_count": 3,
        "failed_count": 2,
        "permanent_failed_count": 2,
        "temporary_failed_count": 0,
        "suppressed_bounces_count": 1,
        "suppressed_unsubscribed_count": 1,
        "bounced_count": 0,  # permanent failures less suppressions
        "opened_count": 0,
        "delivered_rate": "60.00",
        "fail_rate": "40.00",
        "opened_rate": "0.00",
    }
    assert items[(OTHER,)]["accepted_count"] == 2
    assert items[(OTHER,)]["delivered_rate"] == "100.00"
    assert items[(OTHER,)]["failed_count"] == 0
    totals = body["aggregates"]["metrics"]
    assert totals["accepted_count"] == 7
    assert totals["delivered_count"] == 5
    assert totals["delivered_rate"] == "71.43"

    # The v3 account totals read the same counters.
    v3 = await client.get("/v3/stats/total", params={"event": ["accepted"], "duration": "1d"})
    assert sum(e["accepted"]["total"] for e in v3.json()["stats"]) == totals["accepted_count"]


async def test_metrics_by_tag_and_filters(client: httpx.AsyncClient, traffic: str) -> None:
    metrics = ["accepted_count", "delivered_count", "suppressed_bounces_count"]
    tags = by_dimensions(await query(client, dimensions=["tag"], metrics=metrics))
    assert tags == {
        ("promo",): {"accepted_count": 5, "delivered_count": 4, "suppressed_bounces_count": 1},
        ("welcome",): {"accepted_count": 3, "delivered_count": 3, "suppressed_bounces_count": 0},
    }
    on_sandbox = {
        "AND": [
            {
                "attribute": "domain",
                "comparator": "=",
                "values": [{"label": traffic, "value": traffic}],
            }
        ]
    }
    both = await query(client, dimensions=["domain", "tag"], metrics=metrics, filter=on_sandbox)
    assert by_dimensions(both) == {
        (traffic, "promo"): {
            "accepted_count": 3,
            "delivered_count": 2,
            "suppressed_bounces_count": 1,
        },
        (traffic, "welcome"): {
            "accepted_count": 3,
            "delivered_count": 3,
            "suppressed_bounces_count": 0,
        },
    }
    assert both["aggregates"]["metrics"]["accepted_count"] == 6  # per tag: b and c count twice

    promo = {"AND": [{"attribute": "tag", "comparator": "=", "values": [{"value": "PROMO"}]}]}
    per_domain = await query(client, dimensions=["domain"], metrics=metrics, filter=promo)
    assert {k: v["accepted_count"] for k, v in by_dimensions(per_domain).items()} == {
        (traffic,): 3,
        (OTHER,): 2,
    }
    not_other = {"AND": [{"attribute": "domain", "comparator": "!=", "values": [OTHER]}]}
    total = await query(client, metrics=["accepted_count"], filter=not_other)
    assert total["items"] == [{"dimensions": [], "metrics": {"accepted_count": 5}}]
    assert total["aggregates"]["metrics"] == {"accepted_count": 5}
    nowhere = {"AND": [{"attribute": "domain", "comparator": "=", "values": ["nowhere.example"]}]}
    empty = await query(client, dimensions=["domain"], metrics=["accepted_count"], filter=nowhere)
    assert empty["items"] == []
    assert empty["aggregates"]["metrics"] == {"accepted_count": 0}


async def test_metrics_sort_and_pages(client: httpx.AsyncClient, traffic: str) -> None:
    sort = {"sort": "accepted_count:desc", "skip": 1, "limit": 1}
    body = await query(client, dimensions=["domain"], metrics=["accepted_count"], pagination=sort)
    assert body["pagination"] == {"sort": "accepted_count:desc", "skip": 1, "limit": 1, "total": 2}
    assert by_dimensions(body) == {(OTHER,): {"accepted_count": 2}}
    by_name = await query(
        client, dimensions=["tag"], metrics=["accepted_count"], pagination={"sort": "tag:desc"}
    )
    assert [i["dimensions"][0]["value"] for i in by_name["items"]] == ["welcome", "promo"]


async def test_metrics_time_series(client: httpx.AsyncClient, traffic: str) -> None:
    body = await query(client, dimensions=["time"], metrics=["accepted_count"])
    # Yesterday's bucket and today's, zeros included, as the v3 stats answer.
    assert len(body["items"]) == 2
    times = [i["dimensions"][0]["value"] for i in body["items"]]
    assert times == [body["start"], body["end"]]
    assert sum(i["metrics"]["accepted_count"] for i in body["items"]) == 7

    now = time.time()
    hours = await query(
        client,
        dimensions=["time"],
        metrics=["accepted_count"],
        resolution="hour",
        duration="3h",
        end=time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(now)),
    )
    assert len(hours["items"]) == 4
    assert hours["items"][-1]["dimensions"][0]["value"] == time.strftime(
        "%a, %d %b %Y %H:00:00 +0000", time.gmtime(now)
    )
    # Everything happened within the last few seconds: this hour or the one before.
    assert sum(i["metrics"]["accepted_count"] for i in hours["items"][-2:]) == 7

    old = await query(
        client,
        dimensions=["time", "domain"],
        metrics=["accepted_count"],
        start="Tue, 14 Feb 2012 10:00:00 +0000",
        end="Thu, 01 Mar 2012 00:00:00 +0000",
        duration="",
        resolution="month",
    )
    assert old["start"] == "Wed, 01 Feb 2012 00:00:00 +0000"
    assert old["end"] == "Thu, 01 Mar 2012 00:00:00 +0000"
    assert old["items"] == []
    assert "duration" not in old


async def test_test_credentials_see_test_mode_counts_only(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await send(client, sandbox, "a@example.com")
    await send(client, sandbox, "b@example.com", **{"o:testmode": "yes"})
    created = await client.post("/v1/keys", data={"role": "admin", "environment": "test"})
    assert created.status_code == 200, created.text
    auth = ("api", created.json()["key"]["secret"])
    body = {"metrics": ["accepted_count"], "duration": "1d"}
    live = await client.post(METRICS, json=body)
    assert live.json()["aggregates"]["metrics"] == {"accepted_count": 2}
    test = await client.post(METRICS, json=body, auth=auth)
    assert test.json()["aggregates"]["metrics"] == {"accepted_count": 1}


async def test_domain_keys_and_read_only_keys(client: httpx.AsyncClient, sandbox: str) -> None:
    await send(client, sandbox, "a@example.com", **{"o:tag": "t"})
    domain_key = await client.post(
        "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": sandbox}
    )
    basic_key = await client.post("/v1/keys", data={"role": "basic"})
    scoped = ("api", domain_key.json()["key"]["secret"])
    basic = ("api", basic_key.json()["key"]["secret"])
    metrics = {"metrics": ["accepted_count"], "dimensions": ["domain"]}
    for request in (
        client.post(METRICS, json=metrics, auth=scoped),
        client.post(TAGS, json={}, auth=scoped),
        client.get(TAGS + "/limits", auth=scoped),
        client.put(TAGS, json={"tag": "t", "description": "d"}, auth=basic),
        client.request("DELETE", TAGS, json={"tag": "t"}, auth=basic),
    ):
        refused = await request
        assert refused.status_code == 403, refused.text
        assert "message" in refused.json()
    assert (await client.post(METRICS, json=metrics, auth=basic)).status_code == 200
    assert (await client.post(TAGS, json={}, auth=basic)).json()["items"][0]["tag"] == "t"


async def test_account_tags_list_describe_delete(client: httpx.AsyncClient, sandbox: str) -> None:
    created = await client.post("/v4/domains", data={"name": OTHER, "dkim_key_size": "1024"})
    assert created.status_code == 200, created.text
    await send(client, sandbox, "a@example.com", **{"o:tag": "Alpha"})
    await send(client, OTHER, ["b@example.com", "c@example.com"], **{"o:tag": ["alpha", "beta"]})
    await send(client, OTHER, "d@example.com", **{"o:tag": "gamma"})

    listed = await client.post(TAGS, json={"pagination": {"sort": "tag:asc", "limit": 2}})
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [i["tag"] for i in page["items"]] == ["alpha", "beta"]  # alpha once, two domains
    assert page["pagination"] == {"sort": "tag:asc", "skip": 0, "limit": 2, "total": 3}
    item = page["items"][0]
    assert set(item) == {
        "account_id",
        "parent_account_id",
        "tag",
        "description",
        "first_seen",
        "last_seen",
        "account_name",
    }
    assert item["first_seen"].endswith("Z")
    assert item["first_seen"] <= item["last_seen"]
    rest = await client.post(TAGS, json={"pagination": {"sort": "tag", "skip": 2}})
    assert [i["tag"] for i in rest.json()["items"]] == ["gamma"]
    newest = await client.post(TAGS, json={})
    assert newest.json()["pagination"]["sort"] == "lastseen:desc"
    assert newest.json()["items"][0]["tag"] == "gamma"
    prefixed = await client.post(TAGS, json={"tag": "AL"})
    assert [i["tag"] for i in prefixed.json()["items"]] == ["alpha"]

    with_metrics = await client.post(
        TAGS, json={"tag": "alpha", "include_metrics": True, "pagination": {"limit": 20}}
    )
    figures = with_metrics.json()["items"][0]["metrics"]
    assert figures["accepted_count"] == 3
    assert figures["delivered_rate"] == f"{100 * figures['delivered_count'] / 3:.2f}"

    limits = await client.get(TAGS + "/limits")
    assert limits.json() == {"limit": None, "count": 3, "limit_reached": False}

    put = await client.put(TAGS, json={"tag": "ALPHA", "description": "Spring"})
    assert put.status_code == 200, put.text
    assert put.json() == {"message": "Tag updated"}
    for domain in (sandbox, OTHER):
        assert (await client.get(f"/v3/{domain}/tags/alpha")).json()["description"] == "Spring"
    assert (await client.post(TAGS, json={"tag": "alpha"})).json()["items"][0][
        "description"
    ] == "Spring"

    # The Node SDK sends the DELETE body as JSON text labelled form-urlencoded.
    deleted = await client.request(
        "DELETE",
        TAGS,
        content=b'{"tag":"alpha"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"message": "Tag deleted"}
    for domain in (sandbox, OTHER):
        assert (await client.get(f"/v3/{domain}/tags/alpha")).status_code == 404
    assert (await client.get(f"/v3/{OTHER}/tags/beta")).status_code == 200
    assert (await client.get(TAGS + "/limits")).json()["count"] == 2
    for gone in (
        await client.request("DELETE", TAGS, json={"tag": "alpha"}),
        await client.put(TAGS, json={"tag": "alpha", "description": "x"}),
    ):
        assert gone.status_code == 404
        assert gone.json() == {"message": "tag not found"}
    by_query = await client.delete(TAGS, params={"tag": "beta"})
    assert by_query.status_code == 200
    assert [i["tag"] for i in (await client.post(TAGS, json={})).json()["items"]] == ["gamma"]


BAD_METRICS = [
    (b"{", "body"),
    (b"[1]", "body"),
    ({}, "metrics"),
    ({"metrics": []}, "metrics"),
    ({"metrics": "accepted_count"}, "metrics"),
    ({"metrics": ["bogus_count"]}, "bogus_count"),
    ({"metrics": ["unique_opened_count"]}, "unique_opened_count"),
    ({"metrics": ["accepted_count"], "dimensions": ["ip"]}, "'ip' is not supported"),
    ({"metrics": ["accepted_count"], "dimensions": ["planet"]}, "planet"),
    ({"metrics": ["accepted_count"], "resolution": "week"}, "resolution"),
    ({"metrics": ["accepted_count"], "start": "yesterday"}, "start"),
    ({"metrics": ["accepted_count"], "start": True}, "start"),
    ({"metrics": ["accepted_count"], "end": "Mon, 99 Foo 2020"}, "end"),
    ({"metrics": ["accepted_count"], "duration": "7x"}, "duration"),
    (
        {"metrics": ["accepted_count"], "start": "0", "resolution": "hour", "duration": ""},
        "resolution",
    ),
    ({"metrics": ["accepted_count"], "pagination": {"limit": 0}}, "limit"),
    ({"metrics": ["accepted_count"], "pagination": {"limit": 1501}}, "limit"),
    ({"metrics": ["accepted_count"], "pagination": {"limit": "10"}}, "limit"),
    ({"metrics": ["accepted_count"], "pagination": {"skip": -1}}, "skip"),
    ({"metrics": ["accepted_count"], "pagination": {"sort": "opened_count"}}, "sort"),
    ({"metrics": ["accepted_count"], "pagination": []}, "pagination"),
    ({"metrics": ["accepted_count"], "include_aggregates": "maybe"}, "include_aggregates"),
    ({"metrics": ["accepted_count"], "filter": {"OR": []}}, "filter"),
    ({"metrics": ["accepted_count"], "filter": {"AND": ["x"]}}, "filter"),
    (
        {
            "metrics": ["accepted_count"],
            "filter": {"AND": [{"attribute": "ip", "comparator": "=", "values": ["1.2.3.4"]}]},
        },
        "filter",
    ),
    (
        {
            "metrics": ["accepted_count"],
            "filter": {"AND": [{"attribute": "tag", "comparator": "~", "values": ["a"]}]},
        },
        "comparator",
    ),
    (
        {
            "metrics": ["accepted_count"],
            "filter": {"AND": [{"attribute": "tag", "comparator": "=", "values": ["a", "b"]}]},
        },
        "tag",
    ),
    ({"metrics": ["accepted_count"], "filter": {"AND": [{"attribute": "tag"}]}}, "filter"),
    ({"metrics": ["a\x00b"]}, "body"),
]


@pytest.mark.parametrize(("body", "named"), BAD_METRICS)
async def test_bad_metrics_queries_are_400(
    client: httpx.AsyncClient, body: dict[str, Any] | bytes, named: str
) -> None:
    if isinstance(body, bytes):
        response = await client.post(
            METRICS, content=body, headers={"Content-Type": "application/json"}
        )
    else:
        response = await client.post(METRICS, json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]


@pytest.mark.parametrize(
    ("method", "body", "named"),
    [
        ("POST", {"pagination": {"limit": 1001}}, "limit"),
        ("POST", {"include_metrics": True, "pagination": {"limit": 21}}, "limit"),
        ("POST", {"pagination": {"sort": "size:desc"}}, "sort"),
        ("POST", {"tag": 5}, "tag"),
        ("POST", {"include_metrics": "perhaps"}, "include_metrics"),
        ("PUT", {"description": "x"}, "tag"),
        ("PUT", {"tag": "t"}, "description"),
        ("PUT", {"tag": "t", "description": "x" * 1025}, "description"),
        ("DELETE", {}, "tag"),
    ],
)
async def test_bad_tag_requests_are_400(
    client: httpx.AsyncClient, sandbox: str, method: str, body: dict[str, Any], named: str
) -> None:
    await send(client, sandbox, "a@example.com", **{"o:tag": "t"})
    response = await client.request(method, TAGS, json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]
