"""The official Node SDK's ``customMessageLimit`` (Mailgun's custom monthly message limit)
against ``mailwright serve``, on SQLite and PostgreSQL: get, set, destroy and enable, and a
send over the limit reaching the caller as the SDK's error."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_node_sdk import node, queued
from tests.support.node_sdk import call

pytestmark = pytest.mark.e2e


def test_custom_message_limit(server: Server) -> None:
    sdk = node(server)
    domain = server.sandbox

    def send(to: str) -> dict[str, object]:
        return call("messages.create", domain, {"from": f"app@{domain}", "to": to, "text": "x"})

    none, set_, got, first, second, over, usage, enabled, after, bad, destroyed, gone = sdk.run(
        call("customMessageLimit.get"),
        call("customMessageLimit.set", 2),
        call("customMessageLimit.get"),
        send("a@example.com"),
        send("b@example.com"),
        send("c@example.com"),
        call("customMessageLimit.get"),
        call("customMessageLimit.enable"),
        send("c@example.com"),
        call("customMessageLimit.set", 0),
        call("customMessageLimit.destroy"),
        call("customMessageLimit.get"),
    )
    assert (none.ok, none.status) == (False, 404)
    assert set_.value() == {"success": True}
    assert got.value() == {"limit": 2, "current": 0, "period": "1m", "is_disabled": False}
    queued(first.value())
    queued(second.value())
    assert (over.ok, over.status) == (False, 403)
    assert "custom monthly message limit of 2 is reached" in str(over.details)
    assert usage.value() == {"limit": 2, "current": 2, "period": "1m", "is_disabled": True}
    assert enabled.value() == {"success": True}
    queued(after.value())
    assert (bad.ok, bad.status) == (False, 400)
    assert "'limit'" in str(bad.details)
    assert destroyed.value() == {"success": True}
    assert (gone.ok, gone.status) == (False, 404)
