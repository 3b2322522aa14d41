"""Mailing-list validation (``/v3/lists/{address}/validate``, mailgun.js ``lists.validate``,
``validationResult``, ``cancelValidation``) through the API on both stores: a bulk job over the
list's members, run by the worker-role runtime or, where a job must stay running, by none."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailwright import lists
from mailwright.app import build_runtime, first_start
from mailwright.config import Settings
from mailwright.errors import InvalidInput, NotFound
from mailwright.store import Store
from mailwright.validation import BulkJobs
from mailwright.validation.bulk import generation
from tests.conftest import API_KEY
from tests.support.dns import LoopbackDNS
from tests.support.wait import wait_until

ZONE = """
example.com. 300 IN MX 10 mx.example.com.
gmail.com. 300 IN MX 5 mx.example.com.
mailinator.com. 300 IN MX 10 mx.example.com.
nullmx.com. 300 IN MX 0 .
"""
# One of each verdict: deliverable, a role address, a local part Gmail never hands out,
# a disposable domain, a null MX; one unsubscribed member (every member is validated).
MEMBERS: list[dict[str, Any]] = [
    {"address": "alice@example.com"},
    {"address": "postmaster@example.com"},
    {"address": "ab@gmail.com"},
    {"address": "temp@mailinator.com"},
    {"address": "a@nullmx.com"},
    {"address": "bob@example.com", "subscribed": False},
]
SUMMARY = {
    "result": {
        "deliverable": 3,
        "undeliverable": 2,
        "do_not_send": 1,
        "catch_all": 0,
        "unknown": 0,
    },
    "risk": {"high": 3, "medium": 1, "low": 2, "unknown": 0},
}
EMPTY_SUMMARY = {
    "result": {
        "deliverable": 0,
        "undeliverable": 0,
        "do_not_send": 0,
        "catch_all": 0,
        "unknown": 0,
    },
    "risk": {"high": 0, "medium": 0, "low": 0, "unknown": 0},
}


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, dns: LoopbackDNS) -> Settings:
    return settings.with_changes(dns_server=dns.address)


async def _client(
    settings: Settings, store: Store, roles: frozenset[str]
) -> AsyncIterator[httpx.AsyncClient]:
    runtime = build_runtime(settings, roles, store=store)
    await first_start(settings, store)
    await runtime.start()
    try:
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", auth=("api", API_KEY)
        ) as http:
            yield http
    finally:
        await runtime.stop()


@pytest.fixture
async def client(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The API with the worker role: submitted jobs run."""
    async for http in _client(settings, store, frozenset({"api", "worker"})):
        yield http


