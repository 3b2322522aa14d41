"""Webhooks through the ASGI app on SQLite and PostgreSQL, delivered to a real receiver on
loopback: the API, the outbox written with the event, signatures (ours and django-anymail's
real Mailgun view), 406, retries, giving up, per-endpoint concurrency and the test event."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from mailwright.app import Runtime, build_runtime, first_start
from mailwright.config import Settings
from mailwright.delivery.retry import RetrySchedule
from mailwright.events import record
from mailwright.store import Store, schema
from mailwright.webhooks import HttpPoster, SenderConfig, WebhookWorker, verify
from tests.conftest import API_KEY
from tests.support.anymail_view import BASIC_AUTH, anymail_status
from tests.support.dns import LoopbackDNS
from tests.support.receiver import Receiver
from tests.support.wait import wait_until

FAST = "1s,1s;give_up=3s"


@pytest.fixture
async def hooks_runtime(settings: Settings, store: Store) -> AsyncIterator[Runtime]:
    changed = settings.with_changes(
        allow_private_urls=True, webhook_retry_schedule=RetrySchedule.parse(FAST)
    )
    runtime = build_runtime(changed, frozenset({"api", "worker"}), store=store)
    await first_start(changed, store)
    await runtime.start()
    yield runtime
    await runtime.stop()


@pytest.fixture
async def api(hooks_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=hooks_runtime.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=("api", API_KEY)
    ) as client:
        yield client


@pytest.fixture
async def domain(api: httpx.AsyncClient) -> str:
    name: str = (await api.get("/v4/domains")).json()["items"][0]["name"]
    return name


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


async def hook(api: httpx.AsyncClient, domain: str, kind: str, *urls: str) -> None:
    response = await api.post(
        f"/v3/domains/{domain}/webhooks", data={"id": kind, "url": list(urls)}
    )
    assert response.status_code == 200, response.text


async def send(api: httpx.AsyncClient, domain: str, to: str = "alice@example.com") -> str:
    data = {"from": f"Shop <shop@{domain}>", "to": to, "subject": "Order", "text": "x"}
    response = await api.post(f"/v3/{domain}/messages", data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])[1:-1]


async def outbox(store: Store) -> list[dict]:
    async with store.read() as conn:
        rows = await conn.execute(
            select(schema.webhook_outbox).order_by(schema.webhook_outbox.c.id)
        )
        return [dict(r._mapping) for r in rows]


def arrived(receiver: Receiver, n: int):
    async def probe() -> bool:
        return len(receiver.received) >= n

    return probe


def event_row(event_id: str, domain: str) -> dict:
    """An events row of a permanent failure, as ``record`` takes it."""
    return {
        "id": event_id,
        "domain": domain,
        "timestamp": time.time(),
        "event": "failed",
        "severity": "permanent",
        "recipient": "x@example.com",
        "message_id": "m@x",
        "sender": "s",
        "to": "t",
        "subject": "s",
        "tags_key": "||",
        "attachments": "",
        "size": 1,
        "list": None,
        "payload": "{}",
    }


class Boom(Exception):
    pass


async def record_then_fail(
    store: Store, event_id: str, domain: str, urls: list[str] | None = None
) -> None:
    """Record an event, see its outbox rows (``urls``) in the transaction, then roll back."""
    async with store.engine.begin() as conn:
        await record(conn, [event_row(event_id, domain)])
        if urls is not None:
            found = await conn.execute(select(schema.webhook_outbox.c.url))
            assert found.scalars().all() == urls
        raise Boom


# -- the API ---------------------------------------------------------------------------------


async def test_crud_as_mailgun(api: httpx.AsyncClient, domain: str) -> None:
    base = f"/v3/domains/{domain}/webhooks"
    assert (await api.get(base)).json() == {"webhooks": {}}
    created = await api.post(
        base, data={"id": "delivered", "url": ["https://a.example/1", "http://b/2"]}
    )
    assert created.status_code == 200
    assert created.json() == {
        "message": "Webhook has been created",
        "webhook": {"urls": ["https://a.example/1", "http://b/2"]},
    }
    # JSON bodies too (SDKs send forms; some clients JSON)
    clicked = await api.post(base, json={"id": "clicked", "url": "https://c.example/"})
    assert clicked.status_code == 200
    assert (await api.get(base)).json() == {
        "webhooks": {
            "delivered": {"urls": ["https://a.example/1", "http://b/2"]},
            "clicked": {"urls": ["https://c.example/"]},
        }
    }
    assert (await api.get(f"{base}/delivered")).json() == {
        "webhook": {"urls": ["https://a.example/1", "http://b/2"]}
    }
    updated = await api.put(f"{base}/delivered", data={"url": "https://new.example/"})
    assert updated.json() == {
        "message": "Webhook has been updated",
        "webhook": {"urls": ["https://new.example/"]},
    }
    deleted = await api.delete(f"{base}/delivered")
    assert deleted.json() == {
        "message": "Webhook has been deleted",
        "webhook": {"urls": ["https://new.example/"]},
    }
    assert (await api.get(f"{base}/delivered")).status_code == 404
    assert list((await api.get(base)).json()["webhooks"]) == ["clicked"]


async def test_v4_one_url_for_many_event_types(
    api: httpx.AsyncClient, domain: str, receiver: Receiver
) -> None:
    v4, v3 = f"/v4/domains/{domain}/webhooks", f"/v3/domains/{domain}/webhooks"
    url = receiver.url("/hooks")
    await hook(api, domain, "delivered", "https://other.example/")
    created = await api.post(v4, data={"url": url, "event_types": ["accepted", "delivered"]})
    assert created.status_code == 200, created.text
    assert created.json() == {
        "webhooks": {
            "accepted": {"urls": [url]},
            "delivered": {"urls": ["https://other.example/", url]},
        }
    }
    # The URL then receives both events of a send, as the v3 webhooks it shares would.
    await send(api, domain)
    await wait_until(arrived(receiver, 2))
    assert sorted(r.json()["event-data"]["event"] for r in receiver.received) == [
        "accepted",
        "delivered",
    ]

    # PUT: the URL is on exactly the event types given.
    updated = await api.put(v4, data={"url": url, "event_types": "opened"})
    assert updated.json() == {
        "webhooks": {
            "delivered": {"urls": ["https://other.example/"]},
            "opened": {"urls": [url]},
        }
    }
    assert (await api.get(v3)).json()["webhooks"] == updated.json()["webhooks"]

    # DELETE ?url= (comma-separated) takes the URLs off every event type.
    deleted = await api.delete(v4, params={"url": f"{url},https://other.example/"})
    assert deleted.json() == {"webhooks": {}}
    assert (await api.delete(v4, params={"url": url})).status_code == 404

    for data, field in (
        ({"url": url}, "event_types"),
        ({"url": url, "event_types": "bounced"}, "event_types"),
        ({"event_types": "opened"}, "url"),
        ({"url": ["https://a.example/", "https://b.example/"], "event_types": "opened"}, "url"),
    ):
        bad = await api.post(v4, data=data)
        assert bad.status_code == 400, bad.text
        assert field in bad.json()["message"]
    for i in range(3):
        await api.post(v4, data={"url": f"https://{i}.example/", "event_types": "clicked"})
    full = await api.post(v4, data={"url": "https://4.example/", "event_types": "clicked"})
    assert full.status_code == 400
    assert "3 URLs" in full.json()["message"]
    assert (await api.delete(v4)).status_code == 400


@pytest.mark.parametrize(
    ("data", "status", "field"),
    [
        ({"url": "https://a.example/"}, 400, "'id'"),
        ({"id": "bounced", "url": "https://a.example/"}, 400, "'id'"),
        ({"id": "delivered"}, 400, "'url'"),
        ({"id": "delivered", "url": "ftp://a.example/"}, 400, "'url'"),
        ({"id": "delivered", "url": "https:///nohost"}, 400, "'url'"),
        ({"id": "delivered", "url": [f"https://a.example/{i}" for i in range(4)]}, 400, "'url'"),
    ],
)
async def test_bad_requests_name_the_field(
    api: httpx.AsyncClient, domain: str, data: dict, status: int, field: str
) -> None:
    response = await api.post(f"/v3/domains/{domain}/webhooks", data=data)
    assert response.status_code == status
    assert field in response.json()["message"]


async def test_conflicts_and_missing(api: httpx.AsyncClient, domain: str) -> None:
    base = f"/v3/domains/{domain}/webhooks"
    await hook(api, domain, "opened", "https://a.example/")
    again = await api.post(base, data={"id": "opened", "url": "https://b.example/"})
    assert again.status_code == 400
    assert again.json() == {"message": "Webhook already exists"}
    missing = await api.put(f"{base}/clicked", data={"url": "https://b.example/"})
    assert (missing.status_code, missing.json()) == (404, {"message": "Webhook not found"})
    assert (await api.delete(f"{base}/clicked")).status_code == 404
    bad = await api.get(f"{base}/nope")
    assert bad.status_code == 400
    assert "'id'" in bad.json()["message"]
    unknown = await api.get("/v3/domains/unknown.example/webhooks")
    assert unknown.status_code == 404


async def test_signing_key_get_and_regenerate(api: httpx.AsyncClient) -> None:
    first = (await api.get("/v5/accounts/http_signing_key")).json()["http_signing_key"]
    assert len(first) == 32
    assert (await api.get("/v5/accounts/http_signing_key")).json() == {"http_signing_key": first}
    regenerated = (await api.post("/v5/accounts/http_signing_key")).json()
    assert regenerated["message"] == "success"
    assert regenerated["http_signing_key"] != first
    assert (await api.get("/v5/accounts/http_signing_key")).json() == {
        "http_signing_key": regenerated["http_signing_key"]
    }


# -- outbox in the event's transaction --------------------------------------------------------


async def test_record_writes_outbox_rows_in_the_callers_transaction(
    api: httpx.AsyncClient, domain: str, store: Store
) -> None:
    urls = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]
    await hook(api, domain, "permanent_fail", *urls)
    with pytest.raises(Boom):
        await record_then_fail(store, "ev-rolled-back", domain, urls)  # written with the event ...
    assert await outbox(store) == []  # ... and gone with it
    async with store.engine.begin() as conn:
        await record(conn, [event_row("ev-kept", domain)])
    rows = await outbox(store)
    assert [(r["event_id"], r["kind"], r["url"]) for r in rows] == [
        ("ev-kept", "permanent_fail", "http://127.0.0.1:9/a"),
        ("ev-kept", "permanent_fail", "http://127.0.0.1:9/b"),
    ]


async def test_accept_writes_outbox_rows_with_the_accepted_events(
    api: httpx.AsyncClient, domain: str, store: Store, hooks_runtime: Runtime
) -> None:
    # The worker is stopped so the rows stay queued for us to look at.
    assert hooks_runtime.webhook_worker is not None
    await hooks_runtime.webhook_worker.stop()
    hooks_runtime.webhook_worker = None
    await hook(api, domain, "accepted", "http://127.0.0.1:9/accepted")
    message_id = await send(api, domain, "a@example.com, b@example.com")
    rows = await outbox(store)
    events = (await api.get(f"/v3/{domain}/events", params={"event": "accepted"})).json()["items"]
    assert {e["message"]["headers"]["message-id"] for e in events} == {message_id}
    assert sorted(r["event_id"] for r in rows) == sorted(e["id"] for e in events)
    assert all(r["status"] == "queued" and r["kind"] == "accepted" for r in rows)
    assert {json.loads(r["payload"])["id"] for r in rows} == {e["id"] for e in events}


# -- delivery and signatures ------------------------------------------------------------------


async def test_events_arrive_signed_and_anymail_accepts_them(
    api: httpx.AsyncClient, domain: str, receiver: Receiver
) -> None:
    url = receiver.url("/mailgun/tracking", auth=BASIC_AUTH)
    await hook(api, domain, "accepted", url)
    await hook(api, domain, "delivered", url)
    message_id = await send(api, domain)
    await wait_until(arrived(receiver, 2))
    key = (await api.get("/v5/accounts/http_signing_key")).json()["http_signing_key"]
    events = (await api.get(f"/v3/{domain}/events")).json()["items"]
    by_id = {e["id"]: e for e in events}
    kinds = set()
    for got in receiver.received:
        assert got.headers["content-type"] == "application/json"
        assert got.headers["authorization"].startswith("Basic ")
        data = got.json()
        assert set(data) == {"signature", "event-data"}
        assert len(data["signature"]["token"]) == 50
        assert verify(key, data["signature"], now=time.time())
        # event-data is the event exactly as the events API returns it
        assert data["event-data"] == by_id[data["event-data"]["id"]]
        assert data["event-data"]["message"]["headers"]["message-id"] == message_id
        kinds.add(data["event-data"]["event"])
        status, seen = anymail_status(key, got.body)
        assert status == 200
        [normalised] = seen
        # anymail's normalised names: Mailgun's accepted is its "queued"
        expected = {"accepted": "queued", "delivered": "delivered"}[data["event-data"]["event"]]
        assert normalised.event_type == expected  # type: ignore[attr-defined]
        # anymail's message_id is the id the send answered, with its angle brackets
        assert normalised.message_id == f"<{message_id}>"  # type: ignore[attr-defined]
        assert normalised.recipient == "alice@example.com"  # type: ignore[attr-defined]
    assert kinds == {"accepted", "delivered"}
    # A tampered signature block (here the token) is refused by anymail and by us; Mailgun's
    # signature covers timestamp + token only, so receivers rely on it plus their token dedupe.
    tampered = receiver.received[0].body.replace(
        receiver.received[0].json()["signature"]["token"].encode(), b"x" * 50
    )
    assert anymail_status(key, tampered)[0] == 400
    assert not verify(key, json.loads(tampered)["signature"], now=time.time())
    # The wrong key is refused too.
    assert anymail_status("0" * 32, receiver.received[0].body)[0] == 400


async def test_406_is_dropped_without_retry(
    api: httpx.AsyncClient, domain: str, receiver: Receiver, store: Store
) -> None:
    receiver.status = 406
    await hook(api, domain, "accepted", receiver.url())
    await send(api, domain)

    async def dropped() -> bool:
        return [r["status"] for r in await outbox(store)] == ["dropped"]

    await wait_until(dropped)
    items = (
        await api.get("/mailwright/v1/webhooks/deliveries", params={"status": "dropped"})
    ).json()["items"]
    assert [(i["status"], i["last_status"], i["attempts"]) for i in items] == [("dropped", 406, 1)]
    await _no_more_requests(receiver, 1, seconds=1.5)


async def _no_more_requests(receiver: Receiver, n: int, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds

    async def waited() -> bool:
        assert len(receiver.received) == n
        return time.monotonic() > deadline

    await wait_until(waited, within=seconds + 5)


async def test_failures_are_retried_until_delivered(
    api: httpx.AsyncClient, domain: str, receiver: Receiver, store: Store
) -> None:
    receiver.script = [500, 503]
    await hook(api, domain, "accepted", receiver.url())
    await send(api, domain)

    async def delivered() -> bool:
        return [r["status"] for r in await outbox(store)] == ["delivered"]

    await wait_until(delivered)
    [row] = await outbox(store)
    assert row["attempts"] == 3
    assert len(receiver.received) == 3
    assert len({r.json()["event-data"]["id"] for r in receiver.received}) == 1
    tokens = {r.json()["signature"]["token"] for r in receiver.received}
    assert len(tokens) == 3  # every POST is signed afresh


async def test_an_endpoint_that_keeps_failing_is_given_up_and_reported(
    api: httpx.AsyncClient, domain: str, receiver: Receiver, store: Store
) -> None:
    receiver.status = 500
    receiver.answer = b"database down " + b"x" * 5000  # only the first KB is kept
    await hook(api, domain, "accepted", receiver.url())
    await send(api, domain)
    retrying = await wait_until(_listed(api, "retrying"))
    assert retrying[0]["last_error"] == "HTTP 500"
    assert retrying[0]["last_answer"] == ("database down " + "x" * 5000)[:1024]
    assert retrying[0]["next_attempt_at"] is not None
    [failed] = await wait_until(_listed(api, "failed"), within=15)
    assert failed["last_status"] == 500
    assert failed["attempts"] >= 3  # 0s, 1s, 2s, and the last at the 3s deadline
    assert len(receiver.received) == failed["attempts"]


def _listed(api: httpx.AsyncClient, status: str):
    async def probe() -> list[dict]:
        response = await api.get("/mailwright/v1/webhooks/deliveries", params={"status": status})
        assert response.status_code == 200
        items: list[dict] = response.json()["items"]
        return items

    return probe


async def test_bad_deliveries_query(api: httpx.AsyncClient) -> None:
    response = await api.get("/mailwright/v1/webhooks/deliveries", params={"status": "nope"})
    assert response.status_code == 400
    assert "'status'" in response.json()["message"]
    response = await api.get("/mailwright/v1/webhooks/deliveries", params={"limit": "0"})
    assert response.status_code == 400
    assert "'limit'" in response.json()["message"]


async def test_test_event(api: httpx.AsyncClient, domain: str, receiver: Receiver) -> None:
    await hook(api, domain, "permanent_fail", receiver.url("/one"), receiver.url("/two"))
    response = await api.post(f"/mailwright/v1/domains/{domain}/webhooks/permanent_fail/test")
    assert response.status_code == 200
    assert response.json() == {
        "message": "Test event sent",
        "results": [
            {"url": receiver.url("/one"), "status": 200, "error": None, "answer": "ok"},
            {"url": receiver.url("/two"), "status": 200, "error": None, "answer": "ok"},
        ],
    }
    key = (await api.get("/v5/accounts/http_signing_key")).json()["http_signing_key"]
    for got in receiver.received:
        data = got.json()
        assert verify(key, data["signature"], now=time.time())
        assert data["event-data"]["event"] == "failed"
        assert data["event-data"]["severity"] == "permanent"
        assert data["event-data"]["flags"]["is-system-test"] is True
    # each test POST is listed with the deliveries, finished, with the receiver's answer
    listed = await api.get("/mailwright/v1/webhooks/deliveries", params={"domain": domain})
    assert sorted(
        (d["url"], d["webhook"], d["status"], d["attempts"], d["last_status"])
        for d in listed.json()["items"]
    ) == [
        (receiver.url("/one"), "permanent_fail", "delivered", 1, 200),
        (receiver.url("/two"), "permanent_fail", "delivered", 1, 200),
    ]
    missing = await api.post(f"/mailwright/v1/domains/{domain}/webhooks/clicked/test")
    assert missing.status_code == 404


async def test_mailgun_webhook_url_test(api: httpx.AsyncClient, domain: str) -> None:
    """Mailgun's ``PUT .../webhooks/{id}/test`` (mailgun.js ``webhooks.create(..., test=true)``):
    a signed test event goes to the given URL, configured or not, and the answer carries the
    receiver's status and reply."""
    async with Receiver(status=500, answer=b"Hi!") as receiver:
        response = await api.put(
            f"/v3/domains/{domain}/webhooks/opened/test", data={"url": receiver.url("/t")}
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"code": "500", "message": "Hi!"}
        [got] = receiver.received
    assert got.path == "/t"
    data = got.json()
    key = (await api.get("/v5/accounts/http_signing_key")).json()["http_signing_key"]
    assert verify(key, data["signature"], now=time.time())
    assert data["event-data"]["event"] == "opened"
    assert data["event-data"]["flags"]["is-system-test"] is True
    # the webhook itself was not created by the test
    assert (await api.get(f"/v3/domains/{domain}/webhooks/opened")).status_code == 404
    listed = await api.get("/mailwright/v1/webhooks/deliveries", params={"domain": domain})
    assert [(d["url"], d["status"], d["last_status"]) for d in listed.json()["items"]] == [
        (receiver.url("/t"), "failed", 500)
    ]

    # nobody listening: no HTTP answer, and why
    closed = Receiver()
    refused = await api.put(
        f"/v3/domains/{domain}/webhooks/opened/test", data={"url": closed.url("/t")}
    )
    assert refused.status_code == 200, refused.text
    assert refused.json()["code"] is None
    assert refused.json()["message"]

    for data_, field in (({}, "'url'"), ({"url": "ftp://x.example/"}, "'url'")):
        bad = await api.put(f"/v3/domains/{domain}/webhooks/opened/test", data=data_)
        assert bad.status_code == 400, bad.text
        assert field in bad.json()["message"]
    unknown = await api.put(
        f"/v3/domains/{domain}/webhooks/no-such-kind/test", data={"url": "https://x.example/"}
    )
    assert unknown.status_code == 400, unknown.text


