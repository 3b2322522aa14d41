"""Blocklists: the worker's latest DNS blocklist answers for our egress addresses and sending
domains, listings first (the data of ``GET /mailwright/v1/blocklists``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.domains import blocklist_json, list_blocklists
from mailwright.web.session import page
from mailwright.web.templating import render

_ORDER = {"listed": 0, "error": 1, "clean": 2}


@page
async def blocklists_page(request: Request) -> Response:
    rows = sorted(await list_blocklists(services(request).store), key=lambda r: _ORDER[r.status])
    context = {
        "title": "Blocklists",
        "results": [blocklist_json(r) for r in rows],
        "listed": sum(1 for r in rows if r.status == "listed"),
    }
    return render(request, "blocklists.html", context)


ROUTES = [Route("/blocklists", blocklists_page, methods=["GET"])]
