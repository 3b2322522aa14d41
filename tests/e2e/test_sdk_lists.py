"""Mailing lists through the official Mailgun Python SDK, unmodified: create a list, add
members one by one and in bulk, page them, and send to the list address."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_sdk import fetch, sdk, send_ok, wait_inbox

pytestmark = pytest.mark.e2e


def test_sdk_list_members_and_list_send(server: Server) -> None:
    address = f"club@{server.sandbox}"
    with sdk(server) as client:
        created = client.lists.create(data={"address": address, "name": "Club"})
        assert created.status_code == 200, created.text
        one = client.lists_members.create(
            address=address,
            data={"address": "ann@example.com", "name": "Ann", "vars": json.dumps({"n": 1})},
        )
        assert one.status_code == 200, one.text
        bulk = client.lists_members.create(
            address=address,
            data={
                "members": json.dumps(
                    [{"address": "bob@example.com", "name": "Bob", "vars": {"n": 2}}]
                ),
                "upsert": "yes",
            },
            multiple=True,
        )
        assert bulk.status_code == 200, bulk.text
        assert client.lists.get(address=address).json()["list"]["members_count"] == 2
        pages = client.lists_members_pages.get(address=address)
        assert [m["address"] for m in pages.json()["items"]] == [
            "ann@example.com",
            "bob@example.com",
        ]
        sent = client.messages.create(
            data={
                "from": f"club@{server.sandbox}",
                "to": address,
                "subject": "Hi %recipient.name%",
                "text": "n=%recipient.n%",
            },
            domain=server.sandbox,
        )
    send_ok(sent)
    items = wait_inbox(server, 2)
    subjects = sorted(item["subject"] for item in items)
    assert subjects == ["Hi Ann", "Hi Bob"]
    for item in items:
        n = {"ann@example.com": 1, "bob@example.com": 2}[item["recipient"]]
        assert fetch(server, item["url"]).json()["body-plain"].strip() == f"n={n}"
