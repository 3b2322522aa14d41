"""Jinja set-up and the one way a page is rendered: HTML with the dashboard's security headers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

# Everything is served from this process: no CDN, no inline script. Inline styles are allowed
# for chart colours only; frames are our own (the inbox preview, itself sandboxed).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(value: float | None) -> str:
    if not value:
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("mailwright.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENVIRONMENT.filters["when"] = _when
ENVIRONMENT.filters["age"] = _age


def secure(response: Response) -> Response:
    """The dashboard's headers, where the response has not set its own (message content sets a
    stricter sandbox CSP of its own)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    """``template`` rendered with ``context``, plus what every page needs: the signed-in
    session (if any), its CSRF token and the current path for the navigation."""
    session = getattr(request.state, "session", None)
    values = {
        "session": session,
        "csrf_token": session.csrf_token if session else "",
        "path": request.url.path,
        **(context or {}),
    }
    body = ENVIRONMENT.get_template(template).render(values)
    return secure(HTMLResponse(body, status_code=status))
