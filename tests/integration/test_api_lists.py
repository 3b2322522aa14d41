"""Mailing lists through the API on SQLite and PostgreSQL: lists and members CRUD, paging,
bulk upsert, errors, and list sends delivered to the capture inbox."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from mailwright.events import EventType, MessageFacts, event_row
from mailwright.store import InsertRows, Store, schema
from tests.support.wait import wait_until


async def make_list(
    client: httpx.AsyncClient, sandbox: str, name: str = "news", **extra: str
) -> str:
    address = f"{name}@{sandbox}"
    response = await client.post("/v3/lists", data={"address": address, **extra})
    assert response.status_code == 200, response.text
    return address


async def inbox(client: httpx.AsyncClient, expected: int) -> list[dict]:
    async def probe() -> list[dict] | None:
        found = (await client.get("/mailwright/v1/inbox/messages", params={"limit": 1000})).json()
        return found["items"] if found["total_count"] >= expected else None

    return await wait_until(probe, within=60)


async def raw_of(client: httpx.AsyncClient, item: dict) -> email.message.EmailMessage:
    response = await client.get(f"/mailwright/v1/inbox/messages/{item['id']}/raw")
    return email.message_from_bytes(response.content, policy=email.policy.default)  # type: ignore[return-value]


def body(message: email.message.EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


async def test_list_create_get_update_delete(client: httpx.AsyncClient, sandbox: str) -> None:
    address = f"news@{sandbox}"
    created = await client.post(
        "/v3/lists",
        data={
            "address": address.upper(),
            "name": "News",
            "description": "Weekly",
            "access_level": "members",
            "reply_preference": "sender",
        },
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["message"] == "Mailing list has been created"
    assert {k: v for k, v in body["list"].items() if k != "created_at"} == {
        "address": address,
        "name": "News",
        "description": "Weekly",
        "access_level": "members",
        "reply_preference": "sender",
        "members_count": 0,
    }
    assert body["list"]["created_at"].endswith("GMT")
    again = await client.post("/v3/lists", data={"address": address})
    assert again.status_code == 400

    got = (await client.get(f"/v3/lists/{address}")).json()["list"]
    assert got["name"] == "News"
    changed = await client.put(
        f"/v3/lists/{address}", data={"name": "Daily", "access_level": "readonly"}
    )
    assert changed.json()["message"] == "Mailing list has been updated"
    assert changed.json()["list"]["name"] == "Daily"
    assert (await client.get(f"/v3/lists/{address}")).json()["list"]["access_level"] == "readonly"

    moved = await client.put(f"/v3/lists/{address}", data={"address": "x@elsewhere.example"})
    assert moved.status_code == 400
    assert "address" in moved.json()["message"]

    removed = await client.delete(f"/v3/lists/{address}")
    assert removed.json() == {"message": "Mailing list has been removed", "address": address}
    missing = await client.get(f"/v3/lists/{address}")
    assert missing.status_code == 404
    assert missing.json() == {"message": f"Mailing list {address} not found"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "address"),
        ({"address": "not-an-address"}, "address"),
        ({"address": "x@unknown-domain.example"}, "address"),
        ({"address": "SANDBOX", "access_level": "all"}, "access_level"),
        ({"address": "SANDBOX", "reply_preference": "nobody"}, "reply_preference"),
    ],
)
async def test_bad_list_input_is_400_naming_the_field(
    client: httpx.AsyncClient, sandbox: str, data: dict[str, str], field: str
) -> None:
    if data.get("address") == "SANDBOX":
        data = data | {"address": f"l@{sandbox}"}
    response = await client.post("/v3/lists", data=data)
    assert response.status_code == 400
    assert field in response.json()["message"]


async def test_list_pages(client: httpx.AsyncClient, sandbox: str) -> None:
    for name in ("c", "a", "b"):
        await make_list(client, sandbox, name)
    first = (await client.get("/v3/lists/pages", params={"limit": 2})).json()
    assert [i["address"] for i in first["items"]] == [f"a@{sandbox}", f"b@{sandbox}"]
    following = await client.get(first["paging"]["next"].replace("http://testserver", ""))
    assert [i["address"] for i in following.json()["items"]] == [f"c@{sandbox}"]
    last = (await client.get("/v3/lists/pages", params={"limit": 2, "page": "last"})).json()
    assert [i["address"] for i in last["items"]] == [f"b@{sandbox}", f"c@{sandbox}"]
    legacy = (await client.get("/v3/lists")).json()
    assert legacy["total_count"] == 3
    assert (await client.get("/v3/lists/pages", params={"page": "sideways"})).status_code == 400


async def test_member_add_get_update_delete(client: httpx.AsyncClient, sandbox: str) -> None:
    address = await make_list(client, sandbox)
    base = f"/v3/lists/{address}/members"
    added = await client.post(
        base,
        data={"address": "Ann@Example.com", "name": "Ann", "vars": '{"age": 26}'},
    )
    assert added.status_code == 200, added.text
    assert added.json() == {
        "message": "Mailing list member has been created",
        "member": {
            "address": "ann@example.com",
            "name": "Ann",
            "subscribed": True,
            "vars": {"age": 26},
        },
    }
    duplicate = await client.post(base, data={"address": "ann@example.com"})
    assert duplicate.status_code == 400
    upserted = await client.post(
        base, data={"address": "ann@example.com", "name": "Annie", "upsert": "yes"}
    )
    assert upserted.json()["member"]["name"] == "Annie"
    assert (await client.get(f"/v3/lists/{address}")).json()["list"]["members_count"] == 1

    changed = await client.put(f"{base}/ann@example.com", data={"subscribed": "no"})
    assert changed.json()["member"]["subscribed"] is False
    got = (await client.get(f"{base}/ann%40example.com")).json()["member"]
    assert got == {"address": "ann@example.com", "name": "Annie", "subscribed": False, "vars": {}}

    deleted = await client.delete(f"{base}/ann@example.com")
    assert deleted.json() == {
        "message": "Mailing list member has been deleted",
        "member": {"address": "ann@example.com"},
    }
    assert (await client.get(f"{base}/ann@example.com")).status_code == 404
    assert (await client.delete(f"{base}/ann@example.com")).status_code == 404
    assert (await client.get(f"/v3/lists/nope@{sandbox}/members/pages")).status_code == 404


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "address"),
        ({"address": "bad"}, "address"),
        ({"address": "a@example.com", "vars": "[1]"}, "vars"),
        ({"address": "a@example.com", "subscribed": "maybe"}, "subscribed"),
        ({"address": "a@example.com", "upsert": "perhaps"}, "upsert"),
    ],
)
async def test_bad_member_input_is_400_naming_the_field(
    client: httpx.AsyncClient, sandbox: str, data: dict[str, str], field: str
) -> None:
    address = await make_list(client, sandbox)
    response = await client.post(f"/v3/lists/{address}/members", data=data)
    assert response.status_code == 400
    assert field in response.json()["message"]


async def test_bulk_json_upsert_csv_and_member_paging(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    address = await make_list(client, sandbox)
    base = f"/v3/lists/{address}/members"
    members = [
        "a@example.com",
        {"address": "b@example.com", "name": "Bee", "vars": {"n": 2}},
        {"address": "c@example.com", "subscribed": False},
    ]
    bulk = await client.post(f"{base}.json", data={"members": json.dumps(members)})
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["list"]["members_count"] == 3
    # Without upsert an existing member is left alone; with it, it is updated.
    await client.post(
        f"{base}.json", data={"members": json.dumps([{"address": "b@example.com", "name": "X"}])}
    )
    assert (await client.get(f"{base}/b@example.com")).json()["member"]["name"] == "Bee"
    await client.post(
        f"{base}.json",
        data={"members": json.dumps([{"address": "b@example.com", "name": "X"}]), "upsert": "yes"},
    )
    assert (await client.get(f"{base}/b@example.com")).json()["member"]["name"] == "X"

    csv = b'address,name,vars\nd@example.com,Dee,"{""n"": 4}"\n'
    uploaded = await client.post(f"{base}.csv", files={"members": ("m.csv", csv, "text/csv")})
    assert uploaded.status_code == 200, uploaded.text
    assert (await client.get(f"{base}/d@example.com")).json()["member"]["vars"] == {"n": 4}

    page = (await client.get(f"{base}/pages", params={"limit": 2})).json()
    assert [m["address"] for m in page["items"]] == ["a@example.com", "b@example.com"]
    rest = await client.get(page["paging"]["next"].replace("http://testserver", ""))
    assert [m["address"] for m in rest.json()["items"]] == ["c@example.com", "d@example.com"]
    unsubscribed = (await client.get(f"{base}/pages", params={"subscribed": "no"})).json()
    assert [m["address"] for m in unsubscribed["items"]] == ["c@example.com"]
    assert (await client.get(base)).json()["total_count"] == 4

    for bad in ("{}", "[1]", "not json", json.dumps(["x"]), json.dumps([{"address": 5}])):
        response = await client.post(f"{base}.json", data={"members": bad})
        assert response.status_code == 400
        assert "members" in response.json()["message"]
    assert (await client.post(f"{base}.json", data={})).status_code == 400
    # one bad address refuses the whole batch, naming it; nothing of the batch is stored
    mixed = json.dumps(["e@example.com", "bad@@example.com"])
    refused = await client.post(f"{base}.json", data={"members": mixed})
    assert refused.status_code == 400
    assert "'bad@@example.com'" in refused.json()["message"]
    assert (await client.get(base)).json()["total_count"] == 4
    no_column = await client.post(f"{base}.csv", files={"members": ("m.csv", b"email\nx@y.z\n")})
    assert no_column.status_code == 400


async def test_list_send_personalises_and_skips_unsubscribed(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    address = await make_list(client, sandbox)
    members = [
        {"address": "ann@example.com", "name": "Ann Lee", "vars": {"city": "Oslo"}},
        {"address": "bob@example.com", "name": "Bob", "vars": {"city": "Rome"}},
        {"address": "cat@example.com", "name": "Cat", "subscribed": False},
    ]
    await client.post(f"/v3/lists/{address}/members.json", data={"members": json.dumps(members)})
    sent = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": address,
            "subject": "Hi %recipient.name%",
            "text": "Hello %recipient_fname% from %recipient.city% (%recipient%).",
        },
    )
    assert sent.status_code == 200, sent.text
    items = await inbox(client, 2)
    assert sorted(i["recipient"] for i in items) == ["ann@example.com", "bob@example.com"]
    by = {i["recipient"]: await raw_of(client, i) for i in items}
    assert by["ann@example.com"]["Subject"] == "Hi Ann Lee"
    assert body(by["ann@example.com"]).strip() == "Hello Ann from Oslo (ann@example.com)."
    assert body(by["bob@example.com"]).strip() == "Hello Bob from Rome (bob@example.com)."
    assert by["ann@example.com"]["Reply-To"] == address  # reply_preference "list"
    events = (await client.get(f"/v3/{sandbox}/events", params={"event": "accepted"})).json()
    assert sorted(e["recipient"] for e in events["items"]) == ["ann@example.com", "bob@example.com"]
    by_list = (await client.get(f"/v3/{sandbox}/events", params={"list": address})).json()
    assert {e["recipient"] for e in by_list["items"]} == {"ann@example.com", "bob@example.com"}


async def test_reply_preference_sender_adds_no_reply_to(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    address = await make_list(client, sandbox, reply_preference="sender")
    await client.post(f"/v3/lists/{address}/members", data={"address": "ann@example.com"})
    await client.post(
        f"/v3/{sandbox}/messages",
        data={"from": f"me@{sandbox}", "to": address, "subject": "s", "text": "t"},
    )
    [item] = await inbox(client, 1)
    message = await raw_of(client, item)
    assert message["Reply-To"] is None
    assert message["To"] == address


async def test_mailing_list_unsubscribe_url_unsubscribes_the_member(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    address = await make_list(client, sandbox)
    await client.post(f"/v3/lists/{address}/members", data={"address": "ann@example.com"})
    await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": address,
            "subject": "s",
            "text": "Leave: %mailing_list_unsubscribe_url%",
            "html": '<p><a href="%mailing_list_unsubscribe_url%">leave</a></p>',
        },
    )
    [item] = await inbox(client, 1)
    message = await raw_of(client, item)
    [url] = re.findall(r"http://testserver/u/[A-Za-z0-9_-]+", body(message))
    assert url in body(message, "html")
    page = await client.get(urlsplit(url).path, auth=None)
    assert address in page.text
    assert (await client.post(urlsplit(url).path, auth=None)).status_code == 200
    member = (await client.get(f"/v3/lists/{address}/members/ann@example.com")).json()["member"]
    assert member["subscribed"] is False
    # A list unsubscribe is not a domain suppression.
    assert (await client.get(f"/v3/{sandbox}/unsubscribes/ann@example.com")).status_code == 404
    unsubscribed = (
        await client.get(f"/v3/{sandbox}/events", params={"event": "unsubscribed"})
    ).json()["items"]
    assert [e["mailing-list"]["address"] for e in unsubscribed] == [address]


async def test_thousand_member_list_send_is_delivered_personalised(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    address = await make_list(client, sandbox)
    members = [{"address": f"m{i:04d}@example.com", "vars": {"n": i}} for i in range(1000)]
    bulk = await client.post(
        f"/v3/lists/{address}/members.json", data={"members": json.dumps(members)}
    )
    assert bulk.json()["list"]["members_count"] == 1000
    sent = await client.post(
        f"/v3/{sandbox}/messages",
        data={"from": f"me@{sandbox}", "to": address, "subject": "s", "text": "n=%recipient.n%"},
    )
    assert sent.status_code == 200
    async with store.read() as conn:
        queued = (await conn.execute(select(schema.deliveries.c.recipient))).scalars().all()
    assert len(queued) == 1000  # all queued before the answer
    items = await inbox(client, 1000)
    assert len(items) == 1000
    for item in items[::50]:
        n = int(item["recipient"][1:5])
        assert body(await raw_of(client, item)).strip() == f"n={n}"


async def test_scheduled_list_send_sets_due_times(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    address = await make_list(client, sandbox)
    await client.post(
        f"/v3/lists/{address}/members.json",
        data={"members": json.dumps(["a@example.de", "b@example.jp"])},
    )
    sent = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": [address, "c@example.com"],
            "subject": "s",
            "text": "t",
            "o:time-zone-localize": "9:00AM",
        },
    )
    assert sent.status_code == 200, sent.text
    async with store.read() as conn:
        rows = (await conn.execute(select(schema.deliveries))).all()
    due = {r.recipient: r.due_at for r in rows}
    assert set(due) == {"a@example.de", "b@example.jp", "c@example.com"}
    from zoneinfo import ZoneInfo

    for rcpt, zone in (("a@example.de", "Europe/Berlin"), ("b@example.jp", "Asia/Tokyo")):
        local = datetime.fromtimestamp(due[rcpt], ZoneInfo(zone))
        assert (local.hour, local.minute) == (9, 0)
    assert datetime.fromtimestamp(due["c@example.com"], UTC).hour == 9
    for field, value in (
        ("o:time-zone-localize", "25:00"),
        ("o:time-zone-localize", "13:00PM"),
        ("o:deliverytime-optimize-period", "12h"),
        ("o:deliverytime-optimize-period", "1d"),
    ):
        response = await client.post(
            f"/v3/{sandbox}/messages",
            data={"from": f"me@{sandbox}", "to": address, "text": "t", field: value},
        )
        assert response.status_code == 400
        assert field in response.json()["message"]


async def due_times(store: Store) -> dict[str, float]:
    async with store.read() as conn:
        rows = (await conn.execute(select(schema.deliveries))).all()
    return {r.recipient: r.due_at for r in rows}


async def test_deliverytime_applies_to_every_list_member(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    address = await make_list(client, sandbox)
    await client.post(
        f"/v3/lists/{address}/members.json",
        data={"members": json.dumps([f"m{i}@example.com" for i in range(5)])},
    )
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    sent = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": [address, "direct@example.com"],
            "text": "t",
            "o:deliverytime": format_datetime(when),
        },
    )
    assert sent.status_code == 200, sent.text
    due = await due_times(store)
    assert len(due) == 6
    assert set(due.values()) == {when.timestamp()}


async def test_send_time_optimisation_uses_open_history(
    client: httpx.AsyncClient, sandbox: str, store: Store
) -> None:
    address = await make_list(client, sandbox)
    await client.post(
        f"/v3/lists/{address}/members.json",
        data={"members": json.dumps(["opener@example.com", "new@example.com"])},
    )
    now = datetime.now(UTC)
    facts = MessageFacts(
        domain=sandbox,
        message_id="old@x",
        storage_key="old",
        storage_url="",
        sender="me@x",
        from_header="me@x",
        to_header="opener@example.com",
        subject="",
        size=0,
    )
    opened = [
        event_row(
            facts,
            EventType.OPENED,
            "opener@example.com",
            (now - timedelta(days=d)).replace(hour=18).timestamp(),
        )
        for d in (1, 2, 3)
    ]
    await store.write(InsertRows([(schema.events, opened)]))
    sent = await client.post(
        f"/v3/{sandbox}/messages",
        data={
            "from": f"me@{sandbox}",
            "to": address,
            "text": "t",
            "o:deliverytime-optimize-period": "24h",
        },
    )
    assert sent.status_code == 200, sent.text
    due = await due_times(store)
    opener = datetime.fromtimestamp(due["opener@example.com"], UTC)
    assert opener.hour == 18
    assert now.timestamp() - 5 <= due["opener@example.com"] < now.timestamp() + 24 * 3600
    assert now.timestamp() - 5 <= due["new@example.com"] < now.timestamp() + 24 * 3600
