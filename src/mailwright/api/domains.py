"""Mailgun's domain endpoints, v4 and v3: list, create, get, update, verify, delete, the
connection and tracking settings, the DKIM selector and authority, the tracking web prefix
and the sending queues' state."""

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
from mailwright.auth import (
    change_password,
    check_password,
    create_credential,
    delete_credentials,
)
from mailwright.domains import (
    DnsRecord,
    connection_json,
    create_domain,
    delete_domain,
    domain_json,
    get_domain,
    get_quota,
    list_domains,
    tracking_json,
    update_connection,
    update_tracking,
    verify_domain,
)
from mailwright.domains.quotas import queue_status
from mailwright.domains.settings import set_dkim_selector, set_web_prefix, update_settings
from mailwright.errors import InvalidInput, NotFound
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


async def update(request: Request) -> Response:
    """Change the domain's settings: `spam_action` (disabled, block, tag), `wildcard`,
    `web_scheme` (http, https), `web_prefix`, `require_tls`, `skip_verification`, and
    `smtp_password` (the password of `postmaster@{name}`). Fields not given keep their
    values; `archive_to`, `mailfrom_host`, `message_ttl` and
    `use_automatic_sender_security` are refused (400)."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    fields = form.as_dict()
    smtp_password = fields.pop("smtp_password", None)
    if smtp_password:
        check_password(smtp_password)
    row = await update_settings(svc.store, path_param(request, "name"), fields)
    if smtp_password:
        try:
            await change_password(svc.store, row.name, "postmaster", smtp_password, now=svc.clock())
        except NotFound:
            await create_credential(
                svc.store, row.name, "postmaster", smtp_password, now=svc.clock()
            )
        svc.credentials.forget()
    svc.domains.forget(row.name)
    body = _with_records(row, svc.dns_plan.sending(row), svc.dns_plan.receiving(row))
    body["message"] = "Domain has been updated"
    return json_response(body)


def _setting(request: Request, fields: dict[str, str], name: str) -> str | None:
    """A v3 setting, from the form or (as the Node SDK sends it) the query string."""
    value = fields.get(name)
    return value if value is not None else request.query_params.get(name)


async def put_dkim_selector(request: Request) -> Response:
    """Rename the selector of the domain's active DKIM key (`dkim_selector`): the same key,
    to be published under the new name (`sending_dns_records` in the answer)."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    fields = (await read_form(request)).as_dict()
    row = await set_dkim_selector(
        svc.store, path_param(request, "name"), _setting(request, fields, "dkim_selector")
    )
    svc.domains.forget(row.name)
    return json_response(
        {
            "message": "Domain DKIM selector has been updated",
            "sending_dns_records": [r.to_json() for r in svc.dns_plan.sending(row)],
        }
    )


async def put_dkim_authority(request: Request) -> Response:
    """`self=true`: the domain signs as its own DKIM authority, as every mailwright domain
    does. `self=false` (sharing a parent domain's key) is refused (400)."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    fields = (await read_form(request)).as_dict()
    row = await get_domain(svc.store, path_param(request, "name"))
    raw = (_setting(request, fields, "self") or "").strip().lower()
    if raw not in ("true", "false", "yes", "no"):
        raise InvalidInput("'self' must be true or false", field="self")
    if raw in ("false", "no"):
        raise InvalidInput(
            "mailwright domains are always their own DKIM authority: 'self' can only be true",
            field="self",
        )
    return json_response(
        {
            "changed": False,
            "message": "Domain DKIM authority has been changed",
            "sending_dns_records": [r.to_json() for r in svc.dns_plan.sending(row)],
        }
    )


async def put_web_prefix(request: Request) -> Response:
    """Change the tracking CNAME's label (`web_prefix`, `email` by default)."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    fields = (await read_form(request)).as_dict()
    row = await set_web_prefix(
        svc.store, path_param(request, "name"), _setting(request, fields, "web_prefix")
    )
    svc.domains.forget(row.name)
    return json_response({"message": "Domain web prefix updated"})


async def sending_queues(request: Request) -> Response:
    """The state of the domain's regular and scheduled queues: disabled, with `until` and
    `reason`, while one of its sending quotas is used up."""
    (await principal(request)).require_account()
    svc = services(request)
    now = svc.clock()
    quota = await get_quota(svc.store, path_param(request, "name"), now=now)
    return json_response(queue_status(quota, now))


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
