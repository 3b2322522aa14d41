"""The Logs API (``POST /v1/analytics/logs``): the body mailgun.js sends, log items in Mailgun's
shape, filters, time windows, token paging, who may read, and bad input as a 400."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import httpx
import pytest

from tests.integration.test_api_events import delivered_count, send

URL = "/v1/analytics/logs"


def sdk_date(moment: float) -> str:
    """mailgun.js ``prepareDate``: ``toUTCString().slice(0, 25) + " -0000"``."""
    return formatdate(moment, usegmt=True)[:25] + " -0000"


def window(**extra: Any) -> dict[str, Any]:
    now = time.time()
    return {"start": sdk_date(now - 3600), "end": sdk_date(now + 60)} | extra


def where(attribute: str, comparator: str, *values: str) -> dict[str, Any]:
    return {
        "attribute": attribute,
        "comparator": comparator,
        "values": [{"label": v, "value": v} for v in values],
    }


async def logs(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(URL, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def recipients(client: httpx.AsyncClient, *conditions: dict[str, Any], **extra: Any) -> list:
    body = window(events=["delivered"], filter={"AND": list(conditions)}) | extra
    return sorted(item["recipient"] for item in (await logs(client, body))["items"])


async def test_the_sdk_query_gets_mailgun_shaped_log_items(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await send(client, sandbox, "alice@example.com", **{"o:tag": "welcome", "v:order": "7"})
    await send(client, sandbox, "bob@example.com")
    await delivered_count(client, sandbox, 2)
    body = window(
        events=[],
        metric_events=[],
        filter={"AND": [where("domain", "=", sandbox)]},
        include_subaccounts=False,
        include_totals=True,
        pagination={"sort": "timestamp:desc", "limit": 100},
    )
    answer = await logs(client, body)
    assert answer["start"] == body["start"]
    assert answer["end"] == body["end"]
    items = answer["items"]
    assert sorted(i["event"] for i in items) == ["accepted", "accepted", "delivered", "delivered"]
    stamps = [i["timestamp"] for i in items]
    assert stamps == sorted(stamps, reverse=True)
    for item in items:
        assert item["domain"] == {"name": sandbox}
        assert item["account"]["id"]
        moment = datetime.fromisoformat(item["@timestamp"].replace("Z", "+00:00"))
        assert moment.tzinfo is not None
        assert abs(moment.timestamp() - item["timestamp"]) < 0.001
        assert isinstance(item["storage"]["url"], list)
        assert item["storage"]["url"][0].startswith(f"http://testserver/v3/domains/{sandbox}/")
        assert isinstance(item["user-variables"], str)
    alice = next(i for i in items if i["recipient"] == "alice@example.com")
    assert json.loads(alice["user-variables"]) == {"order": "7"}
    assert alice["tags"] == ["welcome"]
    assert answer["pagination"]["total"] == 4
    assert answer["aggregates"] == {
        "all": 4,
        "metrics": {"accepted_count": 2, "delivered_count": 2},
    }
    assert "next" not in answer["pagination"]  # everything fit on one page
    without = await logs(client, window())
    assert len(without["items"]) == 4
    assert "total" not in without["pagination"]


async def test_paging_follows_the_token_until_there_is_no_next(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    for i in range(5):
        await send(client, sandbox, f"user{i}@example.com")
    await delivered_count(client, sandbox, 5)
    body = window(pagination={"limit": 3})

    async def walk(query: dict[str, Any]) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        page = await logs(client, query)
        for _ in range(10):
            seen += page["items"]
            token = page["pagination"].get("next")
            if token is None:
                return seen
            paged = query["pagination"] | {"token": token}
            page = await logs(client, query | {"pagination": paged})
        raise AssertionError("paging did not end")

    items = await walk(body)
    assert len({i["id"] for i in items}) == len(items) == 10
    stamps = [i["timestamp"] for i in items]
    assert stamps == sorted(stamps, reverse=True)
    ascending = await walk(window(pagination={"limit": 4, "sort": "timestamp:asc"}))
    assert [i["id"] for i in ascending] == [i["id"] for i in reversed(items)]

    first = await logs(client, body)
    assert "previous" not in first["pagination"]
    token = first["pagination"]["next"]
    second = await logs(client, body | {"pagination": {"limit": 3, "token": token}})
    assert [i["id"] for i in second["items"]] == [i["id"] for i in items[3:6]]
    back = second["pagination"]["previous"]
    again = await logs(client, body | {"pagination": {"limit": 3, "token": back}})
    assert [i["id"] for i in again["items"]] == [i["id"] for i in first["items"]]
    last_token = first["pagination"]["last"]
    last = await logs(client, body | {"pagination": {"limit": 3, "token": last_token}})
    assert [i["id"] for i in last["items"]] == [i["id"] for i in items[-3:]]


async def test_filters(client: httpx.AsyncClient, sandbox: str) -> None:
    await send(client, sandbox, "alice@example.com", **{"o:tag": "welcome"})
    await send(client, sandbox, "bob@example.com", subject="Invoice 7", **{"o:tag": "billing"})
    mid = await send(client, sandbox, "carol@example.com", subject="Receipt")
    await delivered_count(client, sandbox, 3)
    everyone = ["alice@example.com", "bob@example.com", "carol@example.com"]

    assert await recipients(client) == everyone
    assert await recipients(client, where("recipient", "=", "alice@example.com")) == everyone[:1]
    either = where("recipient", "=", "alice@example.com", "Bob@Example.com")
    assert await recipients(client, either) == everyone[:2]
    assert await recipients(client, where("recipient", "!=", "alice@example.com")) == everyone[1:]
    assert await recipients(client, where("message-id", "=", f"<{mid}>")) == everyone[2:]
    assert await recipients(client, where("tag", "=", "billing")) == ["bob@example.com"]
    assert await recipients(client, where("tags", "not contains", "billing")) == [
        "alice@example.com",
        "carol@example.com",
    ]
    assert await recipients(client, where("subject", "contains", "invoice")) == ["bob@example.com"]
    both = (where("subject", "not contains", "invoice"), where("tag", "=", "welcome"))
    assert await recipients(client, *both) == ["alice@example.com"]
    assert await recipients(client, where("domain", "=", sandbox.upper())) == everyone
    assert await recipients(client, where("domain", "!=", sandbox)) == []
    assert await recipients(client, where("domain", "=", "elsewhere.example")) == []

    async def events(**body: Any) -> list[str]:
        return sorted({item["event"] for item in (await logs(client, window(**body)))["items"]})

    assert await events(events=["accepted"]) == ["accepted"]
    assert await events(metric_events=["delivered_smtp"]) == ["delivered"]
    assert await events(events=["accepted", "delivered"]) == ["accepted", "delivered"]
    assert await events(filter={"AND": [where("event", "!=", "accepted")]}) == ["delivered"]
    assert await events(events=["complained"]) == []


async def test_time_window(client: httpx.AsyncClient, sandbox: str) -> None:
    await send(client, sandbox, "a@example.com")
    await delivered_count(client, sandbox, 1)
    now = time.time()
    later = await logs(client, {"start": sdk_date(now + 3600), "end": sdk_date(now + 7200)})
    assert later["items"] == []
    earlier = await logs(client, {"start": sdk_date(now - 7200), "end": sdk_date(now - 3600)})
    assert earlier["items"] == []
    # No start: a day back from the end; no end (mailgun.js sends ""): now.
    default = await logs(client, {"end": ""})
    assert len(default["items"]) == 2
    assert abs(_epoch(default["end"]) - now) < 60
    assert _epoch(default["end"]) - _epoch(default["start"]) == 86400
    recent = await logs(client, {"duration": "1h"})
    assert len(recent["items"]) == 2
    assert _epoch(recent["end"]) - _epoch(recent["start"]) == 3600


def _epoch(rfc2822: str) -> float:
    return parsedate_to_datetime(rfc2822).timestamp()


async def test_domain_keys_are_refused_and_test_keys_see_test_mode_only(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await send(client, sandbox, "live@example.com")
    await send(client, sandbox, "test@example.com", **{"o:testmode": "yes"})
    await delivered_count(client, sandbox, 1)
    everything = await logs(client, window(events=["accepted"]))
    assert {i["recipient"] for i in everything["items"]} == {
        "live@example.com",
        "test@example.com",
    }

    async def key(**data: str) -> tuple[str, str]:
        created = await client.post("/v1/keys", data=data)
        assert created.status_code == 200, created.text
        return ("api", created.json()["key"]["secret"])

    sending = await key(role="sending", kind="domain", domain_name=sandbox)
    refused = await client.post(URL, json=window(), auth=sending)
    assert refused.status_code == 403
    assert "message" in refused.json()
    test = await key(role="admin", environment="test")
    seen = await client.post(URL, json=window(events=["accepted"]), auth=test)
    assert seen.status_code == 200, seen.text
    assert [i["recipient"] for i in seen.json()["items"]] == ["test@example.com"]
    assert (await client.post(URL, json=window(), auth=("api", "wrong"))).status_code == 401


def _token(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([1, 2], "body"),
        ({"start": "yesterday"}, "start"),
        ({"end": "Thu, 99 Foo 2026 00:00:00 -0000"}, "end"),
        ({"end": 1700000000}, "end"),
        ({"start": "99999999999999"}, "start"),
        (
            {"start": "Fri, 27 Nov 2026 00:00:00 -0000", "end": "Thu, 26 Nov 2026 00:00:00 -0000"},
            "start",
        ),
        ({"duration": "2 weeks"}, "duration"),
        ({"events": ["bogus"]}, "events"),
        ({"events": "delivered"}, "events"),
        ({"metric_events": ["webhook_failure"]}, "metric_events"),
        ({"include_totals": "yes"}, "include_totals"),
        ({"filter": []}, "filter"),
        ({"filter": {"AND": {}}}, "filter.AND"),
        ({"filter": {"AND": [where("ip", "=", "1.2.3.4")]}}, "filter.AND[0].attribute"),
        ({"filter": {"AND": [{"attribute": ["x"], "comparator": "="}]}}, "attribute"),
        ({"filter": {"AND": [where("domain", "~", "a")]}}, "filter.AND[0].comparator"),
        ({"filter": {"AND": [where("recipient", "contains", "a")]}}, "comparator"),
        ({"filter": {"AND": [where("subject", "=", "a")]}}, "comparator"),
        ({"filter": {"AND": [where("recipient", "=")]}}, "filter.AND[0].values"),
        ({"filter": {"AND": [where("subject", "contains", 'a"b')]}}, "values"),
        ({"pagination": {"limit": 0}}, "pagination.limit"),
        ({"pagination": {"limit": 101}}, "pagination.limit"),
        ({"pagination": {"limit": "10"}}, "pagination.limit"),
        ({"pagination": {"sort": "size:asc"}}, "pagination.sort"),
        ({"pagination": {"sort": ["timestamp:asc"]}}, "pagination.sort"),
        ({"pagination": {"token": "not-a-token"}}, "pagination.token"),
        ({"pagination": {"token": _token([[1e400, 1], 0])}}, "pagination.token"),
        ({"pagination": {"token": _token([[1.0, 2**64], 0])}}, "pagination.token"),
        ({"pagination": {"token": 7}}, "pagination.token"),
        ({"subject": "a\x00b"}, "body"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    client: httpx.AsyncClient, body: Any, field: str
) -> None:
    response = await client.post(URL, json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[" * 100_000, b"[]"])
async def test_a_body_that_is_not_json_is_a_400(client: httpx.AsyncClient, content: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    response = await client.post(URL, content=content, headers=headers)
    assert response.status_code == 400, response.text
    assert "body" in response.json()["message"]


async def test_an_empty_body_is_the_default_query(client: httpx.AsyncClient) -> None:
    response = await client.post(URL, content=b"", headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
