"""Request body size limit: refuse what is too large before reading it all.

Mailgun accepts messages up to 25 MB; a form carrying one adds field names, part headers and
boundaries, so a body may be up to 1 MiB more. A declared ``Content-Length`` over the limit is
answered 413 at once, without reading a byte; a body sent without one (chunked) is counted as
it arrives and refused as soon as it passes the limit.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailwright.errors import PayloadTooLarge
from mailwright.messages import MAX_MESSAGE_BYTES

FORM_OVERHEAD_BYTES = 1024 * 1024
MAX_BODY_BYTES = MAX_MESSAGE_BYTES + FORM_OVERHEAD_BYTES
TOO_LARGE = "Request body is too large: messages may be up to 25 MB"


class BodyLimit:
    """ASGI middleware answering 413 ``{"message": ...}`` for bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = JSONResponse({"message": TOO_LARGE}, status_code=413)
            # The rest of the body is never read: tell the client this connection is done.
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLarge(TOO_LARGE, field="body")
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
