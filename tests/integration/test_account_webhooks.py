"""Mailgun's account webhooks (``/v1/webhooks``) through the ASGI app on SQLite and PostgreSQL:
the API's shapes, events of every domain POSTed signed to a real receiver on loopback, a URL
on both the domain and the account level POSTed once per event, the outbox rows written in
the event's transaction, bad input, and who may manage them."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest

from mailwright.app import Runtime, build_runtime, first_start
from mailwright.config import Settings
from mailwright.delivery.retry import RetrySchedule
from mailwright.events import record
from mailwright.store import Store, schema
from mailwright.webhooks import verify
from tests.conftest import API_KEY
from tests.integration.test_webhooks import (
    FAST,
    Boom,
    arrived,
    event_row,
    hook,
    outbox,
    record_then_fail,
    send,
)
from tests.support.dns import LoopbackDNS
from tests.support.receiver import Receiver
from tests.support.wait import wait_until

HOOKS = "/v1/webhooks"


async def _runtime(settings: Settings, store: Store) -> Runtime:
    changed = settings.with_changes(webhook_retry_schedule=RetrySchedule.parse(FAST))
    runtime = build_runtime(changed, frozenset({"api", "worker"}), store=store)
    await first_start(changed, store)
    await runtime.start()
    return runtime


@pytest.fixture
async def hooks_runtime(settings: Settings, store: Store) -> AsyncIterator[Runtime]:
    runtime = await _runtime(settings.with_changes(allow_private_urls=True), store)
    yield runtime
    await runtime.stop()


def client_of(runtime: Runtime) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=runtime.app)
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=("api", API_KEY)
    )


@pytest.fixture
async def api(hooks_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(hooks_runtime) as client:
        yield client


@pytest.fixture
async def domain(api: httpx.AsyncClient) -> str:
    name: str = (await api.get("/v4/domains")).json()["items"][0]["name"]
    return name


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def create(api: httpx.AsyncClient, url: str, *kinds: str, description: str = "") -> str:
    data = {"url": url, "event_types": list(kinds), "description": description}
    response = await api.post(HOOKS, data=data)
    assert response.status_code == 200, response.text
    webhook_id: str = response.json()["webhook_id"]
    return webhook_id


async def other_domain(api: httpx.AsyncClient) -> str:
    response = await api.post("/v4/domains", data={"name": "other.example"})
    assert response.status_code == 200, response.text
    return "other.example"


# -- the API ---------------------------------------------------------------------------------


async def test_crud_as_mailgun(api: httpx.AsyncClient) -> None:
    assert (await api.get(HOOKS)).json() == {"webhooks": []}
    before = time.time()
    first = await create(api, "https://a.example/hook", "delivered", "accepted", description="A")
    assert re.fullmatch(r"[0-9a-f]{24}", first)
    # JSON bodies too, event_types as a list or a single string
    second_response = await api.post(
        HOOKS, json={"url": "https://b.example/", "event_types": "opened"}
    )
    assert second_response.status_code == 200, second_response.text
    second = second_response.json()["webhook_id"]

    listed = (await api.get(HOOKS)).json()["webhooks"]
    created_at = listed[0].pop("created_at")
    assert datetime.fromisoformat(created_at).timestamp() >= int(before)
    assert created_at.endswith("Z")
    assert listed[0] == {
        "webhook_id": first,
        "description": "A",
        "url": "https://a.example/hook",
        "event_types": ["accepted", "delivered"],  # Mailgun's order of event types
    }
    assert [(h["webhook_id"], h["url"], h["event_types"]) for h in listed[1:]] == [
        (second, "https://b.example/", ["opened"])
    ]
    one = (await api.get(f"{HOOKS}/{second}")).json()
    assert set(one) == {"webhook_id", "description", "url", "event_types", "created_at"}
    assert (one["webhook_id"], one["description"], one["event_types"]) == (second, "", ["opened"])
    only = await api.get(HOOKS, params={"webhook_ids": f"{second},unknown"})
    assert [h["webhook_id"] for h in only.json()["webhooks"]] == [second]

    # PUT replaces url, event types and description; it answers 204.
    updated = await api.put(
        f"{HOOKS}/{first}",
        data={"url": "https://c.example/", "event_types": ["clicked", "permanent_fail"]},
    )
    assert (updated.status_code, updated.content) == (204, b"")
    again = (await api.get(f"{HOOKS}/{first}")).json()
    assert (again["url"], again["event_types"], again["description"]) == (
        "https://c.example/",
        ["clicked", "permanent_fail"],
        "",
    )
    assert again["created_at"] == created_at

    deleted = await api.delete(f"{HOOKS}/{first}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await api.get(f"{HOOKS}/{first}")).status_code == 404
    assert [h["webhook_id"] for h in (await api.get(HOOKS)).json()["webhooks"]] == [second]

    # Bulk: by ids, then all=true.
    third = await create(api, "https://d.example/", "complained")
    fourth = await create(api, "https://e.example/", "unsubscribed")
    by_ids = await api.delete(HOOKS, params={"webhook_ids": f"{second},{third}"})
    assert by_ids.status_code == 204
    assert [h["webhook_id"] for h in (await api.get(HOOKS)).json()["webhooks"]] == [fourth]
    assert (await api.delete(HOOKS, params={"all": "true"})).status_code == 204
    assert (await api.get(HOOKS)).json() == {"webhooks": []}
    assert (await api.delete(HOOKS, params={"all": "true"})).status_code == 204


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"event_types": "delivered"}, "'url'"),
        ({"url": "ftp://a.example/", "event_types": "delivered"}, "'url'"),
        ({"url": "https:///nohost", "event_types": "delivered"}, "'url'"),
        ({"url": ["https://a.example/", "https://b.example/"], "event_types": "opened"}, "'url'"),
        ({"url": "https://a.example/"}, "'event_types'"),
        ({"url": "https://a.example/", "event_types": "bounced"}, "'event_types'"),
        (
            {"url": "https://a.example/", "event_types": "opened", "description": "x" * 1001},
            "'description'",
        ),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    api: httpx.AsyncClient,
    data: dict,
    field: str,
) -> None:
    response = await api.post(HOOKS, data=data)
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
    assert (await api.get(HOOKS)).json() == {"webhooks": []}


async def test_limits_conflicts_and_unknown_ids(api: httpx.AsyncClient) -> None:
    ids = [await create(api, f"https://{i}.example/", "clicked") for i in range(3)]
    # At most 3 URLs per event type, across the account webhooks.
    full = await api.post(HOOKS, data={"url": "https://4.example/", "event_types": "clicked"})
    assert full.status_code == 400
    assert full.json() == {"message": "'event_types': clicked has 3 account webhook URLs already"}
    moved = await api.put(
        f"{HOOKS}/{ids[0]}", data={"url": "https://0.example/", "event_types": "clicked"}
    )
    assert moved.status_code == 204  # the webhook itself does not count against the limit
    # One URL is one account webhook.
    same = await api.post(HOOKS, data={"url": "https://1.example/", "event_types": "opened"})
    assert same.status_code == 400
    assert same.json() == {"message": "An account webhook with this 'url' already exists"}
    taken = await api.put(
        f"{HOOKS}/{ids[0]}", data={"url": "https://1.example/", "event_types": "opened"}
    )
    assert taken.status_code == 400

    for method in ("GET", "DELETE"):
        missing = await api.request(method, f"{HOOKS}/nope")
        assert (missing.status_code, missing.json()) == (404, {"message": "Webhook not found"})
    put_missing = await api.put(
        f"{HOOKS}/nope", data={"url": "https://z.example/", "event_types": "opened"}
    )
    assert put_missing.status_code == 404
    # A bulk delete naming an unknown id deletes nothing.
    partly = await api.delete(HOOKS, params={"webhook_ids": f"{ids[1]},nope"})
    assert partly.status_code == 404
    assert len((await api.get(HOOKS)).json()["webhooks"]) == 3
    neither = await api.delete(HOOKS)
    assert neither.status_code == 400
    assert "'webhook_ids'" in neither.json()["message"]
    assert (await api.delete(HOOKS, params={"all": "false"})).status_code == 400
    bad_all = await api.delete(HOOKS, params={"all": "yes please"})
    assert bad_all.status_code == 400
    assert "'all'" in bad_all.json()["message"]
    assert len((await api.get(HOOKS)).json()["webhooks"]) == 3


async def test_only_account_keys_manage_them(
    api: httpx.AsyncClient,
    domain: str,
) -> None:
    webhook_id = await create(api, "https://a.example/", "delivered")
    sending = await api.post(
        "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": domain}
    )
    basic = await api.post("/v1/keys", data={"role": "basic"})
    assert sending.status_code == basic.status_code == 200
    domain_key = ("api", sending.json()["key"]["secret"])
    read_only = ("api", basic.json()["key"]["secret"])
    form = {"url": "https://b.example/", "event_types": "opened"}
    for method, path, data in (
        ("GET", HOOKS, None),
        ("POST", HOOKS, form),
        ("GET", f"{HOOKS}/{webhook_id}", None),
        ("PUT", f"{HOOKS}/{webhook_id}", form),
        ("DELETE", f"{HOOKS}/{webhook_id}", None),
        ("DELETE", HOOKS, None),
    ):
        refused = await api.request(method, path, data=data, auth=domain_key)
        assert refused.status_code == 403, (method, path)
        assert "message" in refused.json()
        expected = 200 if method == "GET" else 403
        assert (await api.request(method, path, data=data, auth=read_only)).status_code == expected
    assert [h["webhook_id"] for h in (await api.get(HOOKS)).json()["webhooks"]] == [webhook_id]
    assert (await api.get(f"{HOOKS}/{webhook_id}")).json()["url"] == "https://a.example/"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://ten.test/hook"])
async def test_private_urls_are_refused(settings: Settings, store: Store, url: str) -> None:
    """As shipped (MAILWRIGHT_ALLOW_PRIVATE_URLS false), as domain webhooks are."""
    with LoopbackDNS("public.test. 300 IN A 93.184.216.34\nten.test. 300 IN A 10.0.0.7") as dns:
        runtime = await _runtime(settings.with_changes(dns_server=dns.address), store)
        try:
            async with client_of(runtime) as strict:
                refused = await strict.post(HOOKS, data={"url": url, "event_types": "clicked"})
                assert refused.status_code == 400
                assert refused.json()["message"].startswith("'url' is not allowed")
                public = {"url": "http://public.test/", "event_types": "clicked"}
                assert (await strict.post(HOOKS, data=public)).status_code == 200
                assert (await strict.put(f"{HOOKS}/x", data=public)).status_code == 404
                webhook_id = (await strict.get(HOOKS)).json()["webhooks"][0]["webhook_id"]
                moved = await strict.put(
                    f"{HOOKS}/{webhook_id}", data={"url": url, "event_types": "clicked"}
                )
                assert moved.status_code == 400
                assert moved.json()["message"].startswith("'url' is not allowed")
        finally:
            await runtime.stop()


# -- events of every domain -------------------------------------------------------------------


async def test_events_of_every_domain_arrive_signed(
    api: httpx.AsyncClient,
    domain: str,
    receiver: Receiver,
    store: Store,
) -> None:
    other = await other_domain(api)
    url = receiver.url("/account")
    webhook_id = await create(api, url, "accepted")
    first = await send(api, domain)
    second = await send(api, other)
    await wait_until(arrived(receiver, 2))
    key = (await api.get("/v5/accounts/http_signing_key")).json()["http_signing_key"]
    sent = {}
    for got in receiver.received:
        assert got.path == "/account"
        data = got.json()
        assert verify(key, data["signature"], now=time.time())
        event = data["event-data"]
        assert event["event"] == "accepted"
        sent[event["message"]["headers"]["message-id"]] = event["envelope"]["sender"]
    assert sent == {first: f"shop@{domain}", second: f"shop@{other}"}
    assert sorted(r["domain"] for r in await outbox(store)) == sorted([domain, other])

    # Deleted, it is POSTed nothing more: the accept path's cache was forgotten.
    assert (await api.delete(f"{HOOKS}/{webhook_id}")).status_code == 204
    await send(api, other)
    assert len(await outbox(store)) == 2


async def test_a_url_on_both_levels_is_posted_once_per_event(
    api: httpx.AsyncClient,
    domain: str,
    receiver: Receiver,
    store: Store,
    hooks_runtime: Runtime,
) -> None:
    shared, account_only = receiver.url("/shared"), receiver.url("/account")
    await hook(api, domain, "accepted", shared)
    await send(api, domain)  # the accept path now has this domain's webhooks cached
    await create(api, shared, "accepted", "delivered")
    await create(api, account_only, "accepted")
    message_id = await send(api, domain)

    def of_message(rows: list[dict]) -> list[tuple[str, str]]:
        return sorted((r["kind"], r["url"]) for r in rows if message_id in r["payload"])

    # Written with the accepted event: the shared URL once, the account's other URL once.
    accepted = [r for r in await outbox(store) if r["kind"] == "accepted"]
    assert of_message(accepted) == [("accepted", account_only), ("accepted", shared)]

    async def delivered() -> list[tuple[str, str]]:
        rows = of_message(await outbox(store))
        return rows if ("delivered", shared) in rows else []

    assert await wait_until(delivered) == [
        ("accepted", account_only),
        ("accepted", shared),
        ("delivered", shared),
    ]

    async def posted() -> list[tuple[str, str]]:
        seen = [
            (r.path, r.json()["event-data"]["event"])
            for r in receiver.received
            if r.json()["event-data"]["message"]["headers"]["message-id"] == message_id
        ]
        return sorted(seen) if len(seen) >= 3 else []

    assert await wait_until(posted) == [
        ("/account", "accepted"),
        ("/shared", "accepted"),
        ("/shared", "delivered"),
    ]
    # ``record`` dedupes as the accept path does, in the caller's transaction.
    assert hooks_runtime.webhook_worker is not None
    await hooks_runtime.webhook_worker.stop()
    hooks_runtime.webhook_worker = None
    await hook(api, domain, "permanent_fail", shared, receiver.url("/domain"))
    await create(api, receiver.url("/fail"), "permanent_fail")
    await create(api, receiver.url("/domain"), "permanent_fail", "temporary_fail")

    with pytest.raises(Boom):
        await record_then_fail(store, "ev-rolled-back", domain)
    async with store.engine.begin() as conn:
        await record(conn, [event_row("ev-kept", domain)])
    rows = await outbox(store)
    assert "ev-rolled-back" not in {r["event_id"] for r in rows}
    assert [(r["kind"], r["url"]) for r in rows if r["event_id"] == "ev-kept"] == [
        ("permanent_fail", shared),
        ("permanent_fail", receiver.url("/domain")),
        ("permanent_fail", receiver.url("/fail")),
    ]


async def test_outbox_rows_of_account_webhooks_roll_back_with_the_event(store: Store) -> None:
    async def add(conn) -> None:
        await conn.execute(
            schema.account_webhooks.insert(),
            [
                {
                    "webhook_id": "w1",
                    "url": "http://127.0.0.1:9/a",
                    "description": "",
                    "created_at": 0.0,
                }
            ],
        )
        await conn.execute(
            schema.account_webhook_kinds.insert(), [{"webhook_id": "w1", "kind": "permanent_fail"}]
        )

    await store.write(add)

    with pytest.raises(Boom):
        await record_then_fail(store, "ev-gone", "a.example", ["http://127.0.0.1:9/a"])
    assert await outbox(store) == []
    async with store.engine.begin() as conn:
        await record(conn, [event_row("ev-1", "a.example"), event_row("ev-2", "b.example")])
    rows = await outbox(store)
    assert [(r["event_id"], r["domain"], r["url"]) for r in rows] == [
        ("ev-1", "a.example", "http://127.0.0.1:9/a"),
        ("ev-2", "b.example", "http://127.0.0.1:9/a"),
    ]
