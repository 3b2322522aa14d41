"""Uptime: each node and role's availability over 24 h, 7 d and 30 d with its newest health
check, availability per hour over the last day, and each HTTP endpoint's success rate. The
same figures as ``/metrics`` and ``mailwright status``."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.uptime import WINDOWS, endpoint_rates, hourly_uptime, role_uptime
from mailwright.web.charts import Series, line_chart
from mailwright.web.session import page
from mailwright.web.templating import render

COLOURS = ("#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d")


def percent(share: float | None) -> str:
    """``99.95 %``: two decimals, never rounded up to 100 while anything was down."""
    if share is None:
        return "-"
    return f"{math.floor(share * 10000) / 100:.2f} %"


def _series(index: int, name: str, shares: list[float | None]) -> Series:
    """Whole percents (rounded down); the line begins at the role's first checked hour."""
    start = next((i for i, s in enumerate(shares) if s is not None), len(shares))
    values = tuple(math.floor((s or 0.0) * 100) for s in shares[start:])
    return Series(name, COLOURS[index % len(COLOURS)], values, start=start)


@page
async def uptime_page(request: Request) -> Response:
    svc = services(request)
    now = svc.clock()
    roles = await role_uptime(svc.store, now, WINDOWS)
    hours, shares = await hourly_uptime(svc.store, now)
    labels = [datetime.fromtimestamp(h, UTC).strftime("%H:00") for h in hours]
    series = [
        _series(i, f"{node} {role}", values)
        for i, ((node, role), values) in enumerate(shares.items())
    ]
    context = {
        "title": "Uptime",
        "now": now,
        "windows": [name for name, _ in WINDOWS],
        "roles": roles,
        "chart": line_chart(labels, series) if series else None,
        "endpoints": await endpoint_rates(svc.store, now),
        "percent": percent,
    }
    return render(request, "uptime.html", context)


ROUTES = [Route("/uptime", uptime_page, methods=["GET"])]
