"""Mailgun's usage metrics through the API, on both stores: bulk validation jobs run by the
worker-role runtime count their addresses when they complete, mailing-list validation jobs
likewise, previews and unfinished jobs do not; single validations count in the hour they are
answered (those with the public key apart too), 400s do not; the metrics mailwright has no
record for are 400s naming them, as are bad bodies."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mailwright.app import Runtime
from mailwright.config import Settings
from mailwright.store import Store, queries
from tests.conftest import API_KEY
from tests.support.dns import LoopbackDNS
from tests.support.wait import wait_until

URL = "/v1/analytics/usage/metrics"
BULK = "/v4/address/validate/bulk"
SINGLE = "/v4/address/validate"
COUNTS = ["email_validation_bulk_count", "email_validation_list_count"]
ZONE = """
example.com. 300 IN MX 10 mx.example.com.
"""


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, dns: LoopbackDNS) -> Settings:
    """The conftest's server (API and worker roles), resolving through the loopback DNS."""
    return settings.with_changes(dns_server=dns.address)


async def validate_list(client: httpx.AsyncClient, path: str, addresses: list[str]) -> None:
    upload = "email\n" + "".join(f"{a}\n" for a in addresses)
    files = {"file": ("list.csv", upload.encode(), "text/csv")}
    submitted = await client.post(path, files=files)
    assert submitted.status_code in (200, 202), submitted.text  # a preview answers 202

    async def completed() -> bool:
        body = (await client.get(path)).json()
        status = body["preview"]["status"] if "preview" in body else body["status"]
        return status in ("completed", "preview_complete")

    await wait_until(completed, within=20)


def job(kind: str, job_id: str, status: str, processed: int, at: float) -> dict[str, Any]:
    return {
        "kind": kind,
        "id": job_id,
        "status": status,
        "created_at": at - 60,
        "updated_at": at,
        "quantity": processed,
        "records_processed": processed,
        "summary": json.dumps({"result": {}, "risk": {}}),
        "error": None,
    }


@pytest.fixture
async def jobs(client: httpx.AsyncClient, store: Store) -> float:
    """Bulk jobs of 3 and 2 addresses and a preview of 2, run by the worker; recorded
    directly: a mailing-list validation of 4 completed now, one of 7 two days ago, a bulk job
    still processing (10 so far)."""
    await validate_list(client, f"{BULK}/first", ["a@example.com", "b@example.com", "nope"])
    await validate_list(client, f"{BULK}/second", ["c@example.com", "d@example.com"])
    await validate_list(client, "/v4/address/validate/preview/peek", ["e@example.com", "f@x"])
    now = time.time()

    async def record(conn: Any) -> None:
        for values in (
            job("list", "team@lists.example.com", "completed", 4, now),
            job("list", "old@lists.example.com", "completed", 7, now - 2 * 86400),
            job("bulk", "running", "processing", 10, now),
        ):
            assert await queries.insert_validation_job(conn, values)

    await store.write(record)
    return now


async def query(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(URL, json={"duration": "1d", "metrics": COUNTS} | body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_finished_jobs_count_when_they_end(client: httpx.AsyncClient, jobs: float) -> None:
    body = await query(client, dimensions=["time"])
    assert body["resolution"] == "day"
    assert body["duration"] == "1d"
    assert body["dimensions"] == ["time"]
    # Yesterday's bucket and today's, zeros included, as the metrics answer them.
    assert [i["dimensions"][0]["value"] for i in body["items"]] == [body["start"], body["end"]]
    assert body["items"][-1]["metrics"] == {
        "email_validation_bulk_count": 5,
        "email_validation_list_count": 4,
    }
    assert body["aggregates"]["metrics"] == {
        "email_validation_bulk_count": 5,
        "email_validation_list_count": 4,
    }

    week = await query(client, duration="7d", include_aggregates=True)
    assert week["items"] == [{"dimensions": [], "metrics": week["aggregates"]["metrics"]}]
    assert week["aggregates"]["metrics"] == {
        "email_validation_bulk_count": 5,
        "email_validation_list_count": 11,
    }

    hours = await query(
        client,
        resolution="hour",
        duration="3h",
        dimensions=["time"],
        metrics=["email_validation_bulk_count"],
        end=time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(jobs)),
    )
    assert len(hours["items"]) == 4
    assert hours["items"][-1]["dimensions"][0]["value"] == time.strftime(
        "%a, %d %b %Y %H:00:00 +0000", time.gmtime(jobs)
    )
    assert sum(i["metrics"]["email_validation_bulk_count"] for i in hours["items"][-2:]) == 5

    # Deleting a job takes its usage with it.
    assert (await client.delete(f"{BULK}/second")).status_code == 200
    after = await query(client)
    assert after["aggregates"]["metrics"]["email_validation_bulk_count"] == 3


async def test_sdk_style_body(client: httpx.AsyncClient, jobs: float) -> None:
    """As mailgun.js sends it: Date objects as toUTCString(), subaccounts, sort and limits."""
    body = await query(
        client,
        start=time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(jobs - 86400)),
        end=time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(jobs)),
        duration=None,
        dimensions=["time"],
        include_subaccounts=False,
        pagination={"sort": "email_validation_list_count:desc", "limit": 1},
    )
    assert body["pagination"] == {
        "sort": "email_validation_list_count:desc",
        "skip": 0,
        "limit": 1,
        "total": 2,
    }
    assert body["items"][0]["metrics"]["email_validation_list_count"] == 4
    assert "duration" not in body


