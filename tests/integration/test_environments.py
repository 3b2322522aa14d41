"""Environments: a ``test`` API key or OAuth client only sends in test mode (the message is
captured into the inbox, never delivered, even with real MX delivery) and sees test-mode
events only; ``live`` credentials deliver as usual."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.integration.test_delivery_mx import (  # noqa: F401 -- fixtures
    loopback_dns,
    mx_client,
    sandbox_of,
    sink,
)
from tests.support.smtp import SmtpSink
from tests.support.wait import wait_until

INBOX = "/mailwright/v1/inbox/messages"


async def credentials_of(client: httpx.AsyncClient, kind: str) -> dict[str, str]:
    """Headers that authenticate as a new test-environment key or OAuth client."""
    if kind == "key":
        created = await client.post("/v1/keys", data={"role": "admin", "environment": "test"})
        assert created.status_code == 200, created.text
        key = created.json()["key"]
        assert key["environment"] == "test"
        basic = base64.b64encode(f"api:{key['secret']}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}
    created = await client.post(
        "/mailwright/v1/oauth/clients", data={"scope": "send read", "environment": "test"}
    )
    assert created.status_code == 200, created.text
    app = created.json()["client"]
    assert app["environment"] == "test"
    token = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(app["client_id"], app["client_secret"]),
    )
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


async def send(client: httpx.AsyncClient, domain: str, to: str, **kwargs: object) -> str:
    data = {"from": f"app@{domain}", "to": to, "subject": "Hello", "text": "Hi"}
    response = await client.post(f"/v3/{domain}/messages", data=data, **kwargs)  # type: ignore
    assert response.status_code == 200, response.text
    return str(response.json()["id"]).strip("<>")


@pytest.mark.parametrize("kind", ["key", "oauth"])
async def test_test_credential_mail_is_captured_and_never_delivered(
    mx_client: httpx.AsyncClient,  # noqa: F811 -- the fixture imported above
    sink: SmtpSink,  # noqa: F811
    kind: str,
) -> None:
    domain = await sandbox_of(mx_client)
    auth = await credentials_of(mx_client, kind)
    test_id = await send(mx_client, domain, "alice@rcpt.test", headers=auth, auth=None)
    live_id = await send(mx_client, domain, "bob@rcpt.test")  # the primary (live) key

    [received] = await sink.wait_for(1)
    assert received.rcpt_tos == ("bob@rcpt.test",)
    assert live_id.encode() in received.data

    async def captured() -> list[dict]:
        return list((await mx_client.get(INBOX)).json()["items"])

    [item] = await wait_until(captured)
    assert item["recipient"] == "alice@rcpt.test"
    raw = await mx_client.get(f"{INBOX}/{item['id']}/raw")
    assert test_id.encode() in raw.content

    async def delivered_in_test_mode() -> list[dict]:
        page = await mx_client.get(
            f"/v3/{domain}/events", params={"event": "delivered", "recipient": "alice@rcpt.test"}
        )
        return list(page.json()["items"])

    [event] = await wait_until(delivered_in_test_mode)
    assert event["flags"]["is-test-mode"] is True
    assert event["delivery-status"]["mx-host"] == "capture"
    assert sink.transactions == 1  # alice's message never went out over SMTP

    # The test credential sees its own (test-mode) events and none of the live message's.
    seen = await mx_client.get(f"/v3/{domain}/events", headers=auth, auth=None)
    assert seen.status_code == 200, seen.text
    items = seen.json()["items"]
    assert {e["message"]["headers"]["message-id"] for e in items} == {test_id}
    assert all(e["flags"]["is-test-mode"] for e in items)
    assert {e["event"] for e in items} == {"accepted", "delivered"}
    everything = (await mx_client.get(f"/v3/{domain}/events")).json()["items"]
    assert {e["message"]["headers"]["message-id"] for e in everything} == {test_id, live_id}


async def test_test_credentials_cannot_make_live_ones(client: httpx.AsyncClient) -> None:
    auth = await credentials_of(client, "key")
    live_key = await client.post("/v1/keys", data={"role": "admin"}, headers=auth, auth=None)
    assert live_key.status_code == 403
    live_client = await client.post(
        "/mailwright/v1/oauth/clients", data={"scope": "send"}, headers=auth, auth=None
    )
    assert live_client.status_code == 403
    test_key = await client.post(
        "/v1/keys", data={"role": "sending", "environment": "test"}, headers=auth, auth=None
    )
    assert test_key.status_code == 200, test_key.text
    listed = {k["id"]: k["environment"] for k in (await client.get("/v1/keys")).json()["items"]}
    assert listed[test_key.json()["key"]["id"]] == "test"
    assert sorted(listed.values()).count("live") == 1  # the primary key
    bad = await client.post("/v1/keys", data={"role": "admin", "environment": "staging"})
    assert bad.status_code == 400


async def test_test_credential_reads_only_test_mail(client: httpx.AsyncClient) -> None:
    """Capture mode: live and test mail both land in the inbox; a test credential sees, reads
    and deletes its test-mode mail only, and no live stored message."""
    domain = await sandbox_of(client)
    auth = await credentials_of(client, "key")
    test_id = await send(client, domain, "alice@example.com", headers=auth, auth=None)
    live_id = await send(client, domain, "bob@example.com")

    async def both_captured() -> list[dict]:
        items = (await client.get(INBOX)).json()["items"]
        return items if len(items) == 2 else []

    items = {i["recipient"]: i for i in await wait_until(both_captured)}
    listed = (await client.get(INBOX, headers=auth, auth=None)).json()
    assert [i["recipient"] for i in listed["items"]] == ["alice@example.com"]
    assert listed["total_count"] == 1
    live_item = items["bob@example.com"]["id"]
    for path in (f"{INBOX}/{live_item}", f"{INBOX}/{live_item}/raw"):
        assert (await client.get(path, headers=auth, auth=None)).status_code == 404
    assert (await client.get(f"{INBOX}/{live_item}")).status_code == 200

    async def stored_url(message_id: str) -> str:
        page = await client.get(f"/v3/{domain}/events", params={"message-id": message_id})
        return str(page.json()["items"][0]["storage"]["url"]).removeprefix("http://testserver")

    live_stored = await client.get(await stored_url(live_id), headers=auth, auth=None)
    assert live_stored.status_code == 404
    test_stored = await client.get(await stored_url(test_id), headers=auth, auth=None)
    assert test_stored.status_code == 200, test_stored.text

    emptied = await client.delete(INBOX, headers=auth, auth=None)
    assert emptied.json() == {"message": "1 messages have been deleted"}
    remaining = (await client.get(INBOX)).json()["items"]
    assert [i["recipient"] for i in remaining] == ["bob@example.com"]


def _totals(body: dict) -> tuple[int, int]:
    """(accepted, delivered) summed over a stats/total body."""
    accepted = sum(s["accepted"]["total"] for s in body["stats"])
    delivered = sum(s["delivered"]["total"] for s in body["stats"])
    return accepted, delivered


async def test_stats_count_live_and_test_traffic_apart(client: httpx.AsyncClient) -> None:
    """Live credentials' stats count all traffic (test mode too, as events list it); a test
    credential's stats count test-mode traffic only."""
    domain = await sandbox_of(client)
    auth = await credentials_of(client, "key")
    for to in ("a@example.com", "b@example.com"):
        await send(client, domain, to, headers=auth, auth=None)
    await send(client, domain, "c@example.com")  # live

    async def all_delivered() -> bool:
        page = await client.get(f"/v3/{domain}/events", params={"event": "delivered"})
        return len(page.json()["items"]) == 3

    await wait_until(all_delivered)
    params = {"event": ["accepted", "delivered"], "duration": "1d"}
    for path in (f"/v3/{domain}/stats/total", "/v3/stats/total"):
        live = await client.get(path, params=params)
        assert live.status_code == 200, live.text
        assert _totals(live.json()) == (3, 3)
        test = await client.get(path, params=params, headers=auth, auth=None)
        assert test.status_code == 200, test.text
        assert _totals(test.json()) == (2, 2)


