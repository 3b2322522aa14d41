"""The message log and a stored message's page, on SQLite and PostgreSQL: messages sent through
the API (captured, or delivered to a real SMTP sink over loopback DNS) and read back as HTML."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailwright.app import build_runtime, first_start
from mailwright.store import Store
from tests.conftest import API_KEY
from tests.integration.test_delivery_mx import loopback_dns, mx_settings, sink
from tests.integration.web.conftest import PASSWORD, USERNAME, Dashboard, csrf_of, sign_in
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink, tls_materials
from tests.support.wait import wait_until

__all__ = ["loopback_dns", "sink"]  # fixtures used by the real-SMTP test


async def send(client: httpx.AsyncClient, domain: str, to: str, subject: str, **extra: str) -> str:
    data = {"from": f"App <app@{domain}>", "to": to, "subject": subject, "text": "Hi"} | extra
    response = await client.post(f"/v3/{domain}/messages", data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])[1:-1]


async def settled(client: httpx.AsyncClient, domain: str, count: int) -> list[dict[str, Any]]:
    """Wait until ``count`` messages have been delivered or failed; their events, newest first."""

    async def probe() -> list[dict[str, Any]]:
        items = (await client.get(f"/v3/{domain}/events", params={"limit": "300"})).json()["items"]
        done = [e for e in items if e["event"] in ("delivered", "failed")]
        return items if len(done) >= count else []

    return await wait_until(probe)


def rows_of(page: str) -> int:
    """How many event rows a log page shows."""
    return page.count('<td><span class="badge')


def link_of(page: str, rel: str) -> str:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    assert found, f"no {rel} link"
    return html.unescape(found.group(1))


async def test_log_lists_events_and_filters_narrow_them(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    await send(client, sandbox, "alice@example.com", "Invoice 42")
    await settled(client, sandbox, 1)  # so the second message's events are all newer
    await send(client, sandbox, "bob@example.com", "Welcome aboard", **{"o:tag": "onboarding"})
    events = await settled(client, sandbox, 2)
    key = events[0]["storage"]["key"]

    page = await dashboard.client.get("/messages")
    assert page.status_code == 200
    assert "Invoice 42" in page.text
    assert "Welcome aboard" in page.text
    assert rows_of(page.text) == 4  # accepted + delivered, twice
    assert f'href="/messages/{key}"' in page.text
    # Newest first: the second message's delivery is the first row.
    assert page.text.index("Welcome aboard") < page.text.index("Invoice 42")

    async def shown(**params: str) -> str:
        response = await dashboard.client.get("/messages", params=params)
        assert response.status_code == 200, response.text
        return response.text

    only_invoice = await shown(subject="invoice")
    assert "Invoice 42" in only_invoice
    assert "Welcome aboard" not in only_invoice
    only_bob = await shown(recipient="bob@example.com", event="delivered")
    assert rows_of(only_bob) == 1
    assert "Welcome aboard" in only_bob
    assert rows_of(await shown(tags="onboarding")) == 2
    assert rows_of(await shown(event="failed")) == 0
    assert rows_of(await shown(domain=sandbox, q="alice")) == 2
    assert rows_of(await shown(q="welcome aboard")) == 2  # every word, in any of the fields
    assert rows_of(await shown(q="welcome invoice")) == 0
    message_id = events[0]["message"]["headers"]["message-id"]
    assert rows_of(await shown(**{"message-id": f"<{message_id}>"})) == 2
    assert rows_of(await shown(begin="2000-01-01", end="2000-01-02")) == 0
    assert rows_of(await shown(begin="2000-01-01")) == 4


async def test_log_refuses_bad_input_with_a_400(dashboard: Dashboard, sandbox: str) -> None:
    for params, message in [
        ({"begin": "yesterday"}, "must be a date"),
        ({"begin": "2026-02-02", "end": "2026-01-01"}, "must not be after"),
        ({"domain": "nowhere.example"}, "No domain named"),
        ({"subject": '"open'}, "unterminated quote"),
        ({"page": "garbage"}, "Invalid page token"),
    ]:
        page = await dashboard.client.get("/messages", params=params)
        assert page.status_code == 400, params
        assert message in page.text
        assert "Message log" in page.text  # the form is still there


async def test_log_pages_with_next_and_previous(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    recipients = ", ".join(f"user{i}@example.com" for i in range(30))
    await send(client, sandbox, recipients, "Many")
    await wait_until(lambda: _delivered(client, sandbox, 30))

    for params in ({}, {"domain": sandbox}):
        first = (await dashboard.client.get("/messages", params=params)).text
        assert rows_of(first) == 50
        assert 'rel="prev"' not in first
        second = (await dashboard.client.get(link_of(first, "next"))).text
        assert rows_of(second) == 10  # 60 events: 30 accepted, 30 delivered
        assert 'rel="next"' not in second
        back = (await dashboard.client.get(link_of(second, "prev"))).text
        assert rows_of(back) == 50
        assert _table(back) == _table(first)
        assert 'rel="prev"' not in back


def _table(page: str) -> str:
    return page[page.index("<tbody>") : page.index("</tbody>")]


async def _delivered(client: httpx.AsyncClient, domain: str, count: int) -> bool:
    params = {"event": "delivered", "limit": "300"}
    items = (await client.get(f"/v3/{domain}/events", params=params)).json()["items"]
    return len(items) >= count


async def test_message_page_shows_content_deliveries_attempts_and_events(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"App <app@{sandbox}>",
            "to": "alice@example.com, bob@example.com",
            "subject": "Quarterly report",
            "text": "The plain words",
            "html": "<p>The <b>rich</b> words</p><script>alert(1)</script>",
        },
        files=[("attachment", ("figures.csv", b"q,total\n1,42\n", "text/csv"))],
    )
    assert response.status_code == 200, response.text
    events = await settled(client, sandbox, 2)
    key = events[0]["storage"]["key"]

    page = await dashboard.client.get(f"/messages/{key}")
    assert page.status_code == 200
    text = page.text
    assert "Quarterly report" in text
    assert "The plain words" in text
    assert "alice@example.com" in text
    assert "bob@example.com" in text
    # each recipient's delivery, its attempt and its event
    assert text.count('<span class="badge ok">delivered</span>') == 3 * 2
    assert "attempt 1" in text
    assert "250 2.0.0 OK" in text
    assert "No SMTP session" in text  # capture has no transcript
    assert ">accepted</span>" in text
    assert "figures.csv" in text
    assert "<script>alert(1)</script>" not in text  # only the sandboxed preview has the HTML
    assert f'<iframe class="preview" sandbox src="/messages/{key}/preview"' in text

    preview = await dashboard.client.get(f"/messages/{key}/preview")
    assert preview.status_code == 200
    assert "<b>rich</b>" in preview.text
    csp = preview.headers["content-security-policy"]
    assert csp.startswith("sandbox;")
    assert "default-src 'none'" in csp
    assert "script-src" not in csp

    download = await dashboard.client.get(f"/messages/{key}/attachments/0")
    assert download.status_code == 200
    assert download.content == b"q,total\n1,42\n"
    assert download.headers["content-disposition"].startswith("attachment;")
    missing = await dashboard.client.get(f"/messages/{key}/attachments/5")
    assert missing.status_code == 404


async def test_unknown_message_is_a_404_page(dashboard: Dashboard) -> None:
    for path in ("/messages/nope", "/messages/nope/preview", "/messages/nope/attachments/0"):
        page = await dashboard.client.get(path)
        assert page.status_code == 404, path
        assert "Not found" in page.text


async def test_pages_need_a_session(browser: httpx.AsyncClient) -> None:
    for path in ("/messages", "/messages/abc", "/messages/abc/preview"):
        response = await browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


@pytest.fixture
async def mx_dashboard(
    tmp_path: Path, database_url: str, store: Store, loopback_dns: LoopbackDNS, sink: SmtpSink
) -> AsyncIterator[tuple[httpx.AsyncClient, Dashboard]]:
    """A server delivering over real SMTP to the sink: an API client and a signed-in browser."""
    settings = mx_settings(tmp_path, database_url, loopback_dns, sink.port)
    runtime = build_runtime(
        settings, frozenset({"api", "worker"}), store=store, ssl_context=tls_materials()[2]
    )
    await first_start(settings, store)
    await runtime.start()
    await runtime.services.users.create(USERNAME, PASSWORD, totp=False)
    transport = httpx.ASGITransport(app=runtime.app)
    try:
        async with (
            httpx.AsyncClient(
                transport=transport, base_url="http://testserver", auth=("api", API_KEY)
            ) as api,
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser,
        ):
            assert (await sign_in(browser, USERNAME, PASSWORD)).status_code == 303
            overview = await browser.get("/")
            yield api, Dashboard(browser, csrf_of(overview.text))
    finally:
        await runtime.stop()


async def test_message_page_shows_each_smtp_attempt_with_its_transcript(
    mx_dashboard: tuple[httpx.AsyncClient, Dashboard],
) -> None:
    api, dashboard = mx_dashboard
    domain = str((await api.get("/v4/domains")).json()["items"][0]["name"])
    await send(api, domain, "alice@rcpt.test, bounce@rcpt.test", "Over the wire")
    events = await settled(api, domain, 2)
    key = events[0]["storage"]["key"]

    text = (await dashboard.client.get(f"/messages/{key}")).text
    assert "Over the wire" in text
    assert html.escape("RCPT TO:<alice@rcpt.test>") in text
    assert "STARTTLS" in text
    assert "mx.example.test" in text
    assert text.count('<pre class="transcript">') == 2  # one attempt per recipient
    assert "5.1.1 The email account that you tried to reach does not exist" in text
    assert '<span class="badge bad">failed</span>' in text
    assert '<span class="badge ok">delivered</span>' in text

    failed = await dashboard.client.get("/messages", params={"event": "failed"})
    assert rows_of(failed.text) == 1
    assert "bounce@rcpt.test" in failed.text
    permanent = await dashboard.client.get("/messages", params={"severity": "permanent"})
    assert rows_of(permanent.text) == 1
