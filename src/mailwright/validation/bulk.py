"""Bulk validation jobs (Mailgun's ``/v4/address/validate/bulk/{list_id}``) and their worker.

A job is a CSV upload with an ``email`` column. ``BulkJobs.submit`` checks the header, counts
the rows and stores the file under the data directory; the row in ``validation_jobs`` holds the
status (created -> processing -> completed | failed) and progress. ``BulkWorker`` (worker role)
claims one job at a time and streams it: ``BATCH`` rows are read, validated ``CONCURRENCY`` at a
time (one history query per group), appended to the CSV and JSON result files and counted, so
memory stays bounded whatever the list size. A job whose worker stopped reporting for
``STALE_AFTER`` seconds is claimed again and restarts from the top; a deleted job is noticed at
the next progress report and abandoned. With the SMTP probe on, the per-host probe limit
answers ``unknown`` for the addresses it holds back (see the README).

Previews (Mailgun's ``/v4/address/validate/preview/{list_id}``) are jobs of kind ``preview`` in
the same table (their own id namespace), kept by a ``BulkJobs(..., kind="preview")`` and run by
their own ``BulkWorker``: only the first ``PREVIEW_SAMPLE`` addresses of the upload are
validated, only the summary counts are kept (no result files), and the upload is deleted once
the preview completes.

Mailing-list validations (Mailgun's ``/v3/lists/{address}/validate``) are jobs of kind ``list``
whose id is the list's address, so their files are named by its SHA-256 (an address may hold
characters no file name should). ``submit_batches`` writes their upload from the members: the
row is inserted as ``uploading`` (no worker claims it), the CSV is written one batch at a time,
then the row becomes ``created`` and runs like any bulk job. A finished job with the same id is
replaced; a running one refuses the submission.

Every submission claims its id first (the row, as ``uploading``) and only then writes its
upload, so a refused one never touches the files of the job holding the id. Files carry the
submission's generation (its ``created_at``, ``generation``) in their names, and progress
reports name it too: a job deleted and submitted again under the same id while the first one's
worker is still running shares nothing with it — the old worker's reports find no row and its
clean-up removes only its own files. An upload whose process died between the two steps stays
``uploading``; after ``STALE_AFTER`` seconds a new submission of the id replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import InvalidInput, NotFound, ServiceError
from mailwright.logs import get_logger
from mailwright.store import Store, queries
from mailwright.validation.service import Validator

log = get_logger(__name__)

EMAIL_COLUMN = "email"
BATCH = 500
CONCURRENCY = 250
STALE_AFTER = 300.0
PREVIEW_SAMPLE = 1000
KINDS = ("bulk", "preview", "list")
_NOUNS = {
    "bulk": "validation job",
    "preview": "validation preview",
    "list": "validation job for mailing list",
}
RESULTS = ("deliverable", "undeliverable", "do_not_send", "catch_all", "unknown")
RISKS = ("high", "medium", "low", "unknown")
CSV_FIELDS = (
    "address",
    "result",
    "risk",
    "reason",
    "is_disposable_address",
    "is_role_address",
    "did_you_mean",
    "root_address",
)
_LIST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")


def empty_summary() -> dict[str, dict[str, int]]:
    return {"result": dict.fromkeys(RESULTS, 0), "risk": dict.fromkeys(RISKS, 0)}


def job_summary_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The job as Mailgun shows it, without the download links (they depend on the URL)."""
    return {
        "id": row["id"],
        "status": row["status"],
        "created_at": int(row["created_at"]),
        "quantity": row["quantity"],
        "records_processed": row["records_processed"],
        "summary": json.loads(row["summary"]),
        **({"failed_reason": row["error"]} if row["error"] else {}),
    }


def check_list_id(list_id: str) -> str:
    if not _LIST_ID.fullmatch(list_id) or ".." in list_id:
        raise InvalidInput(
            "list id must be 1-128 letters, digits, '.', '_', '-' or '@'", field="list_id"
        )
    return list_id


def generation(created_at: float) -> str:
    """A submission's mark in its file names (microseconds since the epoch, in hex)."""
    return format(round(created_at * 1_000_000), "x")


