"""DKIM keys: Mailgun's domain-key endpoints (``/v1/dkim/keys``, ``/v4/domains/{name}/keys``),
its automatic rotation (``/v1/dkim_management/domains/{name}/rotation`` and ``.../rotate``)
and our rotation extension (``/mailwright/v1/domains/{name}/dkim/keys``, ``.../dkim/rotate``
and ``.../dkim/activate``), all over the same keys (``domains/key_management.py``,
``domains/autorotation.py``)."""

from __future__ import annotations

from urllib.parse import quote

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
from mailwright.domains import activate_key, key_json, list_keys, rotate_key
from mailwright.domains import autorotation as auto
from mailwright.domains import key_management as km
from mailwright.errors import InvalidInput

DKIM = "/mailwright/v1/domains/{name}/dkim"
DKIM_MANAGEMENT = "/v1/dkim_management/domains/{name}"


async def get_keys(request: Request) -> Response:
    """Every DKIM key of the domain: `selector`, `algorithm` (rsa or ed25519), `state`
    (pending, active, retiring or retired), `created_at`, `activated_at`, `retire_at` and the
    `dns_record` to publish; and `rotation`, the automatic rotation setting (`enabled`,
    `interval`, `next_rotation_at`)."""
    (await principal(request)).require_account()
    svc = services(request)
    row, setting, keys = await auto.get_rotation(svc.store, path_param(request, "name"))
    now = svc.clock()
    return json_response(
        {
            "items": [key_json(k, row.name, now) for k in keys],
            "rotation": auto.rotation_json(setting, keys),
        }
    )


async def rotate(request: Request) -> Response:
    """Generate a new DKIM key (pending) with a new selector and answer the record to publish.
    Form: `algorithm` (rsa, the default, or ed25519: signs beside RSA once active),
    `key_size` (1024 or 2048), `selector`, `grace_days` (how long the replaced key stays
    published and listed once the new one is active; default 7). Signing switches only when
    the record verifies: call `dkim/activate` or verify the domain."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    now = svc.clock()
    row, key = await rotate_key(svc.store, path_param(request, "name"), form.as_dict(), now=now)
    return json_response(
        {
            "message": "DKIM key created: publish its DNS record, then activate it",
            "key": key_json(key, row.name, now),
        }
    )


async def activate(request: Request) -> Response:
    """Switch signing to the pending key (or the one with form `selector`) once its DNS record
    is published; 400 saying what was found when it is not yet."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    name = path_param(request, "name")
    now = svc.clock()
    keys = await activate_key(
        svc.store, svc.resolver, name, now=now, selector=(form.get("selector") or "").lower()
    )
    svc.domains.forget(name)
    row, _ = await list_keys(svc.store, name)
    return json_response(
        {
            "message": "DKIM key activated",
            "activated": [key_json(k, row.name, now) for k in keys],
        }
    )


async def mailgun_domain_keys(request: Request) -> Response:
    """Mailgun's list of a signing domain's keys (not retired): `signing_domain`, `selector`
    and `dns_record` (looked up now: `valid`, `cached`; `is_active`: the key signs)."""
    (await principal(request)).require_account()
    svc = services(request)
    items = await km.domain_keys(
        svc.store, svc.resolver, path_param(request, "name"), now=svc.clock()
    )
    return json_response({"items": items})


