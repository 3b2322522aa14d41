"""Mailgun's address validation: ``GET``/``POST /v4/address/validate`` and the bulk jobs
``/v4/address/validate/bulk[/{list_id}]`` (and their summary-only previews,
``/v4/address/validate/preview[/{list_id}]``), whose results download from our own extension paths
(``/mailwright/v1/address/validate/bulk/{list_id}/results.csv|json``) with the API key.
Mailing-list validations (``/v3/lists/{address}/validate``) are bulk jobs over a list's members,
shown in the same shape; theirs download from ``/mailwright/v1/lists/{address}/validate/``."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from mailwright.api.context import (
    int_param,
    json_response,
    path_param,
    principal,
    read_form,
    services,
)
from mailwright.errors import InvalidInput, NotFound
from mailwright.validation import MAX_INPUT, BulkJobs, job_summary_fields, submit_list
from mailwright.validation.usage import count_single

BULK = "/v4/address/validate/bulk"
PREVIEW = "/v4/address/validate/preview"
DOWNLOAD = "/mailwright/v1/address/validate/bulk/{list_id}"
LIST = "/v3/lists/{address}/validate"
LIST_DOWNLOAD = "/mailwright/v1/lists/{address}/validate"

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _provider_lookup(value: str | None) -> bool:
    if value is None or value == "":
        return True
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidInput("'provider_lookup' must be true or false", field="provider_lookup")


def _address(value: str | None) -> str:
    if value is None or value == "":
        raise InvalidInput("'address' parameter is missing", field="address")
    if len(value) > MAX_INPUT:
        raise InvalidInput(f"'address' is longer than {MAX_INPUT} characters", field="address")
    return value


async def validate_get(request: Request) -> Response:
    """Validate one address: `address` (required), `provider_lookup` (true/false, default true:
    probe the mailbox when probing is enabled)."""
    caller = await principal(request)
    caller.require_validation()
    params = request.query_params
    address = _address(params.get("address"))
    lookup = _provider_lookup(params.get("provider_lookup"))
    return await _answer(request, address, lookup, public=caller.is_public)


async def validate_post(request: Request) -> Response:
    """Validate one address given as form field `address` (and optional `provider_lookup`)."""
    caller = await principal(request)
    caller.require_validation()
    form = await read_form(request)
    address = _address(form.get("address"))
    lookup = _provider_lookup(
        form.get("provider_lookup", request.query_params.get("provider_lookup"))
    )
    return await _answer(request, address, lookup, public=caller.is_public)


async def _answer(request: Request, address: str, lookup: bool, *, public: bool) -> Response:
    """The validation's answer, counted for the usage metrics once it is made."""
    svc = services(request)
    body = await svc.validator.validate(address, provider_lookup=lookup)
    await count_single(svc.store, svc.clock(), public=public)
    return json_response(body)


def _job_json(request: Request, row: dict[str, Any], download: str = DOWNLOAD) -> dict[str, Any]:
    body = job_summary_fields(row)
    # a list address may hold characters a path must escape ("+", "/", non-ASCII)
    where = download.format(list_id=row["id"], address=quote(row["id"], safe="@"))
    base = services(request).public_url.rstrip("/") + where
    completed = row["status"] == "completed"
    body["download_url"] = (
        {"csv": f"{base}/results.csv", "json": f"{base}/results.json"} if completed else None
    )
    return body


async def _upload(request: Request) -> bytes:
    form = await read_form(request)
    upload = next((u for u in form.uploads if u.field == "file"), None)
    if upload is None:
        raise InvalidInput(
            "'file' is missing: upload a CSV file with an 'email' column", field="file"
        )
    return upload.data


async def bulk_create(request: Request) -> Response:
    """Submit a bulk validation job: multipart `file`, a CSV with an `email` column."""
    (await principal(request)).require_account(write=True)
    list_id = path_param(request, "list_id")
    await services(request).bulk.submit(list_id, await _upload(request))
    services(request).on_accepted()
    return json_response({"id": list_id, "message": "The validation job was submitted."})


async def bulk_get(request: Request) -> Response:
    """A bulk validation job: status, progress, summary and result download links."""
    (await principal(request)).require_account()
    row = await services(request).bulk.get(path_param(request, "list_id"))
    return json_response(_job_json(request, row))


async def bulk_list(request: Request) -> Response:
    """Bulk validation jobs, newest first: `limit` (1-1000, default 500), `skip`."""
    (await principal(request)).require_account()
    limit = int_param(request, "limit", 500, low=1, high=1000)
    skip = int_param(request, "skip", 0, low=0, high=10**9)
    total, rows = await services(request).bulk.list(limit=limit, skip=skip)
    base = str(request.url.replace(query=""))
    paging = {
        "first": f"{base}?limit={limit}&skip=0",
        "last": f"{base}?limit={limit}&skip={max(total - limit, 0)}",
        "next": f"{base}?limit={limit}&skip={skip + limit}",
        "previous": f"{base}?limit={limit}&skip={max(skip - limit, 0)}",
    }
    jobs = [_job_json(request, row) for row in rows]
    return json_response({"jobs": jobs, "total": total, "paging": paging})


async def bulk_delete(request: Request) -> Response:
    """Cancel a bulk validation job and delete its upload and results."""
    (await principal(request)).require_account(write=True)
    list_id = path_param(request, "list_id")
    await services(request).bulk.delete(list_id)
    return json_response({"message": "Validation job canceled."})


