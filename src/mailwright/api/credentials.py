"""Mailgun's SMTP credential endpoints (``/v3/domains/{domain}/credentials``).

Credentials are account administration: domain sending keys are refused, as for every
endpoint but sending.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import (
    int_param,
    json_response,
    path_param,
    principal,
    read_form,
    services,
)
from mailwright.auth import (
    change_password,
    create_credential,
    credential_json,
    delete_credential,
    delete_credentials,
    list_credentials,
)
from mailwright.errors import InvalidInput


async def list_all(request: Request) -> Response:
    """List a domain's SMTP credentials (`skip`, `limit`); passwords are never shown."""
    (await principal(request)).require_account()
    total, items = await list_credentials(
        services(request).store,
        path_param(request, "domain"),
        skip=int_param(request, "skip", 0, high=10**9),
        limit=int_param(request, "limit", 100, low=1, high=1000),
    )
    return json_response({"total_count": total, "items": [credential_json(c) for c in items]})


async def create(request: Request) -> Response:
    """Create SMTP credentials: `login` (`alice` or `alice@domain`) and `password` (5-32
    characters)."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    login = form.get("login") or form.get("mailbox")
    if not login:
        raise InvalidInput("'login' parameter is missing", field="login")
    await create_credential(
        svc.store, path_param(request, "domain"), login, form.get("password") or "", now=svc.clock()
    )
    return json_response({"message": "Created 1 credentials pair(s)"})


async def update(request: Request) -> Response:
    """Change the `password` of one SMTP login."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    login = await change_password(
        svc.store,
        path_param(request, "domain"),
        path_param(request, "login"),
        form.get("password") or "",
        now=svc.clock(),
    )
    svc.credentials.forget(login)
    return json_response({"message": "Password changed"})


async def delete(request: Request) -> Response:
    """Delete one SMTP login; it stops working at once."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    login = await delete_credential(
        svc.store, path_param(request, "domain"), path_param(request, "login")
    )
    svc.credentials.forget(login)
    return json_response({"message": "Credentials have been deleted", "spec": login})


async def delete_all(request: Request) -> Response:
    """Delete every SMTP login of the domain."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    domain = (await svc.domains.get(path_param(request, "domain"))).name
    count = await delete_credentials(svc.store, domain)
    svc.credentials.forget()
    return json_response({"message": "All domain credentials have been deleted", "count": count})


CREDENTIALS = "/v3/domains/{domain}/credentials"

ROUTES = [
    Route(CREDENTIALS, list_all, methods=["GET"]),
    Route(CREDENTIALS, create, methods=["POST"]),
    Route(CREDENTIALS, delete_all, methods=["DELETE"]),
    Route(CREDENTIALS + "/{login}", update, methods=["PUT"]),
    Route(CREDENTIALS + "/{login}", delete, methods=["DELETE"]),
]
