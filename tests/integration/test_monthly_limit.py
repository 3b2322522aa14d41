"""Mailgun's custom monthly message limit (``/v5/accounts/limit/custom/monthly``, ``.../enable``)
through the HTTP app on SQLite and PostgreSQL: the settings, sends refused at the API once the
month's recipients would go over it (nothing stored), re-enabling, the next month, the limit
held across two processes, SMTP submission, and no query on the accept path without a limit.
The API's clock is injected; nothing sleeps."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select

from mailwright.api import Services
from mailwright.config import Settings
from mailwright.errors import SendingLimitReached
from mailwright.messages import MonthlyLimit, accept, parse_send
from mailwright.messages.monthly_limit import month_start, next_month
from mailwright.store import Store, schema
from tests.integration.test_delivery_mx import sandbox_of, send
from tests.integration.test_submission import message, serving, tls_settings, transaction
from tests.support.workers import accepting

MONTHLY = "/v5/accounts/limit/custom/monthly"
ENABLE = "/v5/accounts/limit/custom/enable"


async def stored_messages(store: Store) -> int:
    async with store.read() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(schema.messages))).scalar_one()
        )


def drive(services: Services, at: float) -> list[float]:
    clock = [at]
    services.clock = lambda: clock[0]
    return clock


async def send_to(client: httpx.AsyncClient, domain: str, *recipients: str) -> httpx.Response:
    data = {"from": f"App <app@{domain}>", "to": list(recipients), "subject": "Hi", "text": "Hi"}
    return await client.post(f"/v3/{domain}/messages", data=data)


async def test_get_set_destroy(settings: Settings, store: Store) -> None:
    async with accepting(settings, store) as (_, client):
        missing = await client.get(MONTHLY)
        assert missing.status_code == 404  # Mailgun's answer when no limit is set
        assert missing.json() == {"message": "No custom monthly message limit is set"}

        put = await client.put(MONTHLY, params={"limit": "1000"})
        assert (put.status_code, put.json()) == (200, {"success": True})
        got = await client.get(MONTHLY)
        assert got.json() == {"limit": 1000, "current": 0, "period": "1m", "is_disabled": False}

        # A form field works as well as the query (curl -F).
        assert (await client.put(MONTHLY, data={"limit": "250"})).json() == {"success": True}
        assert (await client.get(MONTHLY)).json()["limit"] == 250

        deleted = await client.delete(MONTHLY)
        assert (deleted.status_code, deleted.json()) == (200, {"success": True})
        assert (await client.get(MONTHLY)).status_code == 404
        assert (await client.delete(MONTHLY)).json() == {"success": True}  # nothing to remove
        # Enabling an account nothing disabled changes nothing.
        assert (await client.put(ENABLE)).json() == {"success": True}
        assert (await client.get(MONTHLY)).status_code == 404


@pytest.mark.parametrize(
    "value",
    ["", "0", "-1", "abc", "1.5", "1e3", " 12 3", "١٢", str(10**12 + 1), "99999999999999999999"],
)
async def test_a_bad_limit_is_400_naming_the_field(
    settings: Settings, store: Store, value: str
) -> None:
    async with accepting(settings, store) as (_, client):
        response = await client.put(MONTHLY, params={"limit": value})
        assert response.status_code == 400
        assert "'limit'" in response.json()["message"]
        assert (await client.get(MONTHLY)).status_code == 404  # nothing was stored


async def test_a_missing_limit_is_400(settings: Settings, store: Store) -> None:
    async with accepting(settings, store) as (_, client):
        response = await client.put(MONTHLY)
        assert response.status_code == 400
        assert response.json() == {"message": "'limit' parameter is missing"}


async def test_keys_that_may_not_change_account_settings_are_refused(
    settings: Settings, store: Store
) -> None:
    async with accepting(settings, store) as (_, client):
        domain = await sandbox_of(client)
        await client.put(MONTHLY, params={"limit": "10"})

        async def key(**form: str) -> httpx.AsyncClient:
            created = await client.post("/v1/keys", data=form)
            assert created.status_code == 200, created.text
            secret = created.json()["key"]["secret"]
            return httpx.AsyncClient(
                transport=client._transport, base_url="http://testserver", auth=("api", secret)
            )

        async with await key(role="basic") as basic:
            assert (await basic.get(MONTHLY)).status_code == 200  # reading is allowed
            for method, url in (("PUT", MONTHLY), ("DELETE", MONTHLY), ("PUT", ENABLE)):
                refused = await basic.request(method, url, params={"limit": "5"})
                assert refused.status_code == 403, (method, url)
        async with await key(role="sending", kind="domain", domain_name=domain) as sending:
            assert (await sending.get(MONTHLY)).status_code == 403
            assert (await sending.put(MONTHLY, params={"limit": "5"})).status_code == 403
        assert (await client.get(MONTHLY)).json()["limit"] == 10


async def test_sends_are_refused_once_the_month_would_go_over(
    settings: Settings, store: Store
) -> None:
    """Each recipient counts (Mailgun counts a message per recipient, test mode included);
    a send that does not fit is a 403 and stores nothing, one that fits exactly is accepted."""
    async with accepting(settings, store) as (services, client):
        domain = await sandbox_of(client)
        drive(services, time.time())
        assert (await client.put(MONTHLY, params={"limit": "4"})).status_code == 200

        assert (await send_to(client, domain, "a@example.com", "b@example.com")).status_code == 200
        over = await send_to(client, domain, "c@example.com", "d@example.com", "e@example.com")
        assert over.status_code == 403
        assert over.json()["message"] == (
            f"Domain {domain} is not allowed to send: 3 recipients would exceed the account's "
            "custom monthly message limit of 4 (2 sent this month, 2 left)"
        )
        assert await stored_messages(store) == 1
        assert (await client.get(MONTHLY)).json()["current"] == 2

        # Test mode counts too; this send fills the limit exactly.
        await send(client, domain, "c@example.com", **{"o:testmode": "yes"})
        assert (await send_to(client, domain, "d@example.com")).status_code == 200
        assert (await client.get(MONTHLY)).json() == {
            "limit": 4,
            "current": 4,
            "period": "1m",
            "is_disabled": True,
        }
        for recipients in (["f@example.com"], ["g@example.com", "h@example.com"]):
            refused = await send_to(client, domain, *recipients)
            assert refused.status_code == 403
            assert (
                "limit of 4 is reached (4 sent this month); sending is disabled until "
                in (refused.json()["message"])
            )
            assert "PUT /v5/accounts/limit/custom/enable" in refused.json()["message"]
        assert await stored_messages(store) == 3
        # A batch through messages.mime is refused the same way.
        mime = await client.post(
            f"/v3/{domain}/messages.mime",
            data={"to": "z@example.com"},
            files={"message": ("m.eml", message(f"app@{domain}", "z@example.com"))},
        )
        assert mime.status_code == 403
        assert await stored_messages(store) == 3

        # Raising the limit lets sending go on.
        await client.put(MONTHLY, params={"limit": "6"})
        assert (await send_to(client, domain, "f@example.com")).status_code == 200
        assert (await client.get(MONTHLY)).json()["current"] == 5


async def test_mailing_list_members_count_as_recipients(settings: Settings, store: Store) -> None:
    async with accepting(settings, store) as (services, client):
        domain = await sandbox_of(client)
        drive(services, time.time())
        address = f"team@{domain}"
        assert (await client.post("/v3/lists", data={"address": address})).status_code == 200
        members = [{"address": f"m{i}@example.com"} for i in range(3)]
        added = await client.post(
            f"/v3/lists/{address}/members.json", data={"members": json.dumps(members)}
        )
        assert added.status_code == 200, added.text
        await client.put(MONTHLY, params={"limit": "3"})
        over = await send_to(client, domain, address, "x@example.com")  # 3 members + 1
        assert over.status_code == 403
        assert "4 recipients would exceed" in over.json()["message"]
        assert await stored_messages(store) == 0
        assert (await send_to(client, domain, address)).status_code == 200
        assert (await client.get(MONTHLY)).json()["current"] == 3


async def test_enable_lets_sending_go_on_for_the_rest_of_the_month(
    settings: Settings, store: Store
) -> None:
    async with accepting(settings, store) as (services, client):
        domain = await sandbox_of(client)
        drive(services, time.time())
        await client.put(MONTHLY, params={"limit": "2"})
        # Not disabled yet: enabling changes nothing, the limit still stops the third send.
        assert (await client.put(ENABLE)).json() == {"success": True}
        assert (await send_to(client, domain, "a@example.com", "b@example.com")).status_code == 200
        assert (await send_to(client, domain, "c@example.com")).status_code == 403

        assert (await client.put(ENABLE)).json() == {"success": True}
        assert (await client.get(MONTHLY)).json()["is_disabled"] is False
        for rcpt in ("c@example.com", "d@example.com", "e@example.com"):
            assert (await send_to(client, domain, rcpt)).status_code == 200
        assert (await client.get(MONTHLY)).json() == {
            "limit": 2,
            "current": 5,
            "period": "1m",
            "is_disabled": False,
        }
        # Setting a limit is a new decision: it applies again at once.
        await client.put(MONTHLY, params={"limit": "5"})
        assert (await client.get(MONTHLY)).json()["is_disabled"] is True
        assert (await send_to(client, domain, "f@example.com")).status_code == 403
        await client.delete(MONTHLY)
        assert (await send_to(client, domain, "f@example.com")).status_code == 200


async def test_the_next_calendar_month_starts_from_zero(settings: Settings, store: Store) -> None:
    async with accepting(settings, store) as (services, client):
        domain = await sandbox_of(client)
        # 90 seconds before the end of a (UTC) month, as Mailgun counts a calendar month.
        end = next_month(time.time())
        clock = drive(services, end - 90)
        await client.put(MONTHLY, params={"limit": "2"})
        assert (await send_to(client, domain, "a@example.com", "b@example.com")).status_code == 200
        assert (await send_to(client, domain, "c@example.com")).status_code == 403
        refused = (await send_to(client, domain, "c@example.com")).json()["message"]
        reopens = datetime.fromtimestamp(end, UTC).strftime("%a, %d %b %Y 00:00:00 GMT")
        assert refused.endswith(f"or {reopens}")

        clock[0] = end + 1  # the month is over: re-enabled by itself, the count starts again
        assert (await client.get(MONTHLY)).json()["current"] == 0
        assert (await send_to(client, domain, "c@example.com", "d@example.com")).status_code == 200
        assert (await send_to(client, domain, "e@example.com")).status_code == 403
        assert (await client.get(MONTHLY)).json() == {
            "limit": 2,
            "current": 2,
            "period": "1m",
            "is_disabled": True,
        }
        assert month_start(clock[0]) == end


async def test_hours_long_over_are_counted_once_then_kept(settings: Settings, store: Store) -> None:
    """The guard keeps the count of the month's finished hours: sends over several hours
    (three hours apart) add up exactly."""
    async with accepting(settings, store) as (services, client):
        domain = await sandbox_of(client)
        start = month_start(time.time()) + 3600  # early in this month
        clock = drive(services, start)
        await client.put(MONTHLY, params={"limit": "3"})
        for i in range(3):
            assert (await send_to(client, domain, f"u{i}@example.com")).status_code == 200
            clock[0] += 3 * 3600
        assert (await send_to(client, domain, "late@example.com")).status_code == 403
        assert (await client.get(MONTHLY)).json()["current"] == 3


async def test_two_processes_hold_the_limit_together(
    settings: Settings, store: Store, database_url: str
) -> None:
    """Two processes (each its own Store and limit cache) send at once: exactly the limit is
    accepted, the rest refused, and the count is right."""
    other = Store.from_url(database_url, store.keyring)  # processes share the keys
    try:
        async with accepting(settings, store) as (services, client):
            domain = await sandbox_of(client)
            now = time.time()
            await client.put(MONTHLY, params={"limit": "7"})
            guards = [MonthlyLimit(store), MonthlyLimit(other)]

            async def one(i: int) -> bool:
                which = i % 2
                fields = [
                    ("from", f"app@{domain}"),
                    ("to", f"user{i}@example.com"),
                    ("subject", "Hi"),
                    ("text", "Hi"),
                ]
                req = parse_send(fields, [], now=datetime.now(UTC))
                try:
                    await accept(
                        [store, other][which],
                        req,
                        domain=domain,
                        public_url="http://testserver",
                        retention=3600,
                        now=now,
                        monthly_limit=guards[which],
                    )
                except SendingLimitReached:
                    return False
                return True

            results = await asyncio.gather(*(one(i) for i in range(20)))
            assert results.count(True) == 7
            assert await stored_messages(store) == 7
            drive(services, now)
            assert (await client.get(MONTHLY)).json()["current"] == 7
    finally:
        await other.close()


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL the store's engine runs meanwhile (reads; SQLite inserts take their own path)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)


def touches_the_limit(sql: str) -> bool:
    return "FROM settings" in sql or "FROM stat_counters" in sql


async def test_no_query_on_the_accept_path_without_a_limit(
    settings: Settings, store: Store
) -> None:
    async with accepting(settings, store) as (_, client):
        domain = await sandbox_of(client)
        await send(client, domain, "warm@example.com")  # the caches are filled
        with statements(store) as seen:
            for i in range(3):
                await send(client, domain, f"user{i}@example.com")
        assert not [sql for sql in seen if touches_the_limit(sql)]

        await client.put(MONTHLY, params={"limit": "100"})
        with statements(store) as seen:
            await send(client, domain, "limited@example.com")
        if store.is_postgres:  # SQLite runs the accept's transaction on its own connection
            assert any("FOR UPDATE" in sql for sql in seen if touches_the_limit(sql))


async def test_submission_is_refused_over_the_limit(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    async with serving(tls_settings(settings, tmp_path), store) as submission:
        await submission.client.put(MONTHLY, params={"limit": "1"})
        user = submission.login
        code, _ = await submission.talk(transaction(user, message(user)))
        assert code == 250
        code, text = await submission.talk(transaction(user, message(user)))
        assert code == 550
        assert text.startswith(b"5.7.1 Domain " + submission.domain.encode())
        assert b"custom monthly message limit of 1 is reached" in text
        assert len(await submission.events(event="accepted")) == 1
