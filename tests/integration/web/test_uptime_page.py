"""The uptime page: availability per node and role with the newest check, the hourly chart,
and the endpoints worst first."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from mailwright.store import Store
from tests.integration.web.conftest import Dashboard
from tests.support.uptime import AVAILABILITY, FAILED_DETAIL, NODE, write_history


def _row(html: str, attribute: str) -> str:
    found = re.search(rf"<tr {attribute}>(.*?)</tr>", html, re.S)
    assert found, f"no row {attribute}"
    return " ".join(found.group(1).split())


async def test_availability_checks_chart_and_endpoints(dashboard: Dashboard, store: Store) -> None:
    await write_history(store, time.time())
    page = await dashboard.client.get("/uptime")
    assert page.status_code == 200
    row = _row(page.text, f'data-node="{NODE}" data-role="api"')
    # Every window began with the node's first check an hour ago: the same share in each
    # (less the moments since the history was written, not vouched for).
    shares = re.findall(r'<td class="num" data-window="(24h|7d|30d)">([\d.]+) %</td>', row)
    assert [w for w, _ in shares] == ["24h", "7d", "30d"]
    for _, share in shares:
        assert float(share) == pytest.approx(AVAILABILITY * 100, abs=0.2)
    assert re.search(r'<span class="badge ok">ok</span> 3\ds ago', row)  # the newest, 30 s ago
    assert '<td class="num">2 ms</td> <td>-</td>' in row  # took 2.5 ms; no detail when ok

    chart = re.search(r'<svg id="uptime-chart".*?</svg>', page.text, re.S)
    assert chart, "no availability chart"
    assert f'data-series="{NODE} api"' in chart.group(0)

    endpoints = re.findall(r'<tr data-endpoint="([^"]+)">', page.text)
    assert endpoints.index("POST /v3/{domain}/messages") < endpoints.index("GET /v3/domains")
    messages = _row(page.text, 'data-endpoint="POST /v3/{domain}/messages"')
    assert messages == (
        '<td><code>POST /v3/{domain}/messages</code></td> <td class="num">200</td> '
        '<td class="num"><span class="badge bad">3</span></td> <td class="num">98.50 %</td>'
    )
    assert 'href="/uptime" class="active"' in page.text


async def test_a_failed_newest_check_shows_what_failed(dashboard: Dashboard, store: Store) -> None:
    await write_history(store, time.time(), is_newest_ok=False)
    page = await dashboard.client.get("/uptime")
    row = _row(page.text, f'data-node="{NODE}" data-role="api"')
    assert re.search(r'<span class="badge bad">failed</span> 3\ds ago', row)
    assert row.endswith(f"<td>{FAILED_DETAIL}</td>")


async def test_no_history_says_so(dashboard: Dashboard) -> None:
    await dashboard.client.get("/uptime")  # the server's own first round may not be stored yet
    page = await dashboard.client.get("/uptime")
    assert page.status_code == 200
    assert "No requests counted yet." in page.text  # counts are stored each interval (30 s)


async def test_signed_out_visitors_go_to_the_login_page(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/uptime")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fuptime"
