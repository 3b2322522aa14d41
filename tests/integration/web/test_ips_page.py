"""The IPs page: configured egress addresses with their HELO names, pools and warm-up state."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mailwright.app import build_runtime, first_start
from mailwright.config import Settings
from mailwright.store import Store
from tests.conftest import API_KEY
from tests.integration.web.conftest import PASSWORD, USERNAME, Dashboard, sign_in


@pytest.fixture
async def clients(
    tmp_path: Path, database_url: str, store: Store
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(signed-in dashboard client, API client) of a server with two egress addresses."""
    settings = Settings.from_env(
        environ={
            "MAILWRIGHT_DATA_DIR": str(tmp_path),
            "MAILWRIGHT_DATABASE_URL": database_url,
            "MAILWRIGHT_API_KEY": API_KEY,
            "MAILWRIGHT_PUBLIC_URL": "http://testserver",
            "MAILWRIGHT_EGRESS_SOURCES": "127.0.0.2=mta1.example.test,127.0.0.3=mta2.example.test",
            "MAILWRIGHT_WARMUP_SCHEDULE": "200,1000,5000",
        }
    )
    runtime = build_runtime(settings, frozenset({"api"}), store=store)
    await first_start(settings, store)
    await runtime.start()
    await runtime.services.users.create(USERNAME, PASSWORD, totp=False)
    transport = httpx.ASGITransport(app=runtime.app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser,
        httpx.AsyncClient(
            transport=transport, base_url="http://testserver", auth=("api", API_KEY)
        ) as api,
    ):
        assert (await sign_in(browser, USERNAME, PASSWORD)).status_code == 303
        yield browser, api
    await runtime.stop()


def _row(html: str, ip: str) -> str:
    found = re.search(rf'<tr data-ip="{re.escape(ip)}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {ip}"
    return " ".join(found.group(1).split())


async def test_sources_pools_and_warm_up_are_shown(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    browser, api = clients
    created = await api.post(
        "/v3/ip_pools", data={"name": "transactional", "description": "receipts", "ip": "127.0.0.3"}
    )
    assert created.status_code == 200, created.text
    assert (await api.post("/v3/ip_warmups/127.0.0.2")).status_code == 200

    page = await browser.get("/ips")
    assert page.status_code == 200
    warming = _row(page.text, "127.0.0.2")
    assert "mta1.example.test" in warming
    assert '<span class="badge">day 1 of 3</span>' in warming
    assert '<td class="num">200</td>' in warming  # day 1's limit
    warm = _row(page.text, "127.0.0.3")
    assert "mta2.example.test" in warm
    assert "transactional" in warm
    assert "not warming" in warm
    assert re.search(r"<td>transactional</td>\s*<td>receipts</td>\s*<td>127.0.0.3</td>", page.text)


async def test_without_egress_sources_the_page_says_how_to_set_them(dashboard: Dashboard) -> None:
    page = await dashboard.client.get("/ips")
    assert page.status_code == 200
    assert "MAILWRIGHT_EGRESS_SOURCES" in page.text
