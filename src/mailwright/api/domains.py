"""Mailgun's domain endpoints, v4 and v3: list, create, get, verify, delete, and the
connection and tracking settings."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mailwright.api.context import (
    int_param,
    json_response,
    path_param,
    principal,
    read_form,
    services,
)
from mailwright.auth import check_password, create_credential, delete_credentials
from mailwright.domains import (
    DnsRecord,
    connection_json,
    create_domain,
    delete_domain,
    domain_json,
    get_domain,
    list_domains,
    tracking_json,
    update_connection,
    update_tracking,
    verify_domain,
)
from mailwright.errors import InvalidInput
from mailwright.store import DomainRow


def _with_records(
    row: DomainRow, sending: list[DnsRecord], receiving: list[DnsRecord]
) -> dict[str, Any]:
    return {
        "domain": domain_json(row),
        "receiving_dns_records": [r.to_json() for r in receiving],
        "sending_dns_records": [r.to_json() for r in sending],
    }


async def list_all(request: Request) -> Response:
    """List domains (`limit`, `skip`, `state`)."""
    (await principal(request)).require_account()
    state = request.query_params.get("state") or None
    total, rows = await list_domains(
        services(request).store,
        limit=int_param(request, "limit", 100, low=1, high=1000),
        skip=int_param(request, "skip", 0, high=10**9),
        state=state,
    )
    return json_response({"total_count": total, "items": [domain_json(r) for r in rows]})


async def create(request: Request) -> Response:
    """Create a domain with a new DKIM key; answers the DNS records to publish.
    `smtp_password` creates the SMTP login `postmaster@{name}`."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    name = form.get("name")
    if not name:
        raise InvalidInput("'name' parameter is missing", field="name")
    smtp_password = form.get("smtp_password")
    if smtp_password:
        check_password(smtp_password)
    row = await create_domain(svc.store, name, form.as_dict(), now=svc.clock())
    if smtp_password:
        # Mailgun's smtp_login is postmaster@domain; smtp_password sets its password.
        await create_credential(svc.store, row.name, "postmaster", smtp_password, now=svc.clock())
    body = _with_records(row, svc.dns_plan.sending(row), svc.dns_plan.receiving(row))
    body["message"] = "Domain DNS records have been created"
    return json_response(body)


async def get_one(request: Request) -> Response:
    """One domain with its sending and receiving DNS records."""
    (await principal(request)).require_account()
    svc = services(request)
    row = await get_domain(svc.store, path_param(request, "name"))
    return json_response(_with_records(row, svc.dns_plan.sending(row), svc.dns_plan.receiving(row)))


async def verify(request: Request) -> Response:
    """Look the domain's DNS records up now and report each record's `valid`."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    row, sending, receiving = await verify_domain(
        svc.store, svc.resolver, svc.dns_plan, path_param(request, "name"), now=svc.clock()
    )
    svc.domains.forget(row.name)  # a rotated DKIM key may have become the active one
    body = _with_records(row, sending, receiving)
    body["message"] = "Domain DNS records have been updated"
    return json_response(body)


async def delete(request: Request) -> Response:
    """Delete a domain."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    name = path_param(request, "name")
    await delete_domain(svc.store, name)
    await delete_credentials(svc.store, name)
    svc.domains.forget(name)
    svc.credentials.forget()
    if svc.egress is not None:
        svc.egress.forget()
    return json_response({"message": "Domain has been deleted"})


async def get_connection(request: Request) -> Response:
    """The domain's delivery TLS settings: `require_tls`, `skip_verification`."""
    (await principal(request)).require_account()
    row = await get_domain(services(request).store, path_param(request, "name"))
    return json_response({"connection": connection_json(row)})


async def put_connection(request: Request) -> Response:
    """Change `require_tls` and/or `skip_verification` for the domain's deliveries."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    row = await update_connection(svc.store, path_param(request, "name"), form.as_dict())
    svc.domains.forget(row.name)
    return json_response(
        {
            "message": "Domain connection settings have been updated, may take 10 minutes to fully "
            "propagate",
            "require_tls": row.require_tls,
            "skip_verification": row.skip_verification,
        }
    )


async def get_tracking(request: Request) -> Response:
    """The domain's open, click and unsubscribe tracking settings."""
    (await principal(request)).require_account()
    row = await get_domain(services(request).store, path_param(request, "name"))
    tracking = {kind: tracking_json(row, kind) for kind in ("open", "click", "unsubscribe")}
    return json_response({"tracking": tracking | {"web_scheme": row.web_scheme}})


async def _put_tracking(request: Request, kind: str) -> Response:
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    row = await update_tracking(svc.store, path_param(request, "name"), kind, form.as_dict())
    svc.domains.forget(row.name)
    return json_response(
        {"message": "Domain tracking settings have been updated", kind: tracking_json(row, kind)}
    )


async def put_tracking_open(request: Request) -> Response:
    """Turn open tracking on or off (`active`: yes/no; `place_at_the_top`)."""
    return await _put_tracking(request, "open")


async def put_tracking_click(request: Request) -> Response:
    """Turn click tracking on or off (`active`: yes/no/htmlonly)."""
    return await _put_tracking(request, "click")


async def put_tracking_unsubscribe(request: Request) -> Response:
    """Turn unsubscribe links on or off (`active`), set `html_footer` and `text_footer`."""
    return await _put_tracking(request, "unsubscribe")
