"""The recipient's side of tracking, without auth: the open pixel (``/o``), tracked links
(``/c``) and the hosted unsubscribe page (``/u``, also RFC 8058 one-click POSTs)."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mailwright.api.context import client_of, path_param, services
from mailwright.logs import get_logger
from mailwright.messages import TokenKind
from mailwright.tracking import Visit

log = get_logger(__name__)

# The smallest transparent GIF: 1x1, one colour, transparent.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = {"Cache-Control": "no-cache, no-store, must-revalidate, max-age=0"}
UNSUBSCRIBE_KINDS = (TokenKind.UNSUBSCRIBE, TokenKind.TAG_UNSUBSCRIBE, TokenKind.LIST_UNSUBSCRIBE)


def _visit(request: Request) -> Visit:
    return Visit(ip=client_of(request) or "", user_agent=request.headers.get("user-agent", ""))


async def open_pixel(request: Request) -> Response:
    """The open-tracking pixel: records `opened` and answers a 1x1 GIF (no auth)."""
    tracker = services(request).tracker
    token = await tracker.token(path_param(request, "token"), (TokenKind.OPEN,))
    await tracker.opened(token, _visit(request))
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


async def click(request: Request) -> Response:
    """A tracked link: records `clicked`, redirects (302) to the URL it was signed for (no auth)."""
    tracker = services(request).tracker
    token = await tracker.token(path_param(request, "token"), (TokenKind.CLICK,))
    await tracker.clicked(token, _visit(request))
    return Response(status_code=302, headers={"Location": token.value} | NO_STORE)


async def unsubscribe_page(request: Request) -> Response:
    """The hosted unsubscribe page: asks to confirm; GET never unsubscribes (no auth)."""
    token = await services(request).tracker.token(path_param(request, "token"), UNSUBSCRIBE_KINDS)
    what = _what(token.kind, token.value)
    body = (
        f"<p>Unsubscribe <b>{html.escape(token.recipient)}</b> from {what} sent by "
        f"{html.escape(token.domain)}?</p>"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return HTMLResponse(_page("Unsubscribe", body), headers=NO_STORE)


async def unsubscribe(request: Request) -> Response:
    """Unsubscribe (the page's button, RFC 8058 one-click): records `unsubscribed` (no auth)."""
    tracker = services(request).tracker
    token = await tracker.token(path_param(request, "token"), UNSUBSCRIBE_KINDS)
    try:
        await tracker.unsubscribe(token, _visit(request))
    except Exception:
        log.exception("unsubscribe_failed", domain=token.domain)
        body = "<p>Sorry, we could not unsubscribe you just now. Please try again later.</p>"
        return HTMLResponse(_page("Unsubscribe failed", body), status_code=503)
    where = (
        f"the mailing list {token.value}"
        if token.kind == TokenKind.LIST_UNSUBSCRIBE
        else token.domain
    )
    body = (
        f"<p><b>{html.escape(token.recipient)}</b> has been unsubscribed from "
        f"{html.escape(where)}.</p>"
    )
    return HTMLResponse(_page("Unsubscribed", body), headers=NO_STORE)


def _what(kind: TokenKind, value: str) -> str:
    if kind == TokenKind.LIST_UNSUBSCRIBE:
        return f"messages of the mailing list {html.escape(value)}"
    return "these messages" if kind == TokenKind.TAG_UNSUBSCRIBE else "all messages"


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head>"
        '<body style="font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em">'
        f"<h1>{title}</h1>{body}</body></html>"
    )