# -- the worker on its own: concurrency per endpoint, timeouts --------------------------------


async def test_per_endpoint_concurrency_and_timeouts(
    api: httpx.AsyncClient, domain: str, store: Store, hooks_runtime: Runtime
) -> None:
    assert hooks_runtime.webhook_worker is not None
    await hooks_runtime.webhook_worker.stop()
    hooks_runtime.webhook_worker = None
    async with Receiver(delay=0.3) as slow, Receiver() as fast:
        await hook(api, domain, "accepted", slow.url(), fast.url())
        for i in range(6):
            await send(api, domain, f"user{i}@example.com")
        worker = WebhookWorker(
            store,
            SenderConfig(schedule=RetrySchedule.parse(FAST), allow_private=True, per_endpoint=2),
            HttpPoster(timeout=5.0),
            hooks_runtime.services.resolver,
        )
        worker.start()
        try:
            await wait_until(arrived(slow, 6))
            await wait_until(arrived(fast, 6))
        finally:
            await worker.stop()
        assert slow.max_in_flight == 2
        assert fast.max_in_flight <= 2

    # A receiver slower than the timeout: the attempt fails as a timeout and is retried.
    async with Receiver(delay=2.0) as stuck:
        await hook(api, domain, "delivered", stuck.url())
        worker = WebhookWorker(
            store,
            SenderConfig(schedule=RetrySchedule.parse("1h;give_up=8h"), allow_private=True),
            HttpPoster(timeout=0.3),
            hooks_runtime.services.resolver,
        )
        await send(api, domain, "late@example.com")
        worker.start()
        try:

            async def timed_out() -> list[dict]:
                items = await _listed(api, "retrying")()
                return [i for i in items if i["webhook"] == "delivered"]

            [item] = await wait_until(timed_out, within=15)
        finally:
            await worker.stop()
        assert item["last_error"].startswith("timeout")
        assert item["last_status"] is None