@pytest.fixture
async def api_only(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The API without a worker: a submitted job stays ``created`` (running) for certain."""
    async for http in _client(settings, store, frozenset({"api"})):
        yield http


async def _make_list(client: httpx.AsyncClient, local: str, members: list[dict[str, Any]]) -> str:
    sandbox = (await client.get("/v4/domains")).json()["items"][0]["name"]
    address = f"{local}@{sandbox}"
    created = await client.post("/v3/lists", data={"address": address})
    assert created.status_code == 200, created.text
    if members:
        added = await client.post(
            f"/v3/lists/{address}/members.json", data={"members": json.dumps(members)}
        )
        assert added.status_code == 200, added.text
    return address


async def _completed(client: httpx.AsyncClient, address: str, after: int = 0) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/v3/lists/{address}/validate")).json()
        return body if body["status"] == "completed" and body["created_at"] >= after else None

    found = await wait_until(done, within=20)
    assert found is not None
    return found


async def test_list_validation_lifecycle(client: httpx.AsyncClient) -> None:
    address = await _make_list(client, "news+weekly", MEMBERS)
    submitted = await client.post(f"/v3/lists/{address}/validate")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json() == {"id": address, "message": "The validation job was submitted."}

    job = await _completed(client, address)
    assert job["id"] == address
    assert isinstance(job["created_at"], int)
    assert job["quantity"] == 6
    assert job["records_processed"] == 6
    assert job["summary"] == SUMMARY
    links = job["download_url"]
    # "+" is escaped in the link; the link works with the API key
    assert links["csv"] == (
        f"http://testserver/mailwright/v1/lists/{address.replace('+', '%2B')}/validate/results.csv"
    )
    as_csv = await client.get(links["csv"])
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = {r["address"]: r for r in csv.DictReader(io.StringIO(as_csv.text))}
    assert sorted(rows) == sorted(m["address"] for m in MEMBERS)
    assert rows["ab@gmail.com"]["reason"] == "failed custom grammar check"
    assert rows["temp@mailinator.com"]["result"] == "do_not_send"
    assert rows["postmaster@example.com"]["is_role_address"] == "true"
    assert rows["a@nullmx.com"]["reason"] == "no_mx"
    as_json = (await client.get(links["json"])).json()
    assert {b["address"]: b["result"] for b in as_json} == {a: r["result"] for a, r in rows.items()}
    assert (await client.get(links["csv"], auth=None)).status_code == 401

    # a finished job is replaced by a new one
    await client.post(f"/v3/lists/{address}/members", data={"address": "carol@example.com"})
    again = await client.post(f"/v3/lists/{address.upper()}/validate")
    assert again.status_code == 200, again.text
    assert again.json()["id"] == address
    replaced = await _completed(client, address, after=job["created_at"])
    assert replaced["quantity"] == 7
    assert len((await client.get(links["json"])).json()) == 7

    cancelled = await client.delete(f"/v3/lists/{address}/validate")
    assert cancelled.status_code == 200
    assert cancelled.json() == {"message": "Validation job canceled."}
    missing = await client.get(f"/v3/lists/{address}/validate")
    assert missing.status_code == 404
    assert address in missing.json()["message"]
    assert (await client.get(links["csv"])).status_code == 404
    assert (await client.delete(f"/v3/lists/{address}/validate")).status_code == 404


async def test_a_running_job_refuses_another(api_only: httpx.AsyncClient) -> None:
    address = await _make_list(api_only, "news", MEMBERS)
    assert (await api_only.post(f"/v3/lists/{address}/validate")).status_code == 200
    job = (await api_only.get(f"/v3/lists/{address}/validate")).json()
    assert (job["status"], job["quantity"], job["records_processed"]) == ("created", 6, 0)
    assert job["download_url"] is None
    assert job["summary"] == EMPTY_SUMMARY
    results = f"/mailwright/v1/lists/{address}/validate/results.csv"
    assert (await api_only.get(results)).status_code == 404  # not completed

    refused = await api_only.post(f"/v3/lists/{address}/validate")
    assert refused.status_code == 400
    assert address in refused.json()["message"]
    assert "running" in refused.json()["message"]

    assert (await api_only.delete(f"/v3/lists/{address}/validate")).status_code == 200
    assert (await api_only.post(f"/v3/lists/{address}/validate")).status_code == 200


async def test_unknown_list_or_job_is_404(client: httpx.AsyncClient) -> None:
    sandbox = (await client.get("/v4/domains")).json()["items"][0]["name"]
    unknown = f"nobody@{sandbox}"
    submitted = await client.post(f"/v3/lists/{unknown}/validate")
    assert submitted.status_code == 404
    assert submitted.json() == {"message": f"Mailing list {unknown} not found"}
    assert (await client.get(f"/v3/lists/{unknown}/validate")).status_code == 404
    assert (await client.delete(f"/v3/lists/{unknown}/validate")).status_code == 404
    address = await _make_list(client, "quiet", [])
    assert (await client.get(f"/v3/lists/{address}/validate")).status_code == 404


async def test_an_empty_list_completes(client: httpx.AsyncClient) -> None:
    address = await _make_list(client, "empty", [])
    assert (await client.post(f"/v3/lists/{address}/validate")).status_code == 200
    job = await _completed(client, address)
    assert (job["quantity"], job["records_processed"]) == (0, 0)
    assert job["summary"] == EMPTY_SUMMARY
    as_csv = await client.get(job["download_url"]["csv"])
    assert as_csv.text.splitlines() == [
        "address,result,risk,reason,is_disposable_address,is_role_address,did_you_mean,root_address"
    ]
    assert (await client.get(job["download_url"]["json"])).json() == []


async def test_deleting_a_list_deletes_its_validation(client: httpx.AsyncClient) -> None:
    address = await _make_list(client, "gone", MEMBERS[:1])
    assert (await client.post(f"/v3/lists/{address}/validate")).status_code == 200
    await _completed(client, address)
    assert (await client.delete(f"/v3/lists/{address}")).status_code == 200
    assert (await client.get(f"/v3/lists/{address}/validate")).status_code == 404
    await _make_list(client, "gone", [])  # the same address again: no old results
    assert (await client.get(f"/v3/lists/{address}/validate")).status_code == 404


async def test_renaming_a_list_deletes_its_validation(client: httpx.AsyncClient) -> None:
    address = await _make_list(client, "before", MEMBERS[:1])
    assert (await client.post(f"/v3/lists/{address}/validate")).status_code == 200
    await _completed(client, address)
    renamed = address.replace("before@", "after@")
    moved = await client.put(f"/v3/lists/{address}", data={"address": renamed})
    assert moved.status_code == 200, moved.text
    assert moved.json()["list"]["address"] == renamed
    assert (await client.get(f"/v3/lists/{address}/validate")).status_code == 404
    assert (await client.get(f"/v3/lists/{renamed}/validate")).status_code == 404
    # a list created later at the old address has no results of the one before
    await _make_list(client, "before", [])
    assert (await client.get(f"/v3/lists/{address}/validate")).status_code == 404
    # a change of name alone keeps the job
    assert (await client.post(f"/v3/lists/{renamed}/validate")).status_code == 200
    await _completed(client, renamed)
    kept = await client.put(f"/v3/lists/{renamed}", data={"name": "After"})
    assert kept.status_code == 200, kept.text
    assert (await client.get(f"/v3/lists/{renamed}/validate")).json()["status"] == "completed"


async def test_keys_as_for_the_list_endpoints(api_only: httpx.AsyncClient) -> None:
    """Account keys only; a basic (read-only) key reads but cannot start or cancel a job."""
    address = await _make_list(api_only, "keys", MEMBERS[:1])
    sandbox = address.partition("@")[2]
    keys = {}
    for role, extra in (("sending", {"kind": "domain", "domain_name": sandbox}), ("basic", {})):
        created = await api_only.post("/v1/keys", data={"role": role, **extra})
        assert created.status_code == 200, created.text
        keys[role] = created.json()["key"]["secret"]
    domain_key = ("api", keys["sending"])
    for method in ("POST", "GET", "DELETE"):
        answer = await api_only.request(method, f"/v3/lists/{address}/validate", auth=domain_key)
        assert answer.status_code == 403, (method, answer.text)
    basic = ("api", keys["basic"])
    assert (await api_only.post(f"/v3/lists/{address}/validate", auth=basic)).status_code == 403
    assert (await api_only.post(f"/v3/lists/{address}/validate")).status_code == 200
    assert (await api_only.get(f"/v3/lists/{address}/validate", auth=basic)).status_code == 200
    assert (await api_only.delete(f"/v3/lists/{address}/validate", auth=basic)).status_code == 403


async def test_members_are_read_in_pages(client: httpx.AsyncClient, store: Store) -> None:
    members = [{"address": f"user{i:02}@example.com"} for i in range(5)]
    address = await _make_list(client, "paged", members)
    pages = [page async for page in lists.member_addresses(store, address, chunk=2)]
    assert pages == [
        ["user00@example.com", "user01@example.com"],
        ["user02@example.com", "user03@example.com"],
        ["user04@example.com"],
    ]


async def test_a_failed_upload_can_be_replaced(tmp_path: Path, store: Store) -> None:
    """The list vanishing while its members are written fails the job instead of leaving it
    ``uploading``; an upload abandoned for 5 minutes (a process died) is replaced too."""
    now = [1000.0]
    jobs = BulkJobs(store, tmp_path / "v", lambda: now[0], kind="list")
    address = "o'neil+tag@lists.example.com"

    async def vanishing() -> AsyncIterator[list[str]]:
        yield ["a@example.com"]
        raise NotFound(f"Mailing list {address} not found")

    with pytest.raises(NotFound):
        await jobs.submit_batches(address, vanishing())
    failed = await jobs.get(address)
    assert (failed["status"], failed["error"]) == ("failed", f"Mailing list {address} not found")

    async def members(*batches: list[str]) -> AsyncIterator[list[str]]:
        for batch in batches:
            yield batch

    await jobs.submit_batches(address, members(["a@example.com"], ["b@example.com"]))
    job = await jobs.get(address)
    assert (job["status"], job["quantity"]) == ("created", 2)
    upload = jobs.path(address, job["created_at"], "upload.csv")
    assert upload.parent == tmp_path / "v"
    # a hash, whatever the address, and the submission's generation
    assert upload.name == f"{upload.name[:64]}.{generation(job['created_at'])}.upload.csv"
    assert upload.read_text().splitlines() == ["email", "a@example.com", "b@example.com"]
    with pytest.raises(InvalidInput, match="running"):
        await jobs.submit_batches(address, members([]))

    # a submission whose process died mid-upload holds the id for 5 minutes only
    await jobs.delete(address)
    started = asyncio.Event()

    async def endless() -> AsyncIterator[list[str]]:
        yield ["a@example.com"]
        started.set()
        await asyncio.Event().wait()
        yield []

    task = asyncio.create_task(jobs.submit_batches(address, endless()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await jobs.get(address))["status"] == "uploading"
    with pytest.raises(InvalidInput, match="running"):
        await jobs.submit_batches(address, members(["c@example.com"]))
    now[0] += 301
    await jobs.submit_batches(address, members(["c@example.com"]))
    job = await jobs.get(address)
    assert (job["status"], job["quantity"]) == ("created", 1)
