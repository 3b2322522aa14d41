"""The official Mailgun Python SDK (``mailgun`` 1.10.0), unmodified, against ``mailwright serve``.

Only Mailgun's API is driven through the SDK; the capture inbox (``/mailwright/v1/inbox``) is ours
and is read with httpx. Paging URLs are followed with ``requests``, as SDK users do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.utils import getaddresses
from typing import Any, TypeVar

import pytest
import requests
from mailgun.client import Client

from tests.e2e.conftest import Server
from tests.support.dns import LoopbackDNS

pytestmark = pytest.mark.e2e

T = TypeVar("T")
DEADLINE = 15.0

POLL_INTERVAL = 0.05


def poll(probe: Callable[[], T], *, timeout: float = DEADLINE, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last value: {value!r})")
        time.sleep(POLL_INTERVAL)  # between probes of a deadline-bounded poll


@contextmanager
def sdk(server: Server, key: str | None = None) -> Iterator[Client]:
    with Client(auth=("api", key or server.api_key), api_url=server.base_url) as client:
        yield client


def inbox(server: Server, recipient: str | None = None) -> list[dict[str, Any]]:
    params = {"recipient": recipient} if recipient else {}
    with server.http() as http:
        response = http.get("/mailwright/v1/inbox/messages", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def wait_inbox(server: Server, count: int, recipient: str | None = None) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]]:
        items = inbox(server, recipient)
        assert len(items) <= count, items
        return items if len(items) == count else []

    return poll(probe, what=f"{count} inbox message(s) for {recipient or 'anyone'}")


def fetch(server: Server, url: str) -> Any:
    with server.http() as http:
        response = http.get(url)
    assert response.status_code == 200, response.text
    return response


def send_ok(response: Any) -> str:
    assert response.status_code == 200, (response.status_code, response.text)
    body = response.json()
    assert body["message"] == "Queued. Thank you."
    message_id: str = body["id"]
    assert message_id.startswith("<"), body
    assert message_id.endswith(">"), body
    return message_id


def test_send_with_attachment_reaches_the_inbox(server: Server) -> None:
    with sdk(server) as client:
        response = client.messages.create(
            data={
                "from": f"Sender <sender@{server.sandbox}>",
                "to": "alice@example.com",
                "subject": "Hello from the SDK",
                "text": "Plain body here",
                "html": "<p>HTML body here</p>",
                "v:order": "42",
            },
            files=[("attachment", ("a.txt", b"attached bytes\n"))],
            domain=server.sandbox,
        )
    message_id = send_ok(response)

    [item] = wait_inbox(server, 1, "alice@example.com")
    assert item["subject"] == "Hello from the SDK"
    parsed = fetch(server, item["url"]).json()
    assert parsed["body-plain"].strip() == "Plain body here"
    assert "<p>HTML body here</p>" in parsed["body-html"]
    [attachment] = parsed["attachments"]
    assert attachment["name"] == "a.txt"
    assert attachment["size"] == len(b"attached bytes\n")
    assert fetch(server, attachment["url"]).content == b"attached bytes\n"

    raw = message_from_bytes(fetch(server, item["raw_url"]).content, policy=policy.default)
    assert raw["Message-Id"] == message_id
    assert json.loads(raw["X-Mailgun-Variables"]) == {"order": "42"}


def test_batch_send_substitutes_per_recipient(server: Server) -> None:
    people = {
        "ann@example.com": {"name": "Ann", "code": "A-1"},
        "bob@example.net": {"name": "Bob", "code": "B-2"},
        "cat@example.org": {"name": "Cat", "code": "C-3"},
    }
    with sdk(server) as client:
        response = client.messages.create(
            data={
                "from": f"news@{server.sandbox}",
                "to": list(people),
                "subject": "Code for %recipient.name%",
                "text": "Hi %recipient.name%, your code is %recipient.code% (%recipient%).",
                "recipient-variables": json.dumps(people),
            },
            domain=server.sandbox,
        )
    send_ok(response)

    assert len(wait_inbox(server, 3)) == 3
    for address, values in people.items():
        [item] = inbox(server, address)
        parsed = fetch(server, item["url"]).json()
        expected = f"Hi {values['name']}, your code is {values['code']} ({address})."
        assert parsed["body-plain"].strip() == expected
        raw = message_from_bytes(fetch(server, item["raw_url"]).content, policy=policy.default)
        assert [a for _, a in getaddresses([str(raw["To"])])] == [address]
        assert "Cc" not in raw
        # Mailgun substitutes recipient variables in the subject too ("Hey, %recipient.first%")
        assert item["subject"] == f"Code for {values['name']}"


def _pages(server: Server, first: Any) -> list[list[dict[str, Any]]]:
    """Follow ``paging.next`` from a first SDK response until a page comes back empty."""
    assert first.status_code == 200, first.text
    body = first.json()
    pages = [body["items"]]
    seen = set()
    with requests.Session() as session:
        while body["items"]:
            next_url = body["paging"]["next"]
            assert next_url.startswith(server.base_url + f"/v3/{server.sandbox}/events/")
            assert next_url not in seen, "paging.next repeated a URL"
            seen.add(next_url)
            assert len(pages) < 20, "paging did not end"
            response = session.get(next_url, auth=("api", server.api_key), timeout=10)
            assert response.status_code == 200, response.text
            body = response.json()
            pages.append(body["items"])
    return pages


def test_events_page_until_empty(server: Server) -> None:
    with sdk(server) as client:
        send_ok(
            client.messages.create(
                data={"from": f"ev@{server.sandbox}", "to": "one@example.com", "text": "1"},
                domain=server.sandbox,
            )
        )
        send_ok(
            client.messages.create(
                data={
                    "from": f"ev@{server.sandbox}",
                    "to": ["two@example.com", "three@example.com"],
                    "text": "2",
                },
                domain=server.sandbox,
            )
        )
        wait_inbox(server, 3)

        def three_delivered() -> bool:
            response = client.events.get(domain=server.sandbox, filters={"event": "delivered"})
            assert response.status_code == 200, response.text
            return len(response.json()["items"]) == 3

        poll(three_delivered, what="3 delivered events")

        pages = _pages(server, client.events.get(domain=server.sandbox, filters={"limit": 2}))
        assert [len(p) for p in pages] == [2, 2, 2, 0]
        events = [e for page in pages for e in page]
        assert len({e["id"] for e in events}) == 6
        kinds = sorted(e["event"] for e in events)
        assert kinds == ["accepted"] * 3 + ["delivered"] * 3
        recipients = {"one@example.com", "two@example.com", "three@example.com"}
        for kind in ("accepted", "delivered"):
            assert {e["recipient"] for e in events if e["event"] == kind} == recipients
        timestamps = [e["timestamp"] for e in events]
        assert timestamps == sorted(timestamps, reverse=True), "default order is descending"

        delivered_pages = _pages(
            server,
            client.events.get(domain=server.sandbox, filters={"event": "delivered", "limit": 2}),
        )
        delivered = [e for page in delivered_pages for e in page]
        assert [len(p) for p in delivered_pages] == [2, 1, 0]
        assert {e["event"] for e in delivered} == {"delivered"}
        assert {e["recipient"] for e in delivered} == recipients
        for event in delivered:
            assert event["delivery-status"]["code"] == 250
            assert event["message"]["headers"]["message-id"]


def test_resend_stored_message_from_event(server: Server) -> None:
    with sdk(server) as client:
        send_ok(
            client.messages.create(
                data={"from": f"st@{server.sandbox}", "to": "first@example.com", "text": "kept"},
                domain=server.sandbox,
            )
        )
        wait_inbox(server, 1, "first@example.com")
        response = client.events.get(domain=server.sandbox, filters={"event": "accepted"})
        [event] = response.json()["items"]
        storage_url = event["storage"]["url"]
        assert storage_url.startswith(f"{server.base_url}/v3/domains/{server.sandbox}/messages/")
        send_ok(
            client.resend_message.create(data={"to": "again@example.com"}, storage_url=storage_url)
        )
    [item] = wait_inbox(server, 1, "again@example.com")
    assert fetch(server, item["url"]).json()["body-plain"].strip() == "kept"


def _records_by_kind(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_kind: dict[str, dict[str, Any]] = {}
    for record in records:
        if record["record_type"] == "CNAME":
            by_kind["cname"] = record
        elif record["record_type"] == "TXT" and record["value"].startswith("v=spf1"):
            by_kind["spf"] = record
        elif record["record_type"] == "TXT" and "._domainkey." in record["name"]:
            by_kind["dkim"] = record
    return by_kind


def test_domain_lifecycle(server: Server, dns: LoopbackDNS) -> None:
    name, other = "sdk-e2e.example.org", "sdk-e2e-v4.example.org"
    with sdk(server) as client:
        created = client.domains.create(data={"name": name})
        assert created.status_code == 200, created.text
        body = created.json()
        assert body["domain"]["name"] == name
        records = _records_by_kind(body["sending_dns_records"])
        assert set(records) == {"spf", "dkim", "cname"}, body["sending_dns_records"]
        assert records["spf"]["name"] == name
        assert records["dkim"]["name"].endswith(f"._domainkey.{name}")
        assert "p=" in records["dkim"]["value"]
        assert records["cname"]["name"].endswith(f".{name}")
        assert body["receiving_dns_records"]
        assert all(r["record_type"] == "MX" for r in body["receiving_dns_records"])

        v4 = client.domainlist.create(data={"name": other})
        assert v4.status_code == 200, v4.text
        assert v4.json()["domain"]["name"] == other

        got = client.domains.get(domain=name)
        assert got.status_code == 200, got.text
        assert got.json()["domain"]["name"] == name
        assert _records_by_kind(got.json()["sending_dns_records"]) == records

        listed = client.domainlist.get()
        assert listed.status_code == 200, listed.text
        assert listed.json()["total_count"] == 3
        assert {d["name"] for d in listed.json()["items"]} == {server.sandbox, name, other}

        dns.add(f'{name}. 300 IN TXT "{records["spf"]["value"]}"')
        verified = client.domains.put(domain=name, verify=True)
        assert verified.status_code == 200, verified.text
        checked = _records_by_kind(verified.json()["sending_dns_records"])
        assert checked["spf"]["valid"] == "valid"
        assert checked["dkim"]["valid"] == "invalid"
        assert checked["cname"]["valid"] == "invalid"

        deleted = client.domains.delete(domain=name)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"message": "Domain has been deleted"}
        assert client.domains.get(domain=name).status_code == 404
        names = {d["name"] for d in client.domainlist.get().json()["items"]}
        assert names == {server.sandbox, other}


def test_wrong_key_is_401(server: Server) -> None:
    with sdk(server, key="not-the-key") as client:
        assert client.domainlist.get().status_code == 401
        response = client.messages.create(
            data={"from": f"x@{server.sandbox}", "to": "y@example.com", "text": "no"},
            domain=server.sandbox,
        )
        assert response.status_code == 401
        assert "message" in response.json()
    assert inbox(server) == []


def test_send_mime(server: Server) -> None:
    mime = (
        f"From: Mime Sender <mime@{server.sandbox}>\r\n"
        "To: mime-rcpt@example.com\r\n"
        "Subject: Sent as MIME\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Body of the MIME message.\r\n"
    ).encode()
    with sdk(server) as client:
        response = client.mimemessage.create(
            data={"to": "mime-rcpt@example.com"},
            files={"message": mime},  # as the SDK's own post_mime example passes it
            domain=server.sandbox,
        )
    send_ok(response)
    [item] = wait_inbox(server, 1, "mime-rcpt@example.com")
    assert item["subject"] == "Sent as MIME"
    parsed = fetch(server, item["url"]).json()
    assert parsed["body-plain"].strip() == "Body of the MIME message."


def test_keys_create_list_delete(server: Server) -> None:
    with sdk(server) as client:
        # The SDK's keys example passes this header with a plain dict body: requests then sends
        # an urlencoded body labelled multipart/form-data without a boundary.
        created = client.keys.create(
            data={"role": "admin", "kind": "user", "description": "from the sdk"},
            headers={"Content-Type": "multipart/form-data"},
        )
        assert created.status_code == 200, created.text
        key = created.json()["key"]
        assert key["role"] == "admin"
        assert key["description"] == "from the sdk"
        with sdk(server, key=key["secret"]) as other:
            assert other.domainlist.get().status_code == 200

        listed = client.keys.get()
        assert listed.status_code == 200, listed.text
        assert key["id"] in {k["id"] for k in listed.json()["items"]}

        deleted = client.keys.delete(key_id=key["id"])
        assert deleted.status_code == 200, deleted.text
        with sdk(server, key=key["secret"]) as other:
            assert other.domainlist.get().status_code == 401
