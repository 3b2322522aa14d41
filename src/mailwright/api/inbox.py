"""The capture inbox (``/mailwright/v1/inbox``): our own endpoints, outside Mailgun's paths."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mailwright.api.context import int_param, json_response, path_param, principal, services
from mailwright.errors import NotFound
from mailwright.inbox import delete_items, get_item, item_json, list_items
from mailwright.messages import attachment, describe
from mailwright.store import InboxRow


async def list_all(request: Request) -> Response:
    """Captured messages, newest first (`recipient`, `domain`, `limit`, `skip`); a test
    credential sees its test-mode mail only."""
    who = await principal(request)
    who.require_account()
    svc = services(request)
    total, rows = await list_items(
        svc.store,
        limit=int_param(request, "limit", 100, low=1, high=1000),
        skip=int_param(request, "skip", 0, high=10**9),
        recipient=request.query_params.get("recipient"),
        domain=request.query_params.get("domain"),
        is_test_only=who.is_test,
    )
    items = [item_json(r, svc.public_url) for r in rows]
    return json_response({"total_count": total, "items": items})


async def _item(request: Request) -> tuple[InboxRow, bytes]:
    who = await principal(request)
    who.require_account()
    item_id = path_param(request, "item_id")
    return await get_item(services(request).store, item_id, is_test_only=who.is_test)


async def get_one(request: Request) -> Response:
    """One captured message, parsed (`body-plain`, `body-html`, headers, attachments)."""
    svc = services(request)
    row, raw = await _item(request)
    base = item_json(row, svc.public_url)
    parsed = describe(
        raw,
        recipients=[row.recipient],
        sender=row.sender,
        attachment_url=lambda i: f"{base['url']}/attachments/{i}",
    )
    return json_response(base | parsed)


async def get_raw(request: Request) -> Response:
    """One captured message as the exact bytes delivered (`message/rfc822`)."""
    _, raw = await _item(request)
    return Response(raw, media_type="message/rfc822")


async def get_attachment(request: Request) -> Response:
    """One attachment of a captured message."""
    _, raw = await _item(request)
    index = path_param(request, "index")
    found = attachment(raw, int(index)) if index.isdigit() else None
    if found is None:
        raise NotFound("Attachment not found")
    return Response(found[1], media_type=found[0])


async def delete_one(request: Request) -> Response:
    """Delete one captured message."""
    who = await principal(request)
    who.require_account(write=True)
    await delete_items(
        services(request).store, path_param(request, "item_id"), is_test_only=who.is_test
    )
    return json_response({"message": "Message has been deleted"})


async def delete_all(request: Request) -> Response:
    """Empty the inbox (a test credential: its test-mode mail)."""
    who = await principal(request)
    who.require_account(write=True)
    count = await delete_items(services(request).store, is_test_only=who.is_test)
    return json_response({"message": f"{count} messages have been deleted"})
