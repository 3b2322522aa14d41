"""The dashboard's blocklist page shows the worker's latest answers, listings first."""

from __future__ import annotations

from mailwright.app import Runtime
from mailwright.domains import BlocklistConfig, check_blocklists
from mailwright.resolver import Resolver
from tests.integration.web.conftest import Dashboard
from tests.support.dns import LoopbackDNS


async def test_blocklist_page_lists_listings_first(dashboard: Dashboard, runtime: Runtime) -> None:
    empty = await dashboard.client.get("/blocklists")
    assert empty.status_code == 200
    assert "No blocklist check has run yet" in empty.text

    zone = '2.0.0.127.zen.test. 300 IN A 127.0.0.2\n2.0.0.127.zen.test. 300 IN TXT "<b>bad</b>"'
    with LoopbackDNS(zone) as dns:
        config = BlocklistConfig(("zen.test",), (), ("127.0.0.3", "127.0.0.2"))
        await check_blocklists(
            runtime.store, Resolver(dns.address, timeout=2.0), config, now=1_780_000_000.0
        )
    page = await dashboard.client.get("/blocklists")
    assert page.status_code == 200
    html = page.text
    assert 'data-stat="listed"><span class="label">Listed</span><span class="value">1<' in html
    assert html.index('data-status="listed"') < html.index('data-status="clean"')
    assert "127.0.0.2</td><td>zen.test</td>" in html
    assert "listed (127.0.0.2)" in html
    assert "&lt;b&gt;bad&lt;/b&gt;" in html  # the list's text is escaped
    assert "Thu, 28 May 2026 20:26:40 GMT" in html


async def test_blocklist_page_needs_a_session(browser) -> None:
    response = await browser.get("/blocklists")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
