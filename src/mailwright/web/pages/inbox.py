"""The capture inbox: what ``capture`` delivery kept, searchable, readable and deletable."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.errors import NotFound
from mailwright.inbox import delete_items, get_item, list_items
from mailwright.messages import attachment, describe
from mailwright.web.forms import error_page, link, number, param, see_other
from mailwright.web.preview import download, html_preview
from mailwright.web.session import page
from mailwright.web.templating import render

PAGE_SIZE = 50
RAW_SHOWN = 200_000  # characters of the source shown on the page; the download has it all


@page
async def inbox(request: Request) -> Response:
    search = {name: param(request.query_params, name) for name in ("recipient", "subject")}
    number_ = number(request.query_params, "page", 1)
    total, rows = await list_items(
        services(request).store,
        limit=PAGE_SIZE,
        skip=(number_ - 1) * PAGE_SIZE,
        recipient=search["recipient"] or None,
        domain=None,
        subject=search["subject"] or None,
    )
    pages = max(1, -(-total // PAGE_SIZE))
    context = {
        "title": "Inbox",
        "search": search,
        "rows": rows,
        "total": total,
        "page": number_,
        "pages": pages,
        "previous": link("/inbox", {**search, "page": str(number_ - 1)}) if number_ > 1 else "",
        "next": link("/inbox", {**search, "page": str(number_ + 1)}) if number_ < pages else "",
    }
    return render(request, "inbox.html", context)


def _id(request: Request) -> str:
    return str(request.path_params["item_id"])


@page
async def item(request: Request) -> Response:
    try:
        row, raw = await get_item(services(request).store, _id(request))
    except NotFound as exc:
        return error_page(request, exc)
    base = f"/inbox/{row.id}"
    source = raw.decode("utf-8", errors="replace")
    context = {
        "title": row.subject or "(no subject)",
        "row": row,
        "base": base,
        "message": describe(
            raw,
            recipients=[row.recipient],
            sender=row.sender,
            attachment_url=lambda i: f"{base}/attachments/{i}",
        ),
        "raw": source[:RAW_SHOWN],
        "raw_truncated": len(source) > RAW_SHOWN,
    }
    return render(request, "inbox_item.html", context)


@page
async def preview(request: Request) -> Response:
    try:
        row, raw = await get_item(services(request).store, _id(request))
    except NotFound as exc:
        return error_page(request, exc)
    described = describe(raw, recipients=[row.recipient], sender=row.sender, attachment_url=str)
    return html_preview(described["body-html"])


@page
async def source(request: Request) -> Response:
    try:
        row, raw = await get_item(services(request).store, _id(request))
    except NotFound as exc:
        return error_page(request, exc)
    return download(raw, "message/rfc822", f"{row.id}.eml")


@page
async def item_attachment(request: Request) -> Response:
    try:
        row, raw = await get_item(services(request).store, _id(request))
    except NotFound as exc:
        return error_page(request, exc)
    index = str(request.path_params["index"])
    found = attachment(raw, int(index)) if index.isdigit() else None
    if found is None:
        return error_page(request, NotFound("The message has no such attachment."))
    files = describe(raw, recipients=[row.recipient], sender=row.sender, attachment_url=str)
    return download(found[1], found[0], files["attachments"][int(index)]["name"])


@page
async def delete_one(request: Request) -> Response:
    try:
        await delete_items(services(request).store, str(request.path_params["item_id"]))
    except NotFound as exc:
        return error_page(request, exc)
    return see_other("/inbox")


@page
async def delete_all(request: Request) -> Response:
    await delete_items(services(request).store)
    return see_other("/inbox")


ROUTES = [
    Route("/inbox", inbox, methods=["GET"]),
    Route("/inbox/clear", delete_all, methods=["POST"]),
    Route("/inbox/{item_id}", item, methods=["GET"]),
    Route("/inbox/{item_id}/preview", preview, methods=["GET"]),
    Route("/inbox/{item_id}/raw", source, methods=["GET"]),
    Route("/inbox/{item_id}/attachments/{index}", item_attachment, methods=["GET"]),
    Route("/inbox/{item_id}/delete", delete_one, methods=["POST"]),
]
