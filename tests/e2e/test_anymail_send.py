"""Sending through django-anymail's Mailgun backend (unmodified) to ``mailwright serve``: what
anymail sends for attachments, inline images, tags, metadata, batch merge data, per-recipient
metadata and headers and stored templates arrives as anymail's users expect."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.mime.image import MIMEImage
from typing import Any

import pytest
from anymail.exceptions import AnymailAPIError
from anymail.message import AnymailMessage

from tests.e2e.conftest import Server
from tests.e2e.test_sdk import fetch, inbox, poll, wait_inbox
from tests.support.anymail_view import anymail_connection

pytestmark = pytest.mark.e2e
# A 1x1 GIF
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def message(server: Server, **fields: Any) -> AnymailMessage:
    fields.setdefault("from_email", f"Shop <shop@{server.sandbox}>")
    return AnymailMessage(connection=anymail_connection(server.base_url, server.api_key), **fields)


def raw_of(server: Server, item: dict[str, Any]) -> Any:
    return message_from_bytes(fetch(server, item["raw_url"]).content, policy=policy.default)


def events(server: Server, **params: str) -> list[dict[str, Any]]:
    with server.http() as http:
        response = http.get(f"/v3/{server.sandbox}/events", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_message_with_everything_anymail_maps(server: Server) -> None:
    sent = message(
        server,
        subject="Your order",
        body="Plain text",
        to=["Ann <ann@example.com>"],
        cc=["cc@example.com"],
        bcc=["bcc@example.com"],
        reply_to=["help@example.com"],
        headers={"X-Order": "1234"},
    )
    sent.attach_alternative("<p>HTML <img src='cid:logo'></p>", "text/html")
    sent.attach("order.csv", "sku,qty\nA-1,2\n", "text/csv")
    image = MIMEImage(GIF, "gif")
    image.add_header("Content-ID", "<logo>")
    image.add_header("Content-Disposition", "inline", filename="logo.gif")
    sent.attach(image)
    sent.tags = ["orders", "receipts"]
    sent.metadata = {"order_id": "1234"}
    assert sent.send() == 1
    status = sent.anymail_status
    assert status.status == {"queued"}
    assert set(status.recipients) == {"ann@example.com", "cc@example.com", "bcc@example.com"}

    items = wait_inbox(server, 3)
    assert {i["recipient"] for i in items} == set(status.recipients)
    [ann] = inbox(server, "ann@example.com")
    raw = raw_of(server, ann)
    assert raw["Message-Id"] == status.message_id
    assert (raw["Reply-To"], raw["X-Order"], raw["Cc"]) == (
        "help@example.com",
        "1234",
        "cc@example.com",
    )
    assert raw.get_all("X-Mailgun-Tag") == ["orders", "receipts"]
    assert json.loads(raw["X-Mailgun-Variables"]) == {"order_id": "1234"}
    assert "Bcc" not in raw
    parts = {p.get_filename() or p.get_content_type(): p for p in raw.walk()}
    assert parts["order.csv"].get_content() == "sku,qty\nA-1,2\n"
    # anymail sends an inline image named by its Content-ID, which Mailgun restores
    [logo] = [p for p in raw.walk() if p["Content-ID"] == "<logo>"]
    assert (logo.get_content_disposition(), logo.get_content()) == ("inline", GIF)
    [accepted] = events(server, event="accepted", recipient="ann@example.com")
    assert accepted["user-variables"] == {"order_id": "1234"}
    assert accepted["tags"] == ["orders", "receipts"]


def test_batch_merge_data_metadata_and_headers_are_per_recipient(server: Server) -> None:
    sent = message(
        server,
        subject="Hello %recipient.name%",
        body="Hi %recipient.name%, your code is %recipient.code%.",
        to=["ann@example.com", "Bob <bob@example.net>"],
    )
    sent.merge_data = {
        "ann@example.com": {"name": "Ann", "code": "A-1"},
        "bob@example.net": {"name": "Bob", "code": "B-2"},
    }
    sent.merge_metadata = {
        "ann@example.com": {"customer": "c1"},
        "bob@example.net": {"customer": "c2"},
    }
    sent.merge_headers = {
        "ann@example.com": {"X-Customer": "c1"},
        "bob@example.net": {"X-Customer": "c2"},
    }
    sent.metadata = {"campaign": "spring"}
    sent.send()
    assert sent.anymail_status.status == {"queued"}

    wait_inbox(server, 2)
    for address, name, code, customer in (
        ("ann@example.com", "Ann", "A-1", "c1"),
        ("bob@example.net", "Bob", "B-2", "c2"),
    ):
        [item] = inbox(server, address)
        raw = raw_of(server, item)
        assert raw["Subject"] == f"Hello {name}"
        assert raw.get_body(("plain",)).get_content().strip() == f"Hi {name}, your code is {code}."
        assert raw["X-Customer"] == customer
        assert json.loads(raw["X-Mailgun-Variables"]) == {
            "campaign": "spring",
            "customer": customer,
        }

        def delivered(address: str = address) -> list[dict[str, Any]]:
            return events(server, event="delivered", recipient=address)

        [event] = poll(delivered, what=f"the delivered event of {address}")
        # anymail reads merge_metadata back from the events' user-variables
        assert event["user-variables"] == {"campaign": "spring", "customer": customer}
        [accepted] = events(server, event="accepted", recipient=address)
        assert accepted["user-variables"] == event["user-variables"]


def test_stored_template_with_merge_data(server: Server) -> None:
    with server.http() as http:
        created = http.post(
            f"/v3/{server.sandbox}/templates",
            data={"name": "welcome", "template": "<p>Welcome {{name}} from {{shop}}</p>"},
        )
        assert created.status_code == 200, created.text
    sent = message(server, subject="Welcome", to=["ann@example.com", "bob@example.net"])
    sent.template_id = "welcome"
    sent.merge_global_data = {"shop": "Acme"}
    sent.merge_data = {"ann@example.com": {"name": "Ann"}, "bob@example.net": {"name": "Bob"}}
    sent.send()
    wait_inbox(server, 2)
    for address, name in (("ann@example.com", "Ann"), ("bob@example.net", "Bob")):
        [item] = inbox(server, address)
        html = raw_of(server, item).get_body(("html",)).get_content()
        assert f"<p>Welcome {name} from Acme</p>" in html


def test_an_invalid_option_is_anymails_api_error(server: Server) -> None:
    sent = message(server, subject="Later", body="b", to=["ann@example.com"])
    sent.esp_extra = {"o:deliverytime": "next tuesday"}
    with pytest.raises(AnymailAPIError) as raised:
        sent.send()
    assert raised.value.status_code == 400
    assert "o:deliverytime" in str(raised.value)
    assert inbox(server) == []
