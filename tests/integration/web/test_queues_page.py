"""The queues page: deliveries per destination with their deferred count, oldest message and
last error, and the three backlogs."""

from __future__ import annotations

import re
import time

import httpx

from mailwright.store import Store
from tests.integration.web.conftest import Dashboard
from tests.support.deliveries import NOW, delivery, fill


def _row(html: str, attribute: str) -> str:
    found = re.search(rf"<tr {attribute}>(.*?)</tr>", html, re.S)
    assert found, f"no row {attribute}"
    return " ".join(found.group(1).split())


async def test_deferred_destinations_show_their_last_error(
    dashboard: Dashboard, store: Store
) -> None:
    two_hours_ago = time.time() - 7200
    later = NOW + 1000  # not due: the running worker leaves them alone
    await fill(
        store,
        [
            delivery(
                1,
                "busy.test",
                attempts=2,
                due_at=later,
                created_at=two_hours_ago,
                updated_at=two_hours_ago + 60,
                last_code=421,
                last_message="4.7.0 Try again later, closing connection",
            ),
            delivery(2, "busy.test", attempts=0, due_at=later, created_at=two_hours_ago + 5),
            delivery(3, "quiet.test", attempts=0, due_at=later, created_at=time.time() - 30),
        ],
    )
    page = await dashboard.client.get("/queues")
    assert page.status_code == 200
    busy = _row(page.text, 'data-destination="busy.test"')
    assert '<td class="num">2</td>' in busy  # queued
    assert '<span class="badge bad">1</span>' in busy  # deferred
    assert "<code>421</code> 4.7.0 Try again later, closing connection" in busy
    assert re.search(r'<td class="num">(1h|2h)</td>', busy)  # oldest, about two hours
    quiet = _row(page.text, 'data-destination="quiet.test"')
    assert '<td class="num">0</td>' in quiet  # nothing deferred
    assert "<code>" not in quiet
    assert page.text.index("busy.test") < page.text.index("quiet.test")  # largest first
    deliveries = _row(page.text, 'data-queue="deliveries"')
    assert deliveries.startswith('<td>Deliveries</td><td class="num">3</td><td class="num">1</td>')
    webhooks = _row(page.text, 'data-queue="webhooks"')
    assert '<td class="num">0</td><td class="num">0</td><td class="num">-</td>' in webhooks


async def test_an_empty_queue_says_so(dashboard: Dashboard) -> None:
    page = await dashboard.client.get("/queues")
    assert page.status_code == 200
    assert "Nothing is queued" in page.text


async def test_signed_out_visitors_go_to_the_login_page(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/queues")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fqueues"
