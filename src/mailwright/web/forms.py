"""Small helpers the list pages share: reading query values, error pages and page links."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailwright.errors import InvalidInput, NotFound, ServiceError
from mailwright.web.templating import render


def text(values: Mapping[str, str], name: str) -> str:
    """A query or form value, trimmed; ``""`` when absent."""
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def number(values: Mapping[str, str], name: str, default: int) -> int:
    """A positive whole number (a page number), ``default`` when absent or not one."""
    raw = text(values, name)
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**9 else default


def link(path: str, params: Mapping[str, str]) -> str:
    """``path`` with the non-empty ``params`` as its query."""
    query = urlencode([(k, v) for k, v in params.items() if v])
    return f"{path}?{query}" if query else path


def error_page(request: Request, error: ServiceError) -> Response:
    """The error page for a package's exception: 404 for NotFound, 400 for bad input."""
    if isinstance(error, NotFound):
        return render(request, "error.html", {"title": "Not found", "message": error.message}, 404)
    if isinstance(error, InvalidInput):
        return render(
            request, "error.html", {"title": "Bad request", "message": error.message}, 400
        )
    raise error


def see_other(path: str) -> Response:
    """After a successful POST: back to a page with GET (303)."""
    return RedirectResponse(path, status_code=303)
