"""Sending through the HTTP API on SQLite and PostgreSQL: accept, store once, capture, events."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from sqlalchemy import func, select

from mailwright.store import Store, schema
from tests.support.wait import wait_until


async def count(store: Store, table: schema.Table) -> int:  # type: ignore[name-defined]
    async with store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def inbox(client: httpx.AsyncClient, expected: int) -> list[dict]:
    async def probe() -> list[dict] | None:
        items = (await client.get("/mailwright/v1/inbox/messages")).json()["items"]
        return items if len(items) >= expected else None

    return await wait_until(probe)


async def raw_of(client: httpx.AsyncClient, item: dict) -> email.message.EmailMessage:
    response = await client.get(f"/mailwright/v1/inbox/messages/{item['id']}/raw")
    assert response.status_code == 200
    return email.message_from_bytes(response.content, policy=email.policy.default)  # type: ignore[return-value]


async def test_send_is_queued_then_captured_with_events(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"Sender <me@{sandbox}>",
            "to": "Alice <alice@example.com>",
            "subject": "Hello",
            "text": "Hi there",
            "o:tag": "welcome",
            "v:order": "42",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Queued. Thank you."
    assert body["id"].startswith("<")
    assert body["id"].endswith(f"@{sandbox}>")

    [item] = await inbox(client, 1)
    assert item["recipient"] == "alice@example.com"
    message = await raw_of(client, item)
    assert message["Message-Id"] == body["id"]
    assert message["Subject"] == "Hello"
    assert message.get_content().strip() == "Hi there"
    assert json.loads(message["X-Mailgun-Variables"]) == {"order": "42"}

    events = (await client.get(f"/v3/{sandbox}/events", params={"ascending": "yes"})).json()
    kinds = [e["event"] for e in events["items"]]
    assert kinds == ["accepted", "delivered"]
    delivered = events["items"][1]
    assert delivered["message"]["headers"]["message-id"] == body["id"][1:-1]
    assert delivered["tags"] == ["welcome"]
    assert delivered["user-variables"] == {"order": "42"}
    assert delivered["delivery-status"]["code"] == 250
    assert isinstance(delivered["timestamp"], float)
    assert delivered["storage"]["url"].startswith("http://testserver/v3/domains/")


async def test_attachment_is_stored_once_for_many_recipients(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": ["a@example.com", "b@example.com", "c@example.com"],
            "subject": "Report",
            "html": "<p>see <img src='cid:logo.png'></p>",
        },
        files=[
            ("attachment", ("report.csv", b"a,b\n1,2\n", "text/csv")),
            ("inline", ("logo.png", b"\x89PNG fake", "image/png")),
        ],
    )
    assert response.status_code == 200, response.text
    assert await count(store, schema.messages) == 1
    assert await count(store, schema.message_blobs) == 2
    assert await count(store, schema.deliveries) == 3
    items = await inbox(client, 3)
    message = await raw_of(client, items[0])
    names = {p.get_filename() for p in message.iter_attachments()}
    assert "report.csv" in names
    # Without recipient-variables everyone gets the same message, addressed to all.
    assert "a@example.com" in message["To"]
    assert "c@example.com" in message["To"]


async def test_batch_send_personalises_each_copy(client: httpx.AsyncClient, sandbox: str) -> None:
    variables = {"a@example.com": {"name": "Ann"}, "b@example.com": {"name": "Bob"}}
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": "a@example.com, b@example.com",
            "subject": "Hi %recipient.name%",
            "text": "Dear %recipient.name% (%recipient%)",
            "recipient-variables": json.dumps(variables),
        },
    )
    assert response.status_code == 200, response.text
    items = await inbox(client, 2)
    by_rcpt = {i["recipient"]: await raw_of(client, i) for i in items}
    assert by_rcpt["a@example.com"]["Subject"] == "Hi Ann"
    assert by_rcpt["a@example.com"]["To"] == "a@example.com"
    assert "Dear Bob (b@example.com)" in by_rcpt["b@example.com"].get_content()


async def test_thousand_recipient_batch_is_accepted(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    rcpts = [f"user{i}@example.com" for i in range(1000)]
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": rcpts,
            "subject": "s",
            "text": "%recipient.n%",
            "recipient-variables": json.dumps({r: {"n": i} for i, r in enumerate(rcpts)}),
        },
    )
    assert response.status_code == 200, response.text
    assert await count(store, schema.messages) == 1
    assert await count(store, schema.deliveries) == 1000


BAD_SENDS = [
    ({"to": "a@example.com", "text": "x"}, "from"),
    ({"from": "not an address", "to": "a@example.com", "text": "x"}, "from"),
    ({"from": "me@example.com", "text": "x"}, "to"),
    ({"from": "me@example.com", "to": "nope", "text": "x"}, "to"),
    ({"from": "me@example.com", "to": "a@example.com"}, "text"),
    (
        {
            "from": "me@example.com",
            "to": "a@example.com",
            "text": "x",
            "recipient-variables": "{not json",
        },
        "recipient-variables",
    ),
    (
        {
            "from": "me@example.com",
            "to": "a@example.com",
            "text": "x",
            "h:X-Evil": "a\r\nBcc: victim@example.com",
        },
        "h:X-Evil",
    ),
    (
        {"from": "me@example.com", "to": [f"u{i}@example.com" for i in range(1001)], "text": "x"},
        "recipients",
    ),
    (
        {
            "from": "me@example.com",
            "to": "a@example.com",
            "text": "x",
            "o:tag": ["1", "2", "3", "4"],
        },
        "o:tag",
    ),
    (
        {
            "from": "me@example.com",
            "to": "a@example.com",
            "text": "x",
            "o:deliverytime": "tomorrow-ish",
        },
        "o:deliverytime",
    ),
]


@pytest.mark.parametrize(("data", "field"), BAD_SENDS)
async def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
    client: httpx.AsyncClient, sandbox: str, store: Store, data: dict, field: str
) -> None:
    response = await client.post(f"/v3/{sandbox}/messages", data=data)
    assert response.status_code == 400, response.text
    assert (
        field.split(":")[0] in response.json()["message"].lower()
        or field in response.json()["message"]
    )
    assert await count(store, schema.messages) == 0
    assert await count(store, schema.events) == 0


async def test_oversize_message_is_refused(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    big = b"x" * (26 * 1024 * 1024)
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={"from": "me@example.com", "to": "a@example.com", "text": "x"},
        files=[("attachment", ("big.bin", big, "application/octet-stream"))],
    )
    assert response.status_code == 413
    assert "too large" in response.json()["message"]
    assert await count(store, schema.messages) == 0


async def test_unknown_domain_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v3/nowhere.example/messages",
        data={"from": "me@example.com", "to": "a@example.com", "text": "x"},
    )
    assert response.status_code == 404
    assert response.json() == {"message": "Domain not found: nowhere.example"}


async def test_test_mode_is_logged_but_not_delivered(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={"from": f"me@{sandbox}", "to": "a@example.com", "text": "x", "o:testmode": "yes"},
    )
    assert response.status_code == 200

    async def delivered() -> list[dict]:
        page = await client.get(f"/v3/{sandbox}/events", params={"event": "delivered"})
        return page.json()["items"]

    [event] = await wait_until(delivered)
    assert event["flags"]["is-test-mode"] is True
    assert (await client.get("/mailwright/v1/inbox/messages")).json()["total_count"] == 0


async def test_deliverytime_holds_the_message(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    later = datetime.now(UTC) + timedelta(seconds=2)
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": "a@example.com",
            "text": "x",
            "o:deliverytime": format_datetime(later),
        },
    )
    assert response.status_code == 200
    await client.post(
        f"/v3/{sandbox}/messages",
        data={"from": f"me@{sandbox}", "to": "now@example.com", "text": "x"},
    )
    [first] = await inbox(client, 1)
    assert first["recipient"] == "now@example.com"
    items = await inbox(client, 2)
    assert items[0]["recipient"] == "a@example.com"
    assert items[0]["timestamp"] >= later.timestamp() - 1


async def test_stored_message_can_be_read_and_resent(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": "a@example.com",
            "subject": "Kept",
            "text": "body text",
            "html": "<b>body</b>",
        },
        files=[("attachment", ("a.txt", b"hello", "text/plain"))],
    )
    await inbox(client, 1)
    events = (await client.get(f"/v3/{sandbox}/events")).json()["items"]
    url = events[0]["storage"]["url"].replace("http://testserver", "")
    stored = (await client.get(url)).json()
    assert stored["subject"] == "Kept"
    assert stored["body-plain"].strip() == "body text"
    assert stored["attachments"][0]["name"] == "a.txt"
    attachment = await client.get(stored["attachments"][0]["url"].replace("http://testserver", ""))
    assert attachment.content == b"hello"
    mime = (await client.get(url, headers={"Accept": "message/rfc2822"})).json()
    assert response.json()["id"] in mime["body-mime"]

    resent = await client.post(url, data={"to": "b@example.com"})
    assert resent.status_code == 200, resent.text
    items = await inbox(client, 2)
    assert {i["recipient"] for i in items} == {"a@example.com", "b@example.com"}


async def test_mime_send(client: httpx.AsyncClient, sandbox: str) -> None:
    mime = (
        f"From: me@{sandbox}\r\nTo: a@example.com\r\nSubject: Raw\r\n"
        "Content-Type: text/plain\r\n\r\nraw body\r\n"
    ).encode()
    response = await client.post(
        f"/v3/{sandbox}/messages.mime",
        data={"to": "a@example.com"},
        files=[("message", ("message.mime", mime, "message/rfc822"))],
    )
    assert response.status_code == 200, response.text
    [item] = await inbox(client, 1)
    message = await raw_of(client, item)
    assert message["Subject"] == "Raw"
    assert message["Message-Id"] == response.json()["id"]
