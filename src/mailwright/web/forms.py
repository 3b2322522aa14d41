"""What the pages share: a submitted form's fields, a refused form's status, the domain a
per-domain page shows, query values, page links and error pages."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailwright.api.context import Form, read_form, services
from mailwright.api.errors import status_of
from mailwright.domains import list_domains
from mailwright.errors import InvalidInput, NotFound, ServiceError
from mailwright.web.templating import render

__all__ = [
    "Form",
    "domain_names",
    "error_page",
    "failure",
    "link",
    "number",
    "param",
    "pick_domain",
    "read_form",
    "see_other",
    "text",
]

MAX_DOMAINS = 1000


def text(form: Form, name: str) -> str:
    """A field's value, stripped; empty when absent."""
    return (form.get(name) or "").strip()


def failure(exc: ServiceError) -> tuple[str, int]:
    """What a page shows for a refused action: the message and the API's status for it."""
    return exc.message, status_of(exc)


async def domain_names(request: Request) -> list[str]:
    _, rows = await list_domains(services(request).store, limit=MAX_DOMAINS)
    return [row.name for row in rows]


def pick_domain(request: Request, names: list[str], given: str | None = None) -> str | None:
    """The domain asked for (path or ``?domain=``) when it exists, else the first one."""
    wanted = (given or request.query_params.get("domain") or "").strip().lower()
    if wanted in names:
        return wanted
    return names[0] if names else None


def param(values: Mapping[str, str], name: str) -> str:
    """A query (or parsed form) value, stripped; empty when absent."""
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def number(values: Mapping[str, str], name: str, default: int) -> int:
    """A positive whole number (a page number), ``default`` when absent or not one."""
    raw = param(values, name)
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