def is_running(row: dict[str, Any], now: float) -> bool:
    """Created and processing jobs are running (a worker claims a stale one again); an upload
    that stopped ``STALE_AFTER`` seconds ago never finishes, like a completed or failed job."""
    if row["status"] == "uploading":
        return bool(row["updated_at"] >= now - STALE_AFTER)
    return row["status"] in ("created", "processing")


def email_column(header: list[str]) -> int:
    for index, name in enumerate(header):
        if name.strip().lower() == EMAIL_COLUMN:
            return index
    raise InvalidInput("the CSV file has no 'email' column", field="file")


def _count_rows(text: str) -> int:
    reader = csv.reader(io.StringIO(text))
    column = email_column(next(reader, []))
    return sum(1 for row in reader if len(row) > column and row[column].strip())


class BulkJobs:
    def __init__(
        self, store: Store, directory: Path, clock: Callable[[], float], *, kind: str = "bulk"
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown validation job kind {kind!r}")
        self._store = store
        self.directory = directory
        self._clock = clock
        self.kind = kind
        # a preview validates the first PREVIEW_SAMPLE addresses and keeps only the summary
        self.sample: int | None = PREVIEW_SAMPLE if kind == "preview" else None

    def check_id(self, job_id: str) -> str:
        # a list job's id is its list's address, which the lists package has checked
        return job_id if self.kind == "list" else check_list_id(job_id)

    def _stem(self, job_id: str) -> str:
        if self.kind == "list":
            return hashlib.sha256(job_id.encode()).hexdigest()
        return check_list_id(job_id)

    def path(self, job_id: str, created_at: float, suffix: str) -> Path:
        """A file of one submission of ``job_id`` (the one created at ``created_at``): a job
        deleted and submitted again under the same id never shares files with the one before,
        whose worker may still be running. Files written before submissions were told apart
        have no generation in their name and are found when the marked one does not exist."""
        marked = self.directory / f"{self._stem(job_id)}.{generation(created_at)}.{suffix}"
        if not marked.exists():
            legacy = self.directory / f"{self._stem(job_id)}.{suffix}"
            if legacy.exists():
                return legacy
        return marked

    def _values(self, job_id: str, status: str, quantity: int) -> dict[str, Any]:
        now = self._clock()
        return {
            "kind": self.kind,
            "id": job_id,
            "status": status,
            "created_at": now,
            "updated_at": now,
            "quantity": quantity,
            "records_processed": 0,
            "summary": json.dumps(empty_summary()),
            "error": None,
        }

    async def submit(self, job_id: str, data: bytes) -> None:
        check_list_id(job_id)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("the CSV file is not UTF-8", field="file") from None
        quantity = await asyncio.to_thread(_count_rows, text)
        # The id first: a refused submission must not touch the files of the job holding it.
        created_at = await self._reserve(job_id, quantity=quantity, replace_finished=False)
        try:
            await asyncio.to_thread(self._write_upload, job_id, created_at, text)
        except OSError as exc:
            await self.report(job_id, {"status": "failed", "error": str(exc)}, created_at)
            raise
        if not await self.report(job_id, {"status": "created"}, created_at):
            await asyncio.to_thread(self.remove_files, job_id, created_at)  # deleted meanwhile

    @property
    def _noun(self) -> str:
        return _NOUNS[self.kind]

    async def submit_batches(self, job_id: str, batches: AsyncIterator[list[str]]) -> None:
        """A job over the addresses of ``batches``, its upload written one batch at a time; a
        finished job with this id is replaced, a running one is a 400."""
        created_at = await self._reserve(job_id, replace_finished=True)
        try:
            quantity = await self._write_batches(job_id, created_at, batches)
        except (OSError, ServiceError) as exc:  # a full disk; the list deleted meanwhile
            await self.report(job_id, {"status": "failed", "error": str(exc)}, created_at)
            raise
        created = {"status": "created", "quantity": quantity}
        if not await self.report(job_id, created, created_at):
            log.info("validation_job_cancelled", job_id=job_id)  # deleted while uploading
            await asyncio.to_thread(self.remove_files, job_id, created_at)

    async def _reserve(self, job_id: str, *, quantity: int = 0, replace_finished: bool) -> float:
        """Insert the job as ``uploading``; its ``created_at``. A job already holding the id is
        replaced when its upload was abandoned (``uploading`` for ``STALE_AFTER`` seconds: the
        process writing it died) and, with ``replace_finished``, when it completed or failed;
        otherwise the id is taken: a 400."""
        values = self._values(job_id, "uploading", quantity)
        now = float(values["created_at"])
        replaced: list[float] = []

        async def reserve(conn: AsyncConnection) -> bool:
            replaced.clear()
            row = await queries.get_validation_job(conn, self.kind, job_id)
            if row is not None:
                abandoned = row["status"] == "uploading" and not is_running(row, now)
                finished = not is_running(row, now)
                if not (abandoned or (replace_finished and finished)):
                    return False
                await queries.delete_validation_job(conn, self.kind, job_id)
                replaced.append(float(row["created_at"]))
            return await queries.insert_validation_job(conn, values)

        if not await self._store.write(reserve):
            taken = "is still running" if replace_finished else "already exists"
            raise InvalidInput(f"{self._noun} {job_id} {taken}", field="list_id")
        for old in replaced:  # the replaced job's files
            await asyncio.to_thread(self.remove_files, job_id, old)
        return now

    async def _write_batches(
        self, job_id: str, created_at: float, batches: AsyncIterator[list[str]]
    ) -> int:
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        path = self.path(job_id, created_at, "upload.csv")
        upload = await asyncio.to_thread(path.open, "w", encoding="utf-8", newline="")
        quantity = 0
        try:
            writer = csv.writer(upload)
            await asyncio.to_thread(writer.writerow, [EMAIL_COLUMN])
            async for batch in batches:
                await asyncio.to_thread(writer.writerows, ([a] for a in batch))
                quantity += len(batch)
        finally:
            await asyncio.to_thread(upload.close)
        return quantity

    def _write_upload(self, job_id: str, created_at: float, text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path(job_id, created_at, "upload.csv").write_text(text, encoding="utf-8")

    async def get(self, job_id: str) -> dict[str, Any]:
        async with self._store.read() as conn:
            row = await queries.get_validation_job(conn, self.kind, self.check_id(job_id))
        if row is None:
            raise NotFound(f"{self._noun} {job_id} not found")
        return row

    async def list(self, *, limit: int, skip: int) -> tuple[int, list[dict[str, Any]]]:
        async with self._store.read() as conn:
            return await queries.list_validation_jobs(conn, self.kind, limit=limit, skip=skip)

    async def delete(self, job_id: str) -> None:
        async def remove(conn: AsyncConnection) -> float | None:
            row = await queries.get_validation_job(conn, self.kind, self.check_id(job_id))
            if row is None or not await queries.delete_validation_job(conn, self.kind, job_id):
                return None
            return float(row["created_at"])

        created_at = await self._store.write(remove)
        if created_at is None:
            raise NotFound(f"{self._noun} {job_id} not found")
        await asyncio.to_thread(self.remove_files, job_id, created_at)

    def remove_files(self, job_id: str, created_at: float) -> None:
        """The files of that submission of the job (a later one's are left alone)."""
        for suffix in ("upload.csv", "csv", "json"):
            self.path(job_id, created_at, suffix).unlink(missing_ok=True)

    async def claim(self) -> dict[str, Any] | None:
        now = self._clock()

        async def claim(conn: AsyncConnection) -> dict[str, Any] | None:
            return await queries.claim_validation_job(
                conn, self.kind, now=now, stale_before=now - STALE_AFTER
            )

        return await self._store.write(claim)

    async def report(self, job_id: str, values: dict[str, Any], created_at: float) -> bool:
        """Update the submission of ``job_id`` created at ``created_at``; False when it was
        deleted meanwhile (or deleted and submitted again: the new one is not touched)."""
        values = {**values, "updated_at": self._clock()}

        async def update(conn: AsyncConnection) -> bool:
            return await queries.update_validation_job(
                conn, self.kind, job_id, values, created_at=created_at
            )

        return await self._store.write(update)


def _addresses(path: Path) -> Iterator[list[str]]:
    """The upload's addresses in batches of ``BATCH`` (one file read at a time)."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        column = email_column(next(reader, []))
        batch: list[str] = []
        for row in reader:
            if len(row) > column and row[column].strip():
                batch.append(row[column].strip())
                if len(batch) == BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch


def csv_row(body: dict[str, Any]) -> list[str]:
    return [
        body["address"],
        body["result"],
        body["risk"],
        ";".join(body["reason"]),
        str(body["is_disposable_address"]).lower(),
        str(body["is_role_address"]).lower(),
        body["did_you_mean"] or "",
        body["root_address"] or "",
    ]


class _Output:
    """The two result files, appended one batch at a time."""

    def __init__(self, jobs: BulkJobs, job_id: str, created_at: float) -> None:
        self._csv = jobs.path(job_id, created_at, "csv")
        self._json = jobs.path(job_id, created_at, "json")
        self._rows = 0
        with self._csv.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerow(CSV_FIELDS)
        self._json.write_text("[", encoding="utf-8")

    def append(self, bodies: list[dict[str, Any]]) -> None:
        with self._csv.open("a", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(csv_row(b) for b in bodies)
        with self._json.open("a", encoding="utf-8") as f:
            for body in bodies:
                f.write(("\n" if self._rows == 0 else ",\n") + json.dumps(body))
                self._rows += 1

    def close(self) -> None:
        with self._json.open("a", encoding="utf-8") as f:
            f.write("\n]\n")


class BulkWorker:
    """Claims and processes bulk jobs one at a time; polls every ``poll`` seconds."""

    def __init__(self, jobs: BulkJobs, validator: Validator, *, poll: float = 1.0) -> None:
        self._jobs = jobs
        self._validator = validator
        self._poll = poll
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def kick(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                worked = await self.run_once()
            except Exception:
                log.exception("validation_job_loop_failed")
                worked = False
            if not worked:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                self._wake.clear()

    async def run_once(self) -> bool:
        """Claim and finish one job; False when there was none."""
        job = await self._jobs.claim()
        if job is None:
            return False
        job_id = job["id"]
        created_at = float(job["created_at"])
        try:
            await self._process(job_id, created_at)
        except (OSError, ValueError, csv.Error, InvalidInput) as exc:
            log.warning("validation_job_failed", job_id=job_id, error=str(exc))
            failed = {"status": "failed", "error": str(exc)}
            await self._jobs.report(job_id, failed, created_at)
        return True

    async def _process(self, job_id: str, created_at: float) -> None:
        sample = self._jobs.sample
        output = (
            None
            if sample is not None
            else await asyncio.to_thread(_Output, self._jobs, job_id, created_at)
        )
        summary = empty_summary()
        processed = 0
        batches = _addresses(self._jobs.path(job_id, created_at, "upload.csv"))
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            if sample is not None:
                batch = batch[: sample - processed]
            bodies = await self._validate(batch)
            if output is not None:
                await asyncio.to_thread(output.append, bodies)
            for body in bodies:
                summary["result"][body["result"]] += 1
                summary["risk"][body["risk"]] += 1
            processed += len(bodies)
            progress = {"records_processed": processed, "summary": json.dumps(summary)}
            if not await self._jobs.report(job_id, progress, created_at):
                log.info("validation_job_cancelled", job_id=job_id)
                await asyncio.to_thread(self._jobs.remove_files, job_id, created_at)
                return
            if sample is not None and processed >= sample:
                break
        if output is not None:
            await asyncio.to_thread(output.close)
        else:  # a preview keeps only its summary
            await asyncio.to_thread(self._jobs.remove_files, job_id, created_at)
        await self._jobs.report(job_id, {"status": "completed"}, created_at)
        log.info("validation_job_completed", job_id=job_id, records=processed)

    async def _validate(self, batch: list[str]) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        for start in range(0, len(batch), CONCURRENCY):
            bodies.extend(await self._validator.validate_many(batch[start : start + CONCURRENCY]))
        return bodies
