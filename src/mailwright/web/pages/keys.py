"""API keys: the list (never a secret), creating one (its secret shown once) and deleting."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailwright.api.context import path_param, services
from mailwright.auth import ROLES, create_key, delete_key, list_keys, parse_ranges
from mailwright.errors import InvalidInput, ServiceError
from mailwright.web.forms import Form, domain_names, failure, read_form, text
from mailwright.web.session import page
from mailwright.web.templating import render

DAY = 86400
# label -> seconds until the key expires ("" never)
EXPIRIES = (
    ("Never", ""),
    ("1 day", str(DAY)),
    ("30 days", str(30 * DAY)),
    ("90 days", str(90 * DAY)),
    ("1 year", str(365 * DAY)),
)


async def _show(
    request: Request,
    *,
    created: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    svc = services(request)
    await svc.keys.flush()  # this process's recent uses, so "last used" is current
    context = {
        "title": "API keys",
        "keys": await list_keys(svc.store),
        "roles": ROLES,
        "domains": await domain_names(request),
        "expiries": EXPIRIES,
        "created": created,
        "error": error,
    }
    return render(request, "keys.html", context, status=status)


@page
async def keys(request: Request) -> Response:
    return await _show(request)


def _expiration(form: Form) -> float | None:
    value = text(form, "expiration")
    if value and not value.isdigit():
        raise InvalidInput("'expiration' must be a number of seconds", field="expiration")
    return float(value) if value else None


@page
async def create(request: Request) -> Response:
    """The same call as ``POST /v1/keys``: a domain chosen makes a domain key."""
    svc = services(request)
    form = await read_form(request)
    domain = text(form, "domain_name") or None
    try:
        row, secret = await create_key(
            svc.store,
            role=text(form, "role"),
            kind="domain" if domain else "user",
            domain_name=domain,
            description=text(form, "description"),
            expiration=_expiration(form),
            user_name=request.state.session.user.username,
            allowed_ips=parse_ranges(text(form, "allowed_ips")),
            now=svc.clock(),
        )
    except ServiceError as exc:
        message, status = failure(exc)
        return await _show(request, error=message, status=status)
    return await _show(request, created={"id": row.id, "secret": secret})


@page
async def delete(request: Request) -> Response:
    svc = services(request)
    try:
        await delete_key(svc.store, path_param(request, "key_id"))
    except ServiceError as exc:
        message, status = failure(exc)
        return await _show(request, error=message, status=status)
    svc.keys.forget()
    return RedirectResponse("/keys", status_code=303)


ROUTES = [
    Route("/keys", keys, methods=["GET"]),
    Route("/keys", create, methods=["POST"]),
    Route("/keys/{key_id}/delete", delete, methods=["POST"]),
]
