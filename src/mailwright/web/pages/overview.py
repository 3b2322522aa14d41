"""The overview: sent, delivered, failed, opened and clicked over time, with rates."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailwright.api.context import services
from mailwright.events import StatsQuery, totals
from mailwright.web.charts import Series, line_chart
from mailwright.web.session import page
from mailwright.web.templating import render

EVENTS = ("accepted", "delivered", "failed", "opened", "clicked")
# period -> (resolution, number of buckets, label format)
PERIODS = {
    "24h": ("hour", 24, "%H:00"),
    "7d": ("day", 7, "%b %d"),
    "30d": ("day", 30, "%b %d"),
}
COLOURS = {
    "sent": "#2563eb",
    "delivered": "#16a34a",
    "failed": "#dc2626",
    "opened": "#9333ea",
    "clicked": "#ea580c",
}


def _query(period: str, now: float) -> StatsQuery:
    resolution, count, _ = PERIODS[period]
    moment = datetime.fromtimestamp(now, UTC)
    if resolution == "hour":
        end = moment.replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(hours=count - 1)
    else:
        end = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        start = end - timedelta(days=count - 1)
    return StatsQuery(events=EVENTS, start=start, end=end, resolution=resolution)


def _counts(entry: dict[str, Any]) -> dict[str, int]:
    failed = entry["failed"]
    return {
        "sent": entry["accepted"]["outgoing"],
        "delivered": entry["delivered"]["total"],
        "failed": failed["permanent"]["total"] + failed["temporary"]["total"],
        "opened": entry["opened"]["total"],
        "clicked": entry["clicked"]["total"],
    }


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


@page
async def overview(request: Request) -> Response:
    period = request.query_params.get("period", "24h")
    if period not in PERIODS:
        period = "24h"
    query = _query(period, time.time())
    entries = await totals(services(request).store, query, domain=None)
    counts = [_counts(e) for e in entries]
    fmt = PERIODS[period][2]
    labels = [moment.strftime(fmt) for moment in query.buckets()]
    series = [
        Series(name, colour, tuple(c[name] for c in counts)) for name, colour in COLOURS.items()
    ]
    sums = {name: sum(c[name] for c in counts) for name in COLOURS}
    rates = {
        "Delivery rate": _rate(sums["delivered"], sums["sent"]),
        "Open rate": _rate(sums["opened"], sums["delivered"]),
        "Click rate": _rate(sums["clicked"], sums["delivered"]),
        "Failure rate": _rate(sums["failed"], sums["sent"]),
    }
    context = {
        "title": "Overview",
        "period": period,
        "periods": list(PERIODS),
        "chart": line_chart(labels, series),
        "sums": sums,
        "rates": rates,
    }
    return render(request, "overview.html", context)


ROUTES = [Route("/", overview, methods=["GET"])]
