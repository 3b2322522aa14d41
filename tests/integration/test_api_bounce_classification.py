"""Mailgun's bounce classification metrics through the API, on both stores: real deliveries to a
scripted SMTP sink (loopback DNS) leave delivered and failed events; the replies are classified
into bounce classes, Mailgun's categories and criticality, counted per dimension and time
bucket, filtered, paged; suppressed sends are left out; bad bodies are 400s naming the field."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailwright.store import Store
from tests.integration.test_delivery_mx import mx_settings, sandbox_of, send, serving
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink, tls_materials
from tests.support.wait import wait_until

URL = "/v2/bounce-classification/metrics"
OTHER = "other.example"
ZONE = """
rcpt.test. 300 IN MX 10 mx.example.test.
other.test. 300 IN MX 10 mx.example.test.
mx.example.test. 300 IN A 127.0.0.1
"""
REPLIES = {
    "gone": (550, "5.1.1 <gone@rcpt.test>: Recipient address rejected: User unknown"),
    "listed": (554, "5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org"),
    "grey": (451, "4.7.1 Greylisted, try again later"),
    "slow": (450, "4.7.0 Too many messages from you, rate limited"),
    "full": (452, "4.2.2 Mailbox full"),
}


def script(rcpt: str) -> tuple[int, str] | None:
    local = rcpt.split("@")[0]
    return next((reply for prefix, reply in REPLIES.items() if local.startswith(prefix)), None)


@pytest.fixture
def loopback_dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
async def client(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS
) -> AsyncIterator[httpx.AsyncClient]:
    with SmtpSink(tls_cert=tls_materials()[1], script=script) as sink:
        settings = mx_settings(tmp_path, database_url, loopback_dns, sink.port)
        async with serving(settings, store) as http:
            yield http


async def count_events(client: httpx.AsyncClient, domain: str, event: str) -> int:
    page = await client.get(f"/v3/{domain}/events", params={"event": event, "limit": 300})
    return len(page.json()["items"])


@pytest.fixture
async def traffic(client: httpx.AsyncClient) -> str:
    """The sandbox: 2 delivered (one tagged welcome), a user-unknown bounce (welcome), a
    blocklist bounce, a greylisting delay and a rate-limit delay (promo) to other.test, and a
    suppressed address. other.example: 1 delivered, a user-unknown bounce, a mailbox-full delay.
    """
    sandbox = await sandbox_of(client)
    created = await client.post("/v4/domains", data={"name": OTHER, "dkim_key_size": "1024"})
    assert created.status_code == 200, created.text
    added = await client.post(f"/v3/{sandbox}/bounces", data={"address": "sup@rcpt.test"})
    assert added.status_code == 200, added.text
    await send(client, sandbox, "a1@rcpt.test", **{"o:tag": "welcome"})
    await send(client, sandbox, "a2@rcpt.test")
    await send(client, sandbox, "gone1@rcpt.test", **{"o:tag": "welcome"})
    await send(client, sandbox, "listed1@rcpt.test")
    await send(client, sandbox, "grey1@other.test")
    await send(client, sandbox, "slow1@other.test", **{"o:tag": "promo"})
    await send(client, sandbox, "sup@rcpt.test")
    await send(client, OTHER, "b1@other.test")
    await send(client, OTHER, "gone2@other.test")
    await send(client, OTHER, "full1@rcpt.test")

    async def settled() -> bool:
        counts = [
            await count_events(client, sandbox, "delivered"),
            await count_events(client, sandbox, "failed"),
            await count_events(client, OTHER, "delivered"),
            await count_events(client, OTHER, "failed"),
        ]
        return counts == [2, 5, 1, 2]

    await wait_until(settled, within=20)
    return sandbox


async def query(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(URL, json={"duration": "24h0m0s"} | body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def by(body: dict[str, Any], *keys: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(item[k] for k in keys): item["metrics"] for item in body["items"]}


async def test_totals_and_rates_over_every_attempt(client: httpx.AsyncClient, traffic: str) -> None:
    body = await query(client)
    assert body["resolution"] == "day"
    assert body["duration"] == "24h0m0s"
    assert body["dimensions"] == []
    assert body["pagination"] == {"sort": "", "skip": 0, "limit": 10, "total": 1}
    [item] = body["items"]
    # Every key mailgun.js types an item with; the ones not grouped by are null.
    assert item["domain.name"] is None
    assert item["criticality"] is None
    assert item["sample-text"]
    # The suppressed send was never attempted: 9 attempts, 6 classified failures.
    assert item["metrics"] == {
        "critical_bounce_count": 1,
        "non_critical_bounce_count": 2,
        "critical_delay_count": 1,
        "non_critical_delay_count": 2,
        "classified_failures_count": 6,
        "delivered_smtp_count": 3,
        "critical_bounce_rate": 0.1111,
        "non_critical_bounce_rate": 0.2222,
        "critical_delay_rate": 0.1111,
        "non_critical_delay_rate": 0.2222,
    }


async def test_by_domain_entity_and_recipient_domain(
    client: httpx.AsyncClient, traffic: str
) -> None:
    metrics = ["critical_bounce_count", "classified_failures_count", "delivered_smtp_count"]
    domains = by(await query(client, dimensions=["domain.name"], metrics=metrics), "domain.name")
    assert domains == {
        (traffic,): {
            "critical_bounce_count": 1,
            "classified_failures_count": 4,
            "delivered_smtp_count": 2,
        },
        (OTHER,): {
            "critical_bounce_count": 0,
            "classified_failures_count": 2,
            "delivered_smtp_count": 1,
        },
    }
    body = await query(
        client,
        dimensions=["entity-name", "envelope.sending-ip", "recipient-domain"],
        metrics=["classified_failures_count", "delivered_smtp_count"],
    )
    # The MX host's registrable domain (no known mailbox provider answers on loopback).
    assert by(body, "entity-name", "recipient-domain") == {
        ("example.test", "other.test"): {"classified_failures_count": 3, "delivered_smtp_count": 1},
        ("example.test", "rcpt.test"): {"classified_failures_count": 3, "delivered_smtp_count": 2},
    }
    assert {item["envelope.sending-ip"] for item in body["items"]} == {"127.0.0.1"}


async def test_classification_dimensions(client: httpx.AsyncClient, traffic: str) -> None:
    body = await query(
        client,
        dimensions=["group-id", "category", "criticality", "severity", "explanation"],
        metrics=["classified_failures_count", "delivered_smtp_count", "critical_delay_rate"],
        pagination={"sort": "group-id:asc", "limit": 100},
    )
    found = {
        (i["group-id"], i["category"], i["criticality"], i["severity"]): i["metrics"]
        for i in body["items"]
    }
    assert {key: m["classified_failures_count"] for key, m in found.items()} == {
        ("InvalidRecipient", "recipient", "non-critical", "permanent"): 2,
        ("SpamBlock", "blocklist", "critical", "permanent"): 1,
        ("TransientFailure", "transient", "non-critical", "temporary"): 1,
        ("TransientFailure", "throttling", "critical", "temporary"): 1,
        ("QuotaIssues", "mailbox", "non-critical", "temporary"): 1,
    }
    # Delivered messages have no class: no delivered count per class, but the rates are
    # still shares of all 9 attempts.
    assert {m["delivered_smtp_count"] for m in found.values()} == {None}
    throttled = found[("TransientFailure", "throttling", "critical", "temporary")]
    assert throttled["critical_delay_rate"] == 0.1111
    assert [i["group-id"] for i in body["items"]][:2] == ["InvalidRecipient", "QuotaIssues"]
    blocked = next(i for i in body["items"] if i["group-id"] == "SpamBlock")
    assert "spamhaus" in blocked["sample-text"]
    assert blocked["explanation"] == "our IP or domain is on a blocklist or has a poor reputation"


async def test_filters(client: httpx.AsyncClient, traffic: str) -> None:
    def where(attribute: str, comparator: str, *values: str) -> dict[str, Any]:
        return {
            "attribute": attribute,
            "comparator": comparator,
            "values": [{"label": v, "value": v} for v in values],
        }

    critical = await query(
        client,
        dimensions=["recipient-domain"],
        metrics=["critical_bounce_count", "critical_delay_count", "critical_bounce_rate"],
        filter={"AND": [where("criticality", "=", "critical")]},
    )
    # The filter picks the failures counted; the rates stay shares of every attempt
    # (rcpt.test: 5 attempts, other.test: 4).
    assert by(critical, "recipient-domain") == {
        ("other.test",): {
            "critical_bounce_count": 0,
            "critical_delay_count": 1,
            "critical_bounce_rate": 0.0,
        },
        ("rcpt.test",): {
            "critical_bounce_count": 1,
            "critical_delay_count": 0,
            "critical_bounce_rate": 0.2,
        },
    }
    other = await query(
        client,
        metrics=["classified_failures_count", "delivered_smtp_count"],
        filter={"AND": [where("domain.name", "=", OTHER.upper())]},
    )
    assert other["items"][0]["metrics"] == {
        "classified_failures_count": 2,
        "delivered_smtp_count": 1,
    }
    not_recipient = await query(
        client,
        dimensions=["domain.name"],
        metrics=["classified_failures_count"],
        filter={
            "AND": [
                where("category", "!=", "recipient"),
                where("explanation", "not contains", "greylisting"),
            ]
        },
    )
    assert by(not_recipient, "domain.name") == {
        (traffic,): {"classified_failures_count": 2},
        (OTHER,): {"classified_failures_count": 1},
    }
    tagged = await query(
        client,
        dimensions=["tag"],
        metrics=["classified_failures_count", "delivered_smtp_count"],
        pagination={"sort": "tag:desc"},
    )
    assert by(tagged, "tag") == {
        ("welcome",): {"classified_failures_count": 1, "delivered_smtp_count": 1},
        ("promo",): {"classified_failures_count": 1, "delivered_smtp_count": 0},
        (None,): {"classified_failures_count": 4, "delivered_smtp_count": 2},
    }
    assert [i["tag"] for i in tagged["items"]] == ["welcome", "promo", None]
    promo = await query(
        client,
        dimensions=["tags"],
        metrics=["classified_failures_count"],
        filter={"AND": [where("tag", "contains", "prom")]},
    )
    assert by(promo, "tags") == {("promo",): {"classified_failures_count": 1}}
    nothing = await query(client, filter={"AND": [where("group-id", "=", "VirusRelated")]})
    assert nothing["items"] == []
    assert nothing["pagination"]["total"] == 0


async def test_time_buckets_and_pages(client: httpx.AsyncClient, traffic: str) -> None:
    now = time.time()
    end = time.strftime("%a, %d %b %Y %H:%M:%S -0000", time.gmtime(now))
    hours = await query(
        client,
        resolution="hour",
        duration="2h",
        end=end,
        dimensions=["timestamp"],
        metrics=["classified_failures_count"],
    )
    assert hours["resolution"] == "hour"
    assert hours["end"] == time.strftime("%a, %d %b %Y %H:00:00 +0000", time.gmtime(now))
    # Everything happened in the last seconds: this hour or the one before.
    assert 1 <= len(hours["items"]) <= 2
    assert {i["timestamp"] for i in hours["items"]} <= {
        time.strftime("%a, %d %b %Y %H:00:00 +0000", time.gmtime(t)) for t in (now - 3600, now)
    }
    assert sum(i["metrics"]["classified_failures_count"] for i in hours["items"]) == 6

    old = await query(
        client,
        start="Wed, 12 Nov 2025 23:00:00 UTC",
        end="Thu, 13 Nov 2025 23:00:00 UTC",
        duration="",
    )
    assert old["start"] == "Wed, 12 Nov 2025 00:00:00 +0000"
    assert old["end"] == "Thu, 13 Nov 2025 00:00:00 +0000"
    assert old["items"] == []
    assert "duration" not in old

    first = await query(
        client,
        dimensions=["group-id", "severity"],
        metrics=["classified_failures_count"],
        pagination={"sort": "classified_failures_count:desc", "skip": 0, "limit": 1},
    )
    assert first["pagination"] == {
        "sort": "classified_failures_count:desc",
        "skip": 0,
        "limit": 1,
        "total": 4,  # InvalidRecipient, SpamBlock, TransientFailure, QuotaIssues
    }
    assert [i["group-id"] for i in first["items"]] == ["InvalidRecipient"]
    rest = await query(
        client,
        dimensions=["group-id", "severity"],
        metrics=["classified_failures_count"],
        pagination={"sort": "classified_failures_count:desc", "skip": 1, "limit": 10},
    )
    assert len(rest["items"]) == 3


async def test_who_may_read(client: httpx.AsyncClient, traffic: str) -> None:
    created = await client.post("/v1/keys", data={"role": "admin", "environment": "test"})
    assert created.status_code == 200, created.text
    test_key = ("api", created.json()["key"]["secret"])
    seen = await client.post(URL, json={"duration": "1d"}, auth=test_key)
    assert seen.status_code == 200, seen.text
    assert seen.json()["items"] == []  # no test-mode events
    domain_key = await client.post(
        "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": traffic}
    )
    refused = await client.post(URL, json={}, auth=("api", domain_key.json()["key"]["secret"]))
    assert refused.status_code == 403, refused.text
    assert (await client.post(URL, json={}, auth=("api", "key-wrong"))).status_code == 401


BAD: list[tuple[dict[str, Any] | bytes, str]] = [
    (b"{not json", "body"),
    (b"[1, 2]", "body"),
    ({"metrics": ["bogus_count"]}, "bogus_count"),
    ({"metrics": "critical_bounce_count"}, "metrics"),
    ({"dimensions": ["planet"]}, "planet"),
    ({"dimensions": ["account.name"]}, "account.name"),
    ({"dimensions": ["envelope.i-ip-pool-name"]}, "pool"),
    ({"resolution": "month"}, "resolution"),
    ({"duration": "1w"}, "duration"),
    ({"duration": "99999999999d"}, "duration"),
    ({"start": "yesterday"}, "start"),
    ({"end": "Mon, 99 Foo 2020"}, "end"),
    ({"start": 5.5, "end": 1.5, "duration": ""}, "start"),
    ({"include_subaccounts": "maybe"}, "include_subaccounts"),
    ({"filter": {"OR": []}}, "filter"),
    ({"filter": {"AND": ["x"]}}, "filter"),
    (
        {"filter": {"AND": [{"attribute": "timestamp", "comparator": "=", "values": ["1"]}]}},
        "timestamp",
    ),
    ({"filter": {"AND": [{"attribute": "tag", "comparator": "~", "values": ["a"]}]}}, "comparator"),
    ({"filter": {"AND": [{"attribute": "tag", "comparator": "=", "values": []}]}}, "values"),
    ({"filter": {"AND": [{"attribute": "tag", "comparator": "=", "values": [5]}]}}, "value"),
    ({"pagination": {"limit": 0}}, "limit"),
    ({"pagination": {"limit": 1001}}, "limit"),
    ({"pagination": {"skip": -1}}, "skip"),
    ({"pagination": {"sort": "severity"}}, "sort"),
    ({"pagination": "first"}, "pagination"),
]


@pytest.mark.parametrize(("body", "named"), BAD)
async def test_bad_queries_are_400(
    client: httpx.AsyncClient, body: dict[str, Any] | bytes, named: str
) -> None:
    if isinstance(body, bytes):
        response = await client.post(
            URL, content=body, headers={"Content-Type": "application/json"}
        )
    else:
        response = await client.post(URL, json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]
