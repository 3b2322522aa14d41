"""DNS blocklist monitoring, our extension: ``/mailwright/v1/blocklists``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_response, principal, services
from mailwright.domains import blocklist_json, list_blocklists


async def get_blocklists(request: Request) -> Response:
    """The latest DNS blocklist answer for each of our egress addresses and sending domains in
    each configured zone (`MAILWRIGHT_DNSBL_ZONES`, `MAILWRIGHT_DNSBL_DOMAIN_ZONES`), checked
    by the worker every `MAILWRIGHT_DNSBL_INTERVAL` seconds: `status` is listed, clean or error
    (the lookup failed), with the list's `codes` and `reason`; `listed` counts the listings."""
    (await principal(request)).require_account()
    rows = await list_blocklists(services(request).store)
    return json_response(
        {
            "items": [blocklist_json(r) for r in rows],
            "listed": sum(1 for r in rows if r.status == "listed"),
        }
    )


ROUTES = [Route("/mailwright/v1/blocklists", get_blocklists, methods=["GET"])]
