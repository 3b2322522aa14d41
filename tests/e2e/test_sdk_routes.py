"""Inbound routes through the official Mailgun Python SDK, unmodified, against
``mailwright serve``: create, list, get, match, update and delete."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_sdk import sdk

pytestmark = pytest.mark.e2e


def test_routes_through_the_sdk(server: Server) -> None:
    with sdk(server) as client:
        created = client.routes.create(
            data={
                "priority": 1,
                "description": "support inbox",
                "expression": 'match_recipient("support@in.example.com")',
                "action": ['forward("https://hooks.example.com/support")', "stop()"],
            }
        )
        assert created.status_code == 200, created.text
        route = created.json()["route"]
        assert route["actions"] == ['forward("https://hooks.example.com/support")', "stop()"]
        catch_all = client.routes.create(
            data={"priority": 5, "expression": "catch_all()", "action": "store()"}
        )
        assert catch_all.status_code == 200, catch_all.text

        listed = client.routes.get(filters={"skip": 0, "limit": 1})
        assert listed.json()["total_count"] == 2
        assert [r["id"] for r in listed.json()["items"]] == [route["id"]]

        got = client.routes.get(route_id=route["id"])
        assert got.json()["route"]["description"] == "support inbox"

        matched = client.routes_match.get(filters={"address": "support@in.example.com"})
        assert matched.json()["route"]["id"] == route["id"]

        updated = client.routes.put(
            route_id=route["id"],
            data={"priority": 9, "description": "moved", "action": ["store()"]},
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["message"] == "Route has been updated"
        assert (updated.json()["priority"], updated.json()["actions"]) == (9, ["store()"])
        # Now the catch-all (priority 5) runs first.
        matched = client.routes_match.get(filters={"address": "support@in.example.com"})
        assert matched.json()["route"]["id"] == catch_all.json()["route"]["id"]

        deleted = client.routes.delete(route_id=route["id"])
        assert deleted.json() == {"message": "Route has been deleted", "id": route["id"]}
        assert client.routes.get(route_id=route["id"]).status_code == 404
        assert client.routes.get().json()["total_count"] == 1
