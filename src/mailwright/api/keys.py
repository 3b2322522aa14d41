"""Mailgun's API key endpoints (``/v1/keys``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mailwright.api.context import json_response, path_param, principal, read_form, services
from mailwright.auth import (
    create_key,
    delete_key,
    key_json,
    list_keys,
    parse_ranges,
    regenerate_public_key,
)
from mailwright.errors import Forbidden, InvalidInput


async def list_all(request: Request) -> Response:
    """List API keys (`domain_name`, `kind` filters) with `last_used_at` and `allowed_ips`;
    secrets are never shown again."""
    (await principal(request)).require_account()
    svc = services(request)
    await svc.keys.flush()  # this process's recent uses, so last_used_at is current
    rows = await list_keys(
        svc.store,
        domain_name=request.query_params.get("domain_name") or None,
        kind=request.query_params.get("kind") or None,
    )
    return json_response({"total_count": len(rows), "items": [key_json(r) for r in rows]})


async def create(request: Request) -> Response:
    """Create a key: `role`, `kind` (`user` or `domain` with `domain_name`), `description`,
    `expiration` (seconds), `allowed_ips` (IP addresses or CIDR ranges, comma-separated or
    repeated; a request from elsewhere gets 401), `environment` (`live`, or `test`: its sends
    are captured, never delivered, and it sees test-mode events only)."""
    who = await principal(request)
    who.require_account(write=True)
    if who.role not in ("admin", "developer"):
        raise InvalidInput("only admin keys may create keys", field="role")
    svc = services(request)
    form = await read_form(request)
    role = form.get("role")
    if not role:
        raise InvalidInput("'role' parameter is missing", field="role")
    environment = form.get("environment") or "live"
    if who.is_test and environment != "test":
        raise Forbidden("A test key may only create test keys")
    expiration = form.get("expiration")
    if expiration is not None and not expiration.isdigit():
        raise InvalidInput("'expiration' must be a number of seconds", field="expiration")
    row, secret = await create_key(
        svc.store,
        role=role,
        kind=form.get("kind") or "user",
        domain_name=form.get("domain_name") or None,
        description=form.get("description") or "",
        expiration=float(expiration) if expiration else None,
        user_name=form.get("user_name"),
        allowed_ips=parse_ranges(" ".join(form.get_all("allowed_ips"))),
        environment=environment,
        now=svc.clock(),
    )
    return json_response({"message": "great success", "key": key_json(row, secret)})


async def delete(request: Request) -> Response:
    """Delete (revoke) a key; every API process refuses it from now on."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    await delete_key(svc.store, path_param(request, "key_id"))
    svc.keys.forget()
    return json_response({"message": "key deleted"})


async def regenerate_public(request: Request) -> Response:
    """Make the account's public validation key (`pubkey-…`) anew and answer it, once: it may
    call address validation (`/v4/address/validate`) and nothing else; the one it replaces stops
    working. It is not listed with the API keys."""
    who = await principal(request)
    who.require_account(write=True)
    if who.role not in ("admin", "developer"):
        raise Forbidden("only admin keys may regenerate the public key")
    svc = services(request)
    secret = await regenerate_public_key(svc.store, svc.clock())
    svc.keys.forget()
    return json_response({"key": secret, "message": "The public key has been regenerated"})
