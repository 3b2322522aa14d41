"""Sending limits: Mailgun's custom monthly message limit of the account
(``/v5/accounts/limit/custom/monthly`` and ``.../enable``), and our extension for per-domain
sending quotas (Mailgun sets sending limits per domain on its side and exposes no endpoint for
them): ``/mailwright/v1/domains/{name}/limits``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_response, path_param, principal, read_form, services
from mailwright.domains import get_quota, set_quota
from mailwright.messages import (
    delete_monthly_limit,
    enable_sending,
    get_monthly_usage,
    set_monthly_limit,
)

LIMITS = "/mailwright/v1/domains/{name}/limits"
MONTHLY = "/v5/accounts/limit/custom/monthly"
ENABLE = "/v5/accounts/limit/custom/enable"
SUCCESS = {"success": True}


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


async def get_monthly(request: Request) -> Response:
    """The account's custom monthly message limit: `limit`, `current` (recipients accepted
    this calendar month, UTC, every domain and test mode included), `period` (`1m`) and
    `is_disabled` (sends are refused until enable or the next month); 404 when none is set."""
    (await principal(request)).require_account()
    svc = services(request)
    usage = await get_monthly_usage(svc.store, now=svc.clock())
    return json_response(usage.to_json())


async def put_monthly(request: Request) -> Response:
    """Set the custom monthly message limit to `limit` (query, as the Node SDK sends it, or a
    form field): a whole number from 1. A send that does not fit is refused with a 403; a new
    limit applies afresh to a re-enabled account."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    raw = request.query_params.get("limit")
    if raw is None:
        raw = (await read_form(request)).get("limit")
    await set_monthly_limit(svc.store, raw, now=svc.clock())
    if svc.monthly_limit is not None:
        svc.monthly_limit.forget()
    return json_response(SUCCESS)


async def delete_monthly(request: Request) -> Response:
    """Remove the custom monthly message limit (none set: nothing to do)."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    await delete_monthly_limit(svc.store)
    if svc.monthly_limit is not None:
        svc.monthly_limit.forget()
    return json_response(SUCCESS)


async def put_enable(request: Request) -> Response:
    """Re-enable sending after the custom monthly limit was reached: sends go through for the
    rest of the calendar month (the next month re-enables by itself). Not disabled: nothing
    changes."""
    (await principal(request)).require_account(write=True)
    svc = services(request)
    await enable_sending(svc.store, now=svc.clock())
    if svc.monthly_limit is not None:
        svc.monthly_limit.forget()
    return json_response(SUCCESS)


ROUTES = [
    Route(LIMITS, get_limits, methods=["GET"]),
    Route(LIMITS, put_limits, methods=["PUT"]),
    Route(MONTHLY, get_monthly, methods=["GET"]),
    Route(MONTHLY, put_monthly, methods=["PUT"]),
    Route(MONTHLY, delete_monthly, methods=["DELETE"]),
    Route(ENABLE, put_enable, methods=["PUT"]),
]
