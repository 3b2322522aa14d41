"""Egress addresses: each configured source with its HELO name, its pools and its warm-up
(today's stage, limits and what it sent), as ``/v3/ips``, ``/v3/ip_pools`` and
``/v3/ip_warmups`` answer them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.api.ips import warmup_json
from mailwright.web.session import page
from mailwright.web.templating import render


@page
async def ips_page(request: Request) -> Response:
    svc = services(request)
    directory = svc.egress
    if directory is None or not directory.sources:
        return render(request, "ips.html", {"title": "IPs", "sources": [], "pools": []})
    now = svc.clock()
    warmups = await directory.warmups()
    pools = await directory.list_pools()
    sources = [
        {
            "ip": source.ip,
            "helo": source.helo,
            "pools": [p.name for p in pools if source.ip in p.ips],
            "warmup": (
                warmup_json(warmups[source.ip], svc.warmup_schedule, now)
                if source.ip in warmups
                else None
            ),
        }
        for source in directory.sources
    ]
    return render(request, "ips.html", {"title": "IPs", "sources": sources, "pools": pools})


ROUTES = [Route("/ips", ips_page, methods=["GET"])]
