"""DKIM key rotation, our extension (Mailgun rotates keys only on its side):
``/mailwright/v1/domains/{name}/dkim/keys``, ``.../dkim/rotate`` and ``.../dkim/activate``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_response, path_param, principal, read_form, services
from mailwright.domains import activate_key, key_json, list_keys, rotate_key

DKIM = "/mailwright/v1/domains/{name}/dkim"


async def get_keys(request: Request) -> Response:
    """Every DKIM key of the domain: `selector`, `algorithm` (rsa or ed25519), `state`
    (pending, active, retiring or retired), `created_at`, `activated_at`, `retire_at` and the
    `dns_record` to publish."""
    (await principal(request)).require_account()
    svc = services(request)
    row, keys = await list_keys(svc.store, path_param(request, "name"))
    now = svc.clock()
    return json_response({"items": [key_json(k, row.name, now) for k in keys]})


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


ROUTES = [
    Route(DKIM + "/keys", get_keys, methods=["GET"]),
    Route(DKIM + "/rotate", rotate, methods=["POST"]),
    Route(DKIM + "/activate", activate, methods=["POST"]),
]
