"""Untrusted message content served apart from the dashboard's pages.

An email's HTML is shown in ``<iframe sandbox src=...>`` from its own route, whose CSP makes the
document a sandbox with a unique origin that may run no script, load nothing from the network
and reach neither the dashboard's DOM nor its cookies. Attachments and raw sources are always
downloads, never rendered in our origin.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import HTMLResponse, Response

PREVIEW_CSP = (
    "sandbox; default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'"
)
_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def html_preview(html: str) -> Response:
    return HTMLResponse(html, headers={"Content-Security-Policy": PREVIEW_CSP, **_COMMON})


def download(data: bytes, content_type: str, filename: str) -> Response:
    safe = quote(filename or "download", safe="")
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{safe}",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            **_COMMON,
        },
    )
