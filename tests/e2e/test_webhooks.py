"""``mailwright serve`` (worker child process, capture delivery) posts webhooks to a receiver on
loopback; the receiver is stopped mid-run and started again, and every event still arrives
exactly once."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from mailwright.webhooks import verify
from tests.e2e.conftest import Server, StartServer
from tests.support.dns import LoopbackDNS
from tests.support.receiver import Receiver
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

SETTINGS = {
    "MAILWRIGHT_ALLOW_PRIVATE_URLS": "true",
    # retry every second for the test; the default is Mailgun's 8-hour schedule
    "MAILWRIGHT_WEBHOOK_RETRY_SCHEDULE": "1s;max=1s;give_up=10m",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def webhook_server(
    request: pytest.FixtureRequest, dns: LoopbackDNS, start_server: StartServer
) -> Server:
    extra = dict(SETTINGS, MAILWRIGHT_DNS_SERVER=dns.nameserver)
    if request.param == "postgresql":
        url: str = request.getfixturevalue("fresh_postgres_url")
        return start_server(database_url=url, **extra)
    return start_server(**extra)


def _send(server: Server, n: int, start: int) -> None:
    with server.http() as http:
        for i in range(start, start + n):
            response = http.post(
                f"/v3/{server.sandbox}/messages",
                data={"from": f"me@{server.sandbox}", "to": f"u{i}@example.com", "text": "hi"},
            )
            assert response.status_code == 200, response.text


def _event_ids(server: Server) -> set[str]:
    with server.http() as http:
        items = http.get(f"/v3/{server.sandbox}/events", params={"limit": 300}).json()["items"]
    return {e["id"] for e in items if e["event"] in ("accepted", "delivered")}


async def test_every_event_arrives_once_across_a_receiver_outage(
    webhook_server: Server,
) -> None:
    server = webhook_server
    receiver = Receiver()
    await receiver.start()
    try:
        with server.http() as http:
            for kind in ("accepted", "delivered"):
                response = http.post(
                    f"/v3/domains/{server.sandbox}/webhooks",
                    data={"id": kind, "url": receiver.url()},
                )
                assert response.status_code == 200, response.text
            key = http.get("/v5/accounts/http_signing_key").json()["http_signing_key"]

        _send(server, 5, 0)

        async def first_half() -> bool:
            return len(receiver.received) >= 10

        await wait_until(first_half, within=30)
        await receiver.stop()  # the receiver goes away mid-run
        _send(server, 5, 5)

        async def retrying() -> bool:
            with server.http() as http:
                page = http.get("/mailwright/v1/webhooks/deliveries", params={"status": "retrying"})
            return bool(page.json()["items"])

        await wait_until(retrying, within=30)
        await receiver.start()  # ... and comes back on the same port

        async def all_arrived() -> bool:
            return len(receiver.received) >= 20

        await wait_until(all_arrived, within=60)
        await _settled(receiver)
    finally:
        await receiver.stop()

    got = Counter(r.json()["event-data"]["id"] for r in receiver.received)
    assert max(got.values()) == 1, "an event arrived twice"
    assert set(got) == _event_ids(server)
    assert len(got) == 20
    assert all(verify(key, r.json()["signature"], now=time.time()) for r in receiver.received)


async def _settled(receiver: Receiver, quiet: float = 2.0) -> None:
    """Wait until nothing more arrives for ``quiet`` seconds (a duplicate would show up)."""
    seen = [len(receiver.received), time.monotonic()]

    async def quiet_for() -> bool:
        if len(receiver.received) != seen[0]:
            seen[:] = [len(receiver.received), time.monotonic()]
        return time.monotonic() - seen[1] > quiet

    await wait_until(quiet_for, within=30)