def at_hour(moment: float) -> str:
    return time.strftime("%a, %d %b %Y %H:00:00 +0000", time.gmtime(moment))


async def test_single_validations_count_per_hour(
    client: httpx.AsyncClient, runtime: Runtime, jobs: float
) -> None:
    """Three account-key and three public-key validations over two hours, beside the jobs'
    5 bulk and 4 list addresses; 400s are not counted."""
    public = ("api", (await client.post("/v1/keys/public")).json()["key"])
    clock = [jobs - 2 * 3600]
    runtime.services.clock = lambda: clock[0]
    address = {"address": "someone@example.com", "provider_lookup": "false"}

    async def validate(auth: tuple[str, str] | None = None, *, post: bool = False) -> None:
        auth_arg: Any = auth or httpx.USE_CLIENT_DEFAULT
        if post:
            answer = await client.post(SINGLE, data=address, auth=auth_arg)
        else:
            answer = await client.get(SINGLE, params=address, auth=auth_arg)
        assert answer.status_code == 200, answer.text

    await validate()
    await validate(post=True)
    await validate(public)
    clock[0] = jobs
    await validate()
    await validate(public)
    await validate(public, post=True)
    for auth in (public, ("api", API_KEY)):  # no address: a 400, not counted
        assert (await client.get(SINGLE, auth=auth)).status_code == 400
        assert (await client.post(SINGLE, data={}, auth=auth)).status_code == 400

    metrics = [
        "email_validation_single_count",
        "email_validation_public_count",
        "email_validation_count",
    ]
    hours = await query(
        client,
        resolution="hour",
        duration="3h",
        dimensions=["time"],
        metrics=metrics,
        end=time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(jobs)),
        include_aggregates=True,
    )
    assert [i["dimensions"][0]["value"] for i in hours["items"]] == [
        at_hour(jobs - h * 3600) for h in (3, 2, 1, 0)
    ]
    found = [i["metrics"] for i in hours["items"]]
    assert found[0] == dict.fromkeys(metrics, 0)
    assert found[1] == {
        "email_validation_single_count": 3,
        "email_validation_public_count": 1,
        "email_validation_count": 3,
    }
    assert found[3]["email_validation_single_count"] == 3
    assert found[3]["email_validation_public_count"] == 2
    # The jobs finished moments before ``jobs``: in its hour or the one before.
    assert found[2]["email_validation_single_count"] == 0
    assert found[2]["email_validation_count"] + found[3]["email_validation_count"] == 3 + 5 + 4
    assert hours["aggregates"]["metrics"] == {
        "email_validation_single_count": 6,
        "email_validation_public_count": 3,
        "email_validation_count": 6 + 5 + 4,
    }

    days = await query(client, metrics=[*metrics, *COUNTS])
    assert days["aggregates"]["metrics"] == {
        "email_validation_single_count": 6,
        "email_validation_public_count": 3,
        "email_validation_count": 15,
        "email_validation_bulk_count": 5,
        "email_validation_list_count": 4,
    }

    # The account's own counters are no domain's sending traffic.
    sending = await client.post(
        "/v1/analytics/metrics",
        json={"duration": "1d", "dimensions": ["domain"], "metrics": ["accepted_count"]},
    )
    assert sending.status_code == 200, sending.text
    assert all(i["dimensions"][0]["value"] for i in sending.json()["items"])


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"metrics": ["email_validation_valid_count"]}, "one by one"),
        ({"metrics": ["email_validation_mailjet_count"]}, "email_validation_mailjet_count"),
        ({"metrics": ["seed_test_count"]}, "no seed test service"),
        ({"metrics": ["email_preview_count"]}, "email_preview_count"),
        ({"metrics": ["ip_blocklist_monitoring_count"]}, "latest answer"),
        ({"metrics": ["processed_count"]}, "processed_count"),
        ({"metrics": ["accepted_count"]}, "unknown metric 'accepted_count'"),
        ({"metrics": []}, "metrics"),
        ({"metrics": COUNTS, "dimensions": ["subaccount"]}, "no subaccounts"),
        ({"metrics": COUNTS, "dimensions": ["domain"]}, "domain"),
        (
            {
                "metrics": COUNTS,
                "filter": {
                    "AND": [{"attribute": "subaccount", "comparator": "!=", "values": ["1"]}]
                },
            },
            "subaccount",
        ),
        ({"metrics": COUNTS, "resolution": "week"}, "resolution"),
        ({"metrics": COUNTS, "duration": "2w"}, "duration"),
        ({"metrics": COUNTS, "start": "soon"}, "start"),
        ({"metrics": COUNTS, "pagination": {"limit": 0}}, "limit"),
        ({"metrics": COUNTS, "include_aggregates": "perhaps"}, "include_aggregates"),
        (b"{", "body"),
    ],
)
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


async def test_domain_keys_are_refused(client: httpx.AsyncClient) -> None:
    domain = (await client.get("/v4/domains")).json()["items"][0]["name"]
    created = await client.post(
        "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": domain}
    )
    scoped = ("api", created.json()["key"]["secret"])
    refused = await client.post(URL, json={"metrics": COUNTS}, auth=scoped)
    assert refused.status_code == 403, refused.text
