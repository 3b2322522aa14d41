"""Bulk validation jobs and previews through the API on both stores, processed by the
worker-role runtime."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.app import Runtime, build_runtime, first_start
from mailwright.config import Settings
from mailwright.errors import InvalidInput
from mailwright.resolver import Resolver
from mailwright.store import Store, queries
from mailwright.validation import BulkJobs, BulkWorker, Validator
from tests.support.dns import LoopbackDNS
from tests.support.wait import wait_until

API_KEY = "key-bulk-test"
BULK = "/v4/address/validate/bulk"
ZONE = """
example.com. 300 IN MX 10 mx.example.com.
gmail.com. 300 IN MX 5 mx.example.com.
nullmx.com. 300 IN MX 0 .
"""
UPLOAD = (
    "name,email\n"
    "Alice,alice@example.com\n"
    "Bad,not-an-address\n"
    "Gmail,John.Smith+x@gmail.com\n"
    "Null,a@nullmx.com\n"
    "Empty,\n"
    'Quoted,"""odd, but fine""@example.com"\n'
)


@pytest.fixture
def dns() -> Iterator[LoopbackDNS]:
    with LoopbackDNS(ZONE) as server:
        yield server


@pytest.fixture
async def runtime(
    tmp_path: Path, database_url: str, store: Store, dns: LoopbackDNS
) -> AsyncIterator[Runtime]:
    settings = Settings.from_env(
        environ={
            "MAILWRIGHT_DATA_DIR": str(tmp_path),
            "MAILWRIGHT_DATABASE_URL": database_url,
            "MAILWRIGHT_API_KEY": API_KEY,
            "MAILWRIGHT_PUBLIC_URL": "http://testserver",
            "MAILWRIGHT_DNS_SERVER": dns.nameserver,
        }
    )
    runtime = build_runtime(settings, frozenset({"api", "worker"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    yield runtime
    await runtime.stop()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=("api", API_KEY)
    ) as http:
        yield http


async def _completed(client: httpx.AsyncClient, list_id: str) -> dict[str, object]:
    async def done() -> dict[str, object] | None:
        body: dict[str, object] = (await client.get(f"{BULK}/{list_id}")).json()
        return body if body["status"] == "completed" else None

    found: dict[str, object] = await wait_until(done, within=20)
    return found


async def test_bulk_job_lifecycle(client: httpx.AsyncClient) -> None:
    files = {"file": ("list.csv", UPLOAD.encode(), "text/csv")}
    submitted = await client.post(f"{BULK}/my_list", files=files)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json() == {"id": "my_list", "message": "The validation job was submitted."}

    job = await _completed(client, "my_list")
    assert job["quantity"] == 5
    assert job["records_processed"] == 5
    assert job["summary"] == {
        "result": {
            "deliverable": 3,
            "undeliverable": 2,
            "do_not_send": 0,
            "catch_all": 0,
            "unknown": 0,
        },
        "risk": {"high": 2, "medium": 0, "low": 3, "unknown": 0},
    }
    links = job["download_url"]
    assert isinstance(links, dict)
    assert links["csv"].startswith("http://testserver/mailwright/v1/address/validate/bulk/")

    as_csv = await client.get(links["csv"])
    assert as_csv.status_code == 200
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["address"] for r in rows] == [
        "alice@example.com",
        "not-an-address",
        "John.Smith+x@gmail.com",
        "a@nullmx.com",
        '"odd, but fine"@example.com',
    ]
    assert rows[1]["reason"] == "failed syntax check"
    assert rows[2]["root_address"] == "johnsmith@gmail.com"
    assert rows[3]["reason"] == "no_mx"
    as_json = (await client.get(links["json"])).json()
    assert [b["result"] for b in as_json] == [r["result"] for r in rows]

    listing = (await client.get(BULK)).json()
    assert listing["total"] == 1
    assert [j["id"] for j in listing["jobs"]] == ["my_list"]

    again = await client.post(f"{BULK}/my_list", files=files)
    assert again.status_code == 400

    deleted = await client.delete(f"{BULK}/my_list")
    assert deleted.status_code == 200
    assert (await client.get(f"{BULK}/my_list")).status_code == 404
    assert (await client.get(links["csv"])).status_code == 404
    assert (await client.delete(f"{BULK}/my_list")).status_code == 404


@pytest.mark.parametrize(
    ("files", "field"),
    [
        (None, "file"),
        ({"file": ("l.csv", b"name,address\nA,a@example.com\n", "text/csv")}, "email"),
        ({"file": ("l.csv", b"email\n\xff\xfe\n", "text/csv")}, "UTF-8"),
    ],
)
async def test_bulk_bad_uploads_are_400s(
    client: httpx.AsyncClient, files: dict[str, tuple[str, bytes, str]] | None, field: str
) -> None:
    data = None if files else {"x": "y"}
    response = await client.post(f"{BULK}/bad", files=files, data=data)
    assert response.status_code == 400
    assert field in response.json()["message"]


async def test_bulk_bad_list_id_and_missing_job(client: httpx.AsyncClient) -> None:
    files = {"file": ("l.csv", b"email\na@example.com\n", "text/csv")}
    response = await client.post(f"{BULK}/bad$id", files=files)
    assert response.status_code == 400
    assert "list id" in response.json()["message"]
    assert (await client.get(f"{BULK}/nope")).status_code == 404


async def test_worker_streams_a_large_job(tmp_path: Path, store: Store, dns: LoopbackDNS) -> None:
    """2,000 rows: four batches, results in both files, nothing left to claim."""
    resolver = Resolver(dns.address, timeout=2.0)
    now = [1000.0]
    jobs = BulkJobs(store, tmp_path / "v", lambda: now[0])
    rows = "".join(f"user{i}@example.com\n" for i in range(2000))
    await jobs.submit("big", ("email\n" + rows).encode())
    worker = BulkWorker(jobs, Validator(store, resolver, lambda: now[0]))
    assert await worker.run_once() is True
    job = await jobs.get("big")
    assert (job["status"], job["records_processed"]) == ("completed", 2000)
    assert json.loads(job["summary"])["result"]["deliverable"] == 2000
    assert await worker.run_once() is False
    with jobs.path("big", job["created_at"], "json").open() as f:
        assert len(json.load(f)) == 2000


async def test_a_stale_job_is_claimed_again(tmp_path: Path, store: Store) -> None:
    now = [1000.0]
    jobs = BulkJobs(store, tmp_path / "v", lambda: now[0])
    await jobs.submit("stale", b"email\na@example.com\n")
    assert (await jobs.claim() or {})["id"] == "stale"
    assert await jobs.claim() is None  # another worker is on it
    now[0] += 301  # that worker stopped reporting progress
    assert (await jobs.claim() or {})["id"] == "stale"


async def test_a_refused_submission_leaves_the_jobs_upload_alone(
    tmp_path: Path, store: Store
) -> None:
    jobs = BulkJobs(store, tmp_path / "v", lambda: 1000.0)
    await jobs.submit("mine", b"email\na@example.com\n")
    job = await jobs.get("mine")
    with pytest.raises(InvalidInput, match="already exists"):
        await jobs.submit("mine", b"email\nintruder@example.com\nb@example.com\n")
    upload = jobs.path("mine", job["created_at"], "upload.csv")
    assert upload.read_text().splitlines() == ["email", "a@example.com"]
    assert (await jobs.get("mine"))["quantity"] == 1


async def test_an_abandoned_upload_gives_its_id_up_after_five_minutes(
    tmp_path: Path, store: Store
) -> None:
    """A submission whose process died after claiming its id, before its upload was written,
    holds the id while it may still be running (``uploading``), and no longer after."""
    now = [1000.0]
    jobs = BulkJobs(store, tmp_path / "v", lambda: now[0])
    values = {
        "kind": "bulk",
        "id": "crashed",
        "status": "uploading",
        "created_at": now[0],
        "updated_at": now[0],
        "quantity": 1,
        "records_processed": 0,
        "summary": json.dumps({}),
        "error": None,
    }

    async def insert(conn: AsyncConnection) -> bool:
        return await queries.insert_validation_job(conn, values)

    assert await store.write(insert)
    now[0] += 60
    with pytest.raises(InvalidInput, match="already exists"):
        await jobs.submit("crashed", b"email\na@example.com\n")
    now[0] += 300
    await jobs.submit("crashed", b"email\na@example.com\nb@example.com\n")
    job = await jobs.get("crashed")
    assert (job["status"], job["quantity"], job["created_at"]) == ("created", 2, now[0])
    # a finished bulk job keeps its id (Mailgun: an existing list id is refused)
    worker_free = await jobs.claim()
    assert worker_free is not None
    await jobs.report("crashed", {"status": "completed"}, job["created_at"])
    now[0] += 3600
    with pytest.raises(InvalidInput, match="already exists"):
        await jobs.submit("crashed", b"email\nc@example.com\n")


async def test_a_job_deleted_and_submitted_again_is_not_touched_by_the_old_worker(
    tmp_path: Path, store: Store
) -> None:
    """A worker still running the deleted submission (its claimed row in hand, as
    ``BulkWorker`` holds it) can neither report into the new one nor remove its files."""
    now = [1000.0]
    jobs = BulkJobs(store, tmp_path / "v", lambda: now[0])
    await jobs.submit("again", b"email\nold@example.com\n")
    old = await jobs.claim()
    assert old is not None
    await jobs.delete("again")
    now[0] += 1
    await jobs.submit("again", b"email\nnew1@example.com\nnew2@example.com\n")
    new = await jobs.get("again")

    progress = {"records_processed": 1, "summary": json.dumps({})}
    assert await jobs.report("again", progress, old["created_at"]) is False
    jobs.remove_files("again", old["created_at"])  # what the old worker does on cancellation
    unchanged = await jobs.get("again")
    assert (unchanged["status"], unchanged["records_processed"]) == ("created", 0)
    upload = jobs.path("again", new["created_at"], "upload.csv")
    assert upload.read_text().splitlines() == ["email", "new1@example.com", "new2@example.com"]
    assert jobs.path("again", old["created_at"], "upload.csv") != upload


# Previews (`/v4/address/validate/preview`): a summary of the first 1,000 addresses.

PREVIEW = "/v4/address/validate/preview"


async def _complete(client: httpx.AsyncClient, list_id: str) -> dict[str, object]:
    async def done() -> dict[str, object] | None:
        body: dict[str, object] = (await client.get(f"{PREVIEW}/{list_id}")).json()["preview"]
        return body if body["status"] == "preview_complete" else None

    found: dict[str, object] = await wait_until(done, within=20)
    return found


async def test_preview_lifecycle(client: httpx.AsyncClient) -> None:
    files = {"file": ("list.csv", UPLOAD.encode(), "text/csv")}
    submitted = await client.post(f"{PREVIEW}/my_list", files=files)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json() == {"id": "my_list", "message": "The bulk preview was submitted."}

    preview = await _complete(client, "my_list")
    assert preview["id"] == "my_list"
    assert preview["valid"] is True
    assert preview["quantity"] == 5
    assert isinstance(preview["created_at"], int)
    assert preview["summary"] == {
        "result": {
            "deliverable": 3,
            "undeliverable": 2,
            "do_not_send": 0,
            "catch_all": 0,
            "unknown": 0,
        },
        "risk": {"high": 2, "medium": 0, "low": 3, "unknown": 0},
    }
    assert "records_processed" not in preview
    assert "download_url" not in preview

    # previews and bulk jobs are separate namespaces
    assert (await client.get(f"{BULK}/my_list")).status_code == 404
    listing = (await client.get(PREVIEW)).json()
    assert [p["id"] for p in listing["previews"]] == ["my_list"]
    assert (await client.post(f"{PREVIEW}/my_list", files=files)).status_code == 400

    deleted = await client.delete(f"{PREVIEW}/my_list")
    assert deleted.status_code == 204
    assert (await client.get(f"{PREVIEW}/my_list")).status_code == 404
    assert (await client.delete(f"{PREVIEW}/my_list")).status_code == 404
    assert (await client.get(PREVIEW)).json() == {"previews": []}


async def test_preview_validates_a_sample_of_1000(client: httpx.AsyncClient) -> None:
    rows = "".join(f"user{i}@example.com\n" for i in range(1200))
    files = {"file": ("big.csv", ("email\n" + rows).encode(), "text/csv")}
    assert (await client.post(f"{PREVIEW}/big", files=files)).status_code == 202
    preview = await _complete(client, "big")
    assert preview["quantity"] == 1200
    summary = preview["summary"]
    assert isinstance(summary, dict)
    assert sum(summary["result"].values()) == 1000
    assert summary["result"]["deliverable"] == 1000


async def test_preview_errors(client: httpx.AsyncClient) -> None:
    missing = await client.post(f"{PREVIEW}/bad", data={"x": "y"})
    assert missing.status_code == 400
    assert "file" in missing.json()["message"]
    no_column = {"file": ("l.csv", b"name,address\nA,a@example.com\n", "text/csv")}
    response = await client.post(f"{PREVIEW}/bad", files=no_column)
    assert response.status_code == 400
    assert "email" in response.json()["message"]
    bad_id = {"file": ("l.csv", b"email\na@example.com\n", "text/csv")}
    response = await client.post(f"{PREVIEW}/bad$id", files=bad_id)
    assert response.status_code == 400
    assert "list id" in response.json()["message"]
    assert (await client.get(f"{PREVIEW}/nope")).status_code == 404
    assert (await client.delete(f"{PREVIEW}/nope")).status_code == 404
