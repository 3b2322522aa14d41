"""Our deliverability extensions for a domain: ``/mailwright/v1/domains/{name}/doctor``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import json_response, path_param, principal, services
from mailwright.domains import doctor_domain

DOCTOR = "/mailwright/v1/domains/{name}/doctor"


async def get_doctor(request: Request) -> Response:
    """Check the domain's DNS as receivers see it: SPF (with its lookup count), DKIM, DMARC
    policy and alignment, MX, MTA-STS, TLS-RPT, reverse DNS of our sending addresses and BIMI.
    Each check answers `status` (pass, warn or fail), `found`, `expected` and a plain-language
    `fix`; the top-level `status` is the worst of them."""
    (await principal(request)).require_account()
    svc = services(request)
    diagnosis = await doctor_domain(
        svc.store, svc.resolver, svc.dns_plan, path_param(request, "name"), now=svc.clock()
    )
    return json_response(diagnosis.to_json())


ROUTES = [Route(DOCTOR, get_doctor, methods=["GET"])]
