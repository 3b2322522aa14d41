"""Our extension for per-domain sending quotas (Mailgun sets sending limits per domain on its
side and exposes no endpoint for them): ``/mailwright/v1/domains/{name}/limits``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_response, path_param, principal, read_form, services
from mailwright.domains import get_quota, set_quota

LIMITS = "/mailwright/v1/domains/{name}/limits"


async def get_limits(request: Request) -> Response:
    """The domain's sending quotas (`hourly`, `daily`; null: none) and this hour's and day's
    usage (UTC windows)."""
    (await principal(request)).require_account()
    svc = services(request)
    quota = await get_quota(svc.store, path_param(request, "name"), now=svc.clock())
    return json_response(quota.to_json())


async def put_limits(request: Request) -> Response:
    """Set `hourly` and/or `daily` sending quotas (0 or empty: no limit). Deliveries over a
    quota stay queued until the next hour or day opens."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    form = await read_form(request)
    quota = await set_quota(svc.store, path_param(request, "name"), form.as_dict(), now=svc.clock())
    return json_response({"message": "Domain sending limits updated", **quota.to_json()})


ROUTES = [
    Route(LIMITS, get_limits, methods=["GET"]),
    Route(LIMITS, put_limits, methods=["PUT"]),
]