async def test_test_credentials_keep_their_own_suppressions(client: httpx.AsyncClient) -> None:
    """A test credential neither reads nor changes the live lists; its own bounce list stops
    its own (captured) mail, and the live list still stops live mail."""
    domain = await sandbox_of(client)
    auth = await credentials_of(client, "key")
    bounces = f"/v3/{domain}/bounces"
    live_added = await client.post(bounces, data={"address": "live@example.com"})
    assert live_added.status_code == 200, live_added.text
    test_added = await client.post(
        bounces, data={"address": "test@example.com"}, headers=auth, auth=None
    )
    assert test_added.status_code == 200, test_added.text

    def addresses(page: httpx.Response) -> list[str]:
        assert page.status_code == 200, page.text
        return [i["address"] for i in page.json()["items"]]

    assert addresses(await client.get(bounces)) == ["live@example.com"]
    assert addresses(await client.get(bounces, headers=auth, auth=None)) == ["test@example.com"]
    hidden = await client.get(f"{bounces}/live@example.com", headers=auth, auth=None)
    assert hidden.status_code == 404
    wiped = await client.delete(bounces, headers=auth, auth=None)
    assert wiped.status_code == 200, wiped.text
    assert addresses(await client.get(bounces)) == ["live@example.com"]
    assert addresses(await client.get(bounces, headers=auth, auth=None)) == []

    await client.post(bounces, data={"address": "test@example.com"}, headers=auth, auth=None)
    await send(client, domain, "test@example.com", headers=auth, auth=None)  # test list: stopped
    await send(client, domain, "live@example.com", headers=auth, auth=None)  # live list: not
    await send(client, domain, "test@example.com")  # live mail, not on the live list
    await send(client, domain, "live@example.com")  # live mail on the live list: stopped

    async def settled() -> list[dict]:
        page = await client.get(f"/v3/{domain}/events", params={"event": "failed OR delivered"})
        items = list(page.json()["items"])
        return items if len(items) == 4 else []

    outcome = {
        (e["recipient"], e["flags"]["is-test-mode"]): (e["event"], e.get("reason"))
        for e in await wait_until(settled)
    }
    assert outcome == {
        ("test@example.com", True): ("failed", "suppress-bounce"),
        ("live@example.com", True): ("delivered", None),
        ("test@example.com", False): ("delivered", None),
        ("live@example.com", False): ("failed", "suppress-bounce"),
    }
