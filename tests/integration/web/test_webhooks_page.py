"""The webhooks page on SQLite and PostgreSQL: add, change and delete a domain's webhook (seen
by the API too), send a test event to a real receiver on loopback, and recent deliveries with
the receivers' HTTP statuses."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import httpx
import pytest

from mailwright.config import Settings
from tests.integration.web.conftest import Dashboard
from tests.integration.web.markup import attribute_of, row, rows
from tests.support.receiver import Receiver
from tests.support.wait import wait_until


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_changes(allow_private_urls=True)  # the receiver is on loopback


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def hooks_of(client: httpx.AsyncClient, domain: str) -> dict:
    response = await client.get(f"/v3/domains/{domain}/webhooks")
    assert response.status_code == 200
    return response.json()["webhooks"]


async def page_of(dashboard: Dashboard, domain: str) -> str:
    response = await dashboard.client.get("/webhooks", params={"domain": domain})
    assert response.status_code == 200
    return response.text


async def test_add_change_delete(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str, receiver: Receiver
) -> None:
    first, second = receiver.url("/one"), receiver.url("/two")
    added = await dashboard.post(f"/webhooks/{sandbox}/delivered", {"url": first})
    assert added.status_code == 303
    assert await hooks_of(client, sandbox) == {"delivered": {"urls": [first]}}
    assert f'value="{first}"' in row(await page_of(dashboard, sandbox), "data-kind", "delivered")

    changed = await dashboard.client.post(
        f"/webhooks/{sandbox}/delivered",
        data={"csrf_token": dashboard.csrf, "url": [second, first, ""]},
    )
    assert changed.status_code == 303
    assert await hooks_of(client, sandbox) == {"delivered": {"urls": [second, first]}}

    deleted = await dashboard.post(f"/webhooks/{sandbox}/delivered/delete")
    assert deleted.status_code == 303
    assert await hooks_of(client, sandbox) == {}
    markup = row(await page_of(dashboard, sandbox), "data-kind", "delivered")
    assert first not in markup
    assert "/delete" not in markup


async def test_bad_input_is_400_with_the_message(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str
) -> None:
    bad_url = await dashboard.post(f"/webhooks/{sandbox}/delivered", {"url": "ftp://x.example"})
    assert bad_url.status_code == 400
    assert "'url' must be an http or https URL" in html.unescape(bad_url.text)
    no_url = await dashboard.post(f"/webhooks/{sandbox}/delivered", {"url": ""})
    assert no_url.status_code == 400
    assert "&#39;url&#39; parameter is missing" in no_url.text
    bad_kind = await dashboard.post(f"/webhooks/{sandbox}/shipped", {"url": "http://a.example"})
    assert bad_kind.status_code == 400
    assert "&#39;kind&#39; must be one of" in bad_kind.text
    missing = await dashboard.post(f"/webhooks/{sandbox}/opened/delete")
    assert missing.status_code == 404
    assert "Webhook not found" in missing.text
    assert await hooks_of(client, sandbox) == {}


async def test_a_test_event_shows_in_recent_deliveries_with_its_status(
    dashboard: Dashboard, sandbox: str, receiver: Receiver
) -> None:
    url = receiver.url("/hook")
    await dashboard.post(f"/webhooks/{sandbox}/clicked", {"url": url})
    sent = await dashboard.post(f"/webhooks/{sandbox}/clicked/test")
    assert sent.status_code == 200
    assert len(receiver.received) == 1
    assert receiver.received[0].json()["event-data"]["flags"]["is-system-test"] is True
    assert "200" in row(sent.text, "data-test-url", url)

    receiver.status = 503
    receiver.answer = b'{"error": "mailbox <b>busy</b>"}'
    failed = await dashboard.post(f"/webhooks/{sandbox}/clicked/test")
    assert failed.status_code == 200
    assert "503" in row(failed.text, "data-test-url", url)

    deliveries = rows(await page_of(dashboard, sandbox), "data-delivery")
    assert [attribute_of(d, "data-status") for d in deliveries] == ["failed", "delivered"]
    newest, oldest = deliveries
    assert '<td class="last-status">503</td>' in newest
    # what the receiver answered, escaped
    assert (
        '<pre class="answer">{&#34;error&#34;: &#34;mailbox &lt;b&gt;busy&lt;/b&gt;&#34;}</pre>'
        in newest
    )
    assert '<pre class="answer">ok</pre>' in oldest
    assert '<td class="last-status">200</td>' in oldest
    assert all(url in d and "clicked" in d for d in deliveries)


async def test_event_deliveries_by_the_worker_show_their_status(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str, receiver: Receiver
) -> None:
    await dashboard.post(f"/webhooks/{sandbox}/accepted", {"url": receiver.url("/accepted")})
    data = {"from": f"shop@{sandbox}", "to": "alice@example.com", "subject": "Hi", "text": "x"}
    assert (await client.post(f"/v3/{sandbox}/messages", data=data)).status_code == 200

    async def delivered() -> list[str]:
        found = rows(await page_of(dashboard, sandbox), "data-delivery")
        return [d for d in found if attribute_of(d, "data-status") == "delivered"]

    (markup,) = await wait_until(delivered)
    assert "accepted" in markup
    assert '<td class="last-status">200</td>' in markup
    assert len(receiver.received) == 1


async def test_posts_without_csrf_token_are_403_and_change_nothing(
    dashboard: Dashboard, client: httpx.AsyncClient, sandbox: str, receiver: Receiver
) -> None:
    url = receiver.url()
    refused = await dashboard.client.post(f"/webhooks/{sandbox}/delivered", data={"url": url})
    assert refused.status_code == 403
    assert await hooks_of(client, sandbox) == {}
    await dashboard.post(f"/webhooks/{sandbox}/delivered", {"url": url})
    for action in ("delete", "test"):
        refused = await dashboard.client.post(f"/webhooks/{sandbox}/delivered/{action}")
        assert refused.status_code == 403
    assert await hooks_of(client, sandbox) == {"delivered": {"urls": [url]}}
    assert receiver.received == []
