"""Mailgun's address validation: ``GET``/``POST /v4/address/validate``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_response, principal, read_form, services
from mailwright.errors import InvalidInput
from mailwright.validation import MAX_INPUT

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _provider_lookup(value: str | None) -> bool:
    if value is None or value == "":
        return True
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidInput("'provider_lookup' must be true or false", field="provider_lookup")


def _address(value: str | None) -> str:
    if value is None or value == "":
        raise InvalidInput("'address' parameter is missing", field="address")
    if len(value) > MAX_INPUT:
        raise InvalidInput(f"'address' is longer than {MAX_INPUT} characters", field="address")
    return value


async def validate_get(request: Request) -> Response:
    """Validate one address: `address` (required), `provider_lookup` (true/false, default true:
    probe the mailbox when probing is enabled)."""
    (await principal(request)).require_account()
    params = request.query_params
    address = _address(params.get("address"))
    lookup = _provider_lookup(params.get("provider_lookup"))
    return json_response(
        await services(request).validator.validate(address, provider_lookup=lookup)
    )


async def validate_post(request: Request) -> Response:
    """Validate one address given as form field `address` (and optional `provider_lookup`)."""
    (await principal(request)).require_account()
    form = await read_form(request)
    address = _address(form.get("address"))
    lookup = _provider_lookup(
        form.get("provider_lookup", request.query_params.get("provider_lookup"))
    )
    return json_response(
        await services(request).validator.validate(address, provider_lookup=lookup)
    )


ROUTES = [
    Route("/v4/address/validate", validate_get, methods=["GET"]),
    Route("/v4/address/validate", validate_post, methods=["POST"]),
]