async def mailgun_list_keys(request: Request) -> Response:
    """Every domain key of the account (`signing_domain`, `selector`), filtered by
    `signing_domain` and `selector`; `limit` (default 100) and `page` (the `paging` links)."""
    (await principal(request)).require_account()
    svc = services(request)
    query = request.query_params
    limit = int_param(request, "limit", 100, low=1, high=1000) if query.get("limit") else 100
    skip = int_param(request, "page", 0, high=10**9) if query.get("page") else 0
    domain, selector = query.get("signing_domain", ""), query.get("selector", "")
    total, rows = await km.all_keys(
        svc.store, domain=domain, selector=selector, limit=limit, skip=skip
    )
    filters = "".join(
        f"&{k}={quote(v)}" for k, v in (("signing_domain", domain), ("selector", selector)) if v
    )

    def page(offset: int) -> str:
        return f"{svc.public_url}/v1/dkim/keys?limit={limit}{filters}&page={offset}"

    return json_response(
        {
            "items": [{"selector": key.selector, "signing_domain": name} for name, key in rows],
            "paging": {
                "first": page(0),
                "last": page(max(0, (total - 1) // limit * limit)),
                "next": page(skip + limit),
                "previous": page(max(0, skip - limit)),
            },
        }
    )


async def mailgun_create_key(request: Request) -> Response:
    """Create a domain key: `signing_domain` and `selector` (required), `bits` (1024 or
    2048), or `pem` (a file: an RSA private key to import). The key waits, pending, until
    its DNS record is published and it is activated (or the domain verified)."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    upload = next((u for u in form.uploads if u.field == "pem"), None)
    pem = upload.data if upload is not None else (form.get("pem") or "").encode() or None
    now = svc.clock()
    row, key = await km.create_key(svc.store, form.as_dict(), pem, now=now)
    return json_response(km.mailgun_key_json(key, row.name, now=now))


async def mailgun_activate(request: Request) -> Response:
    """Make the domain key at `selector` the one that signs; its DNS record must be
    published (400 saying what was found otherwise)."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    selector = path_param(request, "selector")
    row = await km.activate(
        svc.store, svc.resolver, path_param(request, "name"), selector, now=svc.clock()
    )
    svc.domains.forget(row.name)
    return json_response(
        {
            "active": True,
            "authority": row.name,
            "message": "domain key activated",
            "selector": selector,
        }
    )


async def mailgun_deactivate(request: Request) -> Response:
    """Take the domain key at `selector` out of use now (it retires). The RSA key the domain
    signs with is refused (400): activate another key to replace it."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    selector = path_param(request, "selector")
    row = await km.deactivate(svc.store, path_param(request, "name"), selector, now=svc.clock())
    svc.domains.forget(row.name)
    return json_response(
        {
            "active": False,
            "authority": row.name,
            "message": "domain key deactivated",
            "selector": selector,
        }
    )


async def mailgun_delete_key(request: Request) -> Response:
    """Delete the domain key `signing_domain` + `selector` (query string or form); the RSA
    key the domain signs with is refused (400)."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    fields = dict(request.query_params) | (await read_form(request)).as_dict()
    domain = (fields.get("signing_domain") or "").strip()
    selector = (fields.get("selector") or "").strip()
    for name, value in (("signing_domain", domain), ("selector", selector)):
        if not value:
            raise InvalidInput(f"'{name}' parameter is missing", field=name)
    row = await km.delete(svc.store, domain, selector)
    svc.domains.forget(row.name)
    return json_response({"message": "success"})


async def mailgun_update_rotation(request: Request) -> Response:
    """Turn automatic DKIM rotation on or off: `rotation_enabled` (true or false, required),
    `rotation_interval` (such as 5d or 720h; at least 5d; default 180d). Once the active key
    is older than the interval the worker makes a new pending key; it signs once its DNS
    record (in `records`) is published and verifies."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    now = svc.clock()
    row, setting, keys = await auto.update_rotation(
        svc.store, path_param(request, "name"), form.as_dict(), now=now
    )
    return json_response(auto.mailgun_rotation_json(row, setting, keys, now=now))


async def mailgun_rotate(request: Request) -> Response:
    """Start a DKIM rotation now, automatic rotation on or off: a new pending key (see
    `GET /v4/domains/{name}/keys`) that signs once its DNS record is published and verifies;
    the worker activates it."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    await auto.rotate_now(svc.store, path_param(request, "name"), now=svc.clock())
    return json_response({"message": "ok"})


ROUTES = [
    Route("/v1/dkim/keys", mailgun_list_keys, methods=["GET"]),
    Route("/v1/dkim/keys", mailgun_create_key, methods=["POST"]),
    Route("/v1/dkim/keys", mailgun_delete_key, methods=["DELETE"]),
    Route("/v4/domains/{name}/keys", mailgun_domain_keys, methods=["GET"]),
    Route("/v4/domains/{name}/keys/{selector}/activate", mailgun_activate, methods=["PUT"]),
    Route("/v4/domains/{name}/keys/{selector}/deactivate", mailgun_deactivate, methods=["PUT"]),
    Route(DKIM_MANAGEMENT + "/rotation", mailgun_update_rotation, methods=["PUT"]),
    Route(DKIM_MANAGEMENT + "/rotate", mailgun_rotate, methods=["POST"]),
    Route(DKIM + "/keys", get_keys, methods=["GET"]),
    Route(DKIM + "/rotate", rotate, methods=["POST"]),
    Route(DKIM + "/activate", activate, methods=["POST"]),
]
