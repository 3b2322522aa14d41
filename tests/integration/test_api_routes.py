"""Inbound routes through the API (``/v3/routes``), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from mailwright.inbound import ForwardAction, StopAction, all_routes, plan
from mailwright.store import Store

FORWARD = 'forward("https://example.com/in/\\g<user>")'


async def _create(client: httpx.AsyncClient, **data: Any) -> dict[str, Any]:
    response = await client.post("/v3/routes", data=data)
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Route has been created"
    route: dict[str, Any] = response.json()["route"]
    return route


async def test_create_get_list_update_delete(client: httpx.AsyncClient) -> None:
    route = await _create(
        client,
        priority="2",
        description="users",
        expression='match_recipient("(?P<user>.*)@in.example.com")',
        action=[FORWARD, "stop()"],
    )
    assert re.fullmatch(r"[0-9a-f]{24}", route["id"])
    assert route["priority"] == 2
    assert route["description"] == "users"
    assert route["expression"] == 'match_recipient("(?P<user>.*)@in.example.com")'
    assert route["actions"] == [FORWARD, "stop()"]
    assert route["created_at"].endswith(" GMT")

    got = await client.get(f"/v3/routes/{route['id']}")
    assert got.json() == {"route": route}

    listed = (await client.get("/v3/routes")).json()
    assert listed == {"total_count": 1, "items": [route]}

    updated = await client.put(
        f"/v3/routes/{route['id']}", data={"priority": "7", "action": ["store()"]}
    )
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["message"] == "Route has been updated"
    changed = {**route, "priority": 7, "actions": ["store()"]}
    assert body["route"] == changed
    assert {k: body[k] for k in changed} == changed  # and at the top level, as Mailgun's

    deleted = await client.delete(f"/v3/routes/{route['id']}")
    assert deleted.json() == {"message": "Route has been deleted", "id": route["id"]}
    missing = await client.get(f"/v3/routes/{route['id']}")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Route not found"}


async def test_defaults_and_description_update(client: httpx.AsyncClient) -> None:
    route = await _create(client, expression="catch_all()", action="store()")
    assert (route["priority"], route["description"]) == (0, "")
    updated = await client.put(f"/v3/routes/{route['id']}", data={"description": "all mail"})
    assert updated.json()["route"] == {**route, "description": "all mail"}


async def test_list_pages_in_evaluation_order(client: httpx.AsyncClient) -> None:
    ids = {}
    for name, priority in [("c", 5), ("a", 0), ("b", 0), ("d", 9)]:
        created = await _create(
            client,
            priority=str(priority),
            description=name,
            expression="catch_all()",
            action="stop()",
        )
        ids[name] = created["id"]
    everything = (await client.get("/v3/routes")).json()
    assert [r["description"] for r in everything["items"]] == ["a", "b", "c", "d"]
    page = (await client.get("/v3/routes", params={"skip": 1, "limit": 2})).json()
    assert page["total_count"] == 4
    assert [r["description"] for r in page["items"]] == ["b", "c"]


async def test_match_endpoint(client: httpx.AsyncClient) -> None:
    await _create(client, priority="1", expression='match_recipient(".*@a.test")', action="stop()")
    wide = await _create(client, priority="2", expression="catch_all()", action="store()")
    narrow = await _create(
        client, priority="0", expression='match_recipient("x@a.test")', action="stop()"
    )
    assert (await client.get("/v3/routes/match", params={"address": "x@a.test"})).json() == {
        "route": narrow
    }
    found = await client.get("/v3/routes/match", params={"address": "y@b.test"})
    assert found.json()["route"]["id"] == wide["id"]
    await client.delete(f"/v3/routes/{wide['id']}")
    none = await client.get("/v3/routes/match", params={"address": "y@b.test"})
    assert none.status_code == 404
    assert (await client.get("/v3/routes/match")).status_code == 400


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"action": "stop()"}, "expression"),
        ({"expression": "catch_all()"}, "action"),
        ({"expression": 'match_recipient("(")', "action": "stop()"}, "expression"),
        ({"expression": "anything()", "action": "stop()"}, "expression"),
        ({"expression": "catch_all()", "action": "explode()"}, "action"),
        ({"expression": "catch_all()", "action": ["stop()", 'forward("nowhere")']}, "action"),
        ({"expression": "catch_all()", "action": "stop()", "priority": "high"}, "priority"),
    ],
)
async def test_bad_routes_are_400(
    client: httpx.AsyncClient, data: dict[str, Any], field: str
) -> None:
    response = await client.post("/v3/routes", data=data)
    assert response.status_code == 400, response.text
    assert f"'{field}'" in response.json()["message"]
    assert (await client.get("/v3/routes")).json()["total_count"] == 0


async def test_bad_update_changes_nothing(client: httpx.AsyncClient) -> None:
    route = await _create(client, expression="catch_all()", action="stop()")
    response = await client.put(
        f"/v3/routes/{route['id']}", data={"priority": "3", "expression": "match_recipient("}
    )
    assert response.status_code == 400
    assert (await client.get(f"/v3/routes/{route['id']}")).json()["route"] == route


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_missing_route_is_404(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/v3/routes/000000000000000000000000")
    assert response.status_code == 404
    assert response.json() == {"message": "Route not found"}


async def test_sending_and_basic_keys(client: httpx.AsyncClient, sandbox: str) -> None:
    sending = await client.post(
        "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": sandbox}
    )
    sending_auth = ("api", sending.json()["key"]["secret"])
    assert (await client.get("/v3/routes", auth=sending_auth)).status_code == 403
    form = {"expression": "catch_all()", "action": "stop()"}
    assert (await client.post("/v3/routes", data=form, auth=sending_auth)).status_code == 403

    basic = await client.post("/v1/keys", data={"role": "basic"})
    basic_auth = ("api", basic.json()["key"]["secret"])
    assert (await client.get("/v3/routes", auth=basic_auth)).status_code == 200
    assert (await client.post("/v3/routes", data=form, auth=basic_auth)).status_code == 403
    assert (await client.get("/v3/routes", auth=None)).status_code == 401


async def test_stored_routes_feed_the_plan(client: httpx.AsyncClient, store: Store) -> None:
    await _create(
        client,
        priority="1",
        expression='match_recipient("(?P<user>.*)@in.test")',
        action=[FORWARD, "stop()"],
    )
    await _create(client, priority="0", expression="catch_all()", action="store()")
    await _create(client, priority="2", expression="catch_all()", action='forward("n@x.test")')
    routes = await all_routes(store)
    assert [r.priority for r in routes] == [0, 1, 2]
    steps = plan(routes, "ann@in.test", [])
    assert [s.route_id for s in steps] == [routes[0].id, routes[1].id]
    assert steps[1].actions == (ForwardAction(("https://example.com/in/ann",)), StopAction())