async def test_stop_lets_posts_in_flight_finish_and_begins_no_others(
    api: httpx.AsyncClient, domain: str, store: Store, hooks_runtime: Runtime
) -> None:
    assert hooks_runtime.webhook_worker is not None
    await hooks_runtime.webhook_worker.stop()
    hooks_runtime.webhook_worker = None
    async with Receiver(delay=1.0) as slow:
        await hook(api, domain, "accepted", slow.url())
        for i in range(6):
            await send(api, domain, f"user{i}@example.com")
        worker = WebhookWorker(
            store,
            SenderConfig(schedule=RetrySchedule.parse(FAST), allow_private=True, per_endpoint=2),
            HttpPoster(timeout=5.0),
            hooks_runtime.services.resolver,
        )
        worker.start()

        async def two_in_flight() -> bool:
            return slow.in_flight == 2

        await wait_until(two_in_flight)
        await worker.stop()
        assert len(slow.received) == 2  # the two under way were answered, none begun after
    rows = await outbox(store)
    assert sorted(r["status"] for r in rows) == ["delivered"] * 2 + ["queued"] * 4
    assert {r["claimed_by"] for r in rows} == {None}


# -- private addresses are refused unless allowed (SSRF) --------------------------------------


@pytest.fixture
async def strict_api(
    settings: Settings, store: Store
) -> AsyncIterator[tuple[httpx.AsyncClient, LoopbackDNS, str]]:
    """The server as shipped (ALLOW_PRIVATE_URLS false), resolving through a loopback DNS."""
    with LoopbackDNS("public.test. 300 IN A 93.184.216.34\nten.test. 300 IN A 10.0.0.7") as dns:
        changed = settings.with_changes(
            dns_server=dns.address, webhook_retry_schedule=RetrySchedule.parse(FAST)
        )
        runtime = build_runtime(changed, frozenset({"api", "worker"}), store=store)
        await first_start(changed, store)
        await runtime.start()
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", auth=("api", API_KEY)
        ) as client:
            domain = (await client.get("/v4/domains")).json()["items"][0]["name"]
            yield client, dns, domain
        await runtime.stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost.ten.test/",
        "http://ten.test/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:10.0.0.1]/",
        "http://nowhere.test/hook",  # does not resolve
    ],
)
async def test_private_urls_are_refused_at_create(
    strict_api: tuple[httpx.AsyncClient, LoopbackDNS, str], url: str
) -> None:
    api, _, domain = strict_api
    response = await api.post(f"/v3/domains/{domain}/webhooks", data={"id": "clicked", "url": url})
    assert response.status_code == 400
    assert response.json()["message"].startswith("'url' is not allowed")


async def test_private_addresses_are_refused_again_at_send_time(
    strict_api: tuple[httpx.AsyncClient, LoopbackDNS, str], receiver: Receiver
) -> None:
    api, dns, domain = strict_api
    url = f"http://public.test:{receiver.port}/hook"
    created = await api.post(f"/v3/domains/{domain}/webhooks", data={"id": "accepted", "url": url})
    assert created.status_code == 200
    # The name now points at the loopback receiver (DNS rebinding): the POST must not go out.
    dns.set_zone("public.test. 1 IN A 127.0.0.1")
    await send(api, domain)
    [item] = await wait_until(_listed(api, "retrying"))
    assert item["last_error"] == "refused: public.test resolves to a non-public address (127.0.0.1)"
    assert item["last_status"] is None
    assert receiver.received == []
