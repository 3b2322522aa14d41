"""``/mailwright/v1/messages/{key}/attempts``: each SMTP attempt of a stored message, with the
transcript of the session (AUTH redacted, message data summarised)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mailwright.api.context import json_response, path_param, principal, services
from mailwright.delivery import attempts_of
from mailwright.messages import load


async def list_for_message(request: Request) -> Response:
    """Every delivery attempt of a stored message (by storage key), oldest first, with the
    SMTP transcript of each."""
    who = await principal(request)
    svc = services(request)
    key = path_param(request, "key")
    stored = await load(svc.store, key)
    who.require_send(stored.row.domain)
    items = await attempts_of(svc.store, key)
    return json_response({"message-id": stored.row.message_id, "items": items})