async def _download(
    request: Request, jobs: BulkJobs, job_id: str, suffix: str, media_type: str
) -> Response:
    (await principal(request)).require_account()
    row = await jobs.get(job_id)
    if row["status"] != "completed":
        raise NotFound(f"validation job {job_id} has no results yet")
    path = jobs.path(row["id"], float(row["created_at"]), suffix)
    return FileResponse(path, media_type=media_type, filename=f"{job_id}.{suffix}")


async def download_csv(request: Request) -> Response:
    """The results of a completed bulk validation job as CSV (one row per address)."""
    bulk = services(request).bulk
    return await _download(request, bulk, path_param(request, "list_id"), "csv", "text/csv")


async def download_json(request: Request) -> Response:
    """The results of a completed bulk validation job as a JSON array of v4 answers."""
    bulk = services(request).bulk
    list_id = path_param(request, "list_id")
    return await _download(request, bulk, list_id, "json", "application/json")


async def list_validate(request: Request) -> Response:
    """Validate every member of a mailing list (subscribed or not): a bulk job whose id is the
    list's address. A finished job of the list is replaced; one still running is a 400."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    address = await submit_list(svc.list_validations, svc.store, path_param(request, "address"))
    svc.on_accepted()
    return json_response({"id": address, "message": "The validation job was submitted."})


async def list_validation_get(request: Request) -> Response:
    """A mailing list's validation job, shaped as a bulk job: status, progress, summary and
    result download links."""
    (await principal(request)).require_account()
    jobs = services(request).list_validations
    row = await jobs.get(path_param(request, "address").lower())
    return json_response(_job_json(request, row, LIST_DOWNLOAD))


async def list_validation_delete(request: Request) -> Response:
    """Cancel a mailing list's validation job and delete its results."""
    (await principal(request)).require_account(write=True)
    await services(request).list_validations.delete(path_param(request, "address").lower())
    return json_response({"message": "Validation job canceled."})


async def list_download_csv(request: Request) -> Response:
    """The results of a completed mailing-list validation as CSV (one row per member)."""
    jobs = services(request).list_validations
    address = path_param(request, "address").lower()
    return await _download(request, jobs, address, "csv", "text/csv")


async def list_download_json(request: Request) -> Response:
    """The results of a completed mailing-list validation as a JSON array of v4 answers."""
    jobs = services(request).list_validations
    address = path_param(request, "address").lower()
    return await _download(request, jobs, address, "json", "application/json")


_PREVIEW_STATUS = {
    "uploading": "preview_processing",
    "created": "preview_processing",
    "processing": "preview_processing",
    "completed": "preview_complete",
    "failed": "preview_failed",
}


def _preview_json(row: dict[str, Any]) -> dict[str, Any]:
    fields = job_summary_fields(row)
    body = {
        "id": fields["id"],
        "valid": row["status"] != "failed",
        "status": _PREVIEW_STATUS[row["status"]],
        "quantity": fields["quantity"],
        "created_at": fields["created_at"],
        "summary": fields["summary"],
    }
    if "failed_reason" in fields:
        body["failed_reason"] = fields["failed_reason"]
    return body


async def preview_create(request: Request) -> Response:
    """Submit a bulk validation preview: multipart `file`, a CSV with an `email` column; the
    first 1,000 addresses are validated and only the summary counts are kept."""
    (await principal(request)).require_account(write=True)
    list_id = path_param(request, "list_id")
    await services(request).previews.submit(list_id, await _upload(request))
    services(request).on_accepted()
    return json_response({"id": list_id, "message": "The bulk preview was submitted."}, 202)


async def preview_get(request: Request) -> Response:
    """A bulk validation preview: status and the summary counts of its sample."""
    (await principal(request)).require_account()
    row = await services(request).previews.get(path_param(request, "list_id"))
    return json_response({"preview": _preview_json(row)})


async def preview_list(request: Request) -> Response:
    """Bulk validation previews, newest first."""
    (await principal(request)).require_account()
    _, rows = await services(request).previews.list(limit=10**6, skip=0)
    return json_response({"previews": [_preview_json(row) for row in rows]})


async def preview_delete(request: Request) -> Response:
    """Delete a bulk validation preview (cancels it if still running)."""
    (await principal(request)).require_account(write=True)
    await services(request).previews.delete(path_param(request, "list_id"))
    return Response(status_code=204)


ROUTES = [
    Route("/v4/address/validate", validate_get, methods=["GET"]),
    Route("/v4/address/validate", validate_post, methods=["POST"]),
    Route(BULK, bulk_list, methods=["GET"]),
    Route(BULK + "/{list_id}", bulk_create, methods=["POST"]),
    Route(BULK + "/{list_id}", bulk_get, methods=["GET"]),
    Route(BULK + "/{list_id}", bulk_delete, methods=["DELETE"]),
    Route(PREVIEW, preview_list, methods=["GET"]),
    Route(PREVIEW + "/{list_id}", preview_create, methods=["POST"]),
    Route(PREVIEW + "/{list_id}", preview_get, methods=["GET"]),
    Route(PREVIEW + "/{list_id}", preview_delete, methods=["DELETE"]),
    Route(DOWNLOAD + "/results.csv", download_csv, methods=["GET"]),
    Route(DOWNLOAD + "/results.json", download_json, methods=["GET"]),
    Route(LIST, list_validate, methods=["POST"]),
    Route(LIST, list_validation_get, methods=["GET"]),
    Route(LIST, list_validation_delete, methods=["DELETE"]),
    Route(LIST_DOWNLOAD + "/results.csv", list_download_csv, methods=["GET"]),
    Route(LIST_DOWNLOAD + "/results.json", list_download_json, methods=["GET"]),
]
