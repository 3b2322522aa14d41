"""``DELETE /v3/{domain}/envelopes`` on SQLite and PostgreSQL: the domain's waiting deliveries
fail with an event saying why; deliveries being attempted, and other domains', are left."""

from __future__ import annotations

import time
from email.utils import formatdate

from mailwright.config import Settings
from mailwright.store import Store, queries
from tests.integration.test_delivery_mx import sandbox_of, send
from tests.support.workers import accepting, deliveries


async def test_deleting_the_queue_fails_waiting_deliveries_with_events(
    settings: Settings, store: Store
) -> None:
    async with accepting(settings, store) as (_, client):
        domain = await sandbox_of(client)
        other = "other.example"
        assert (await client.post("/v4/domains", data={"name": other})).status_code == 200
        later = formatdate(time.time() + 3600, usegmt=True)
        await send(client, domain, "a@example.com", **{"o:deliverytime": later, "v:order": "7"})
        await send(client, domain, "b@example.com, c@example.com", **{"o:tag": "news"})
        await send(client, other, "d@example.com")
        # One delivery is being attempted by a worker right now: it is left to finish.
        [busy] = await store.write(
            lambda conn: queries.claim_due(
                conn, worker="w1", now=time.time(), lease=900, limit=1, skip_locked=False
            )
        )
        assert busy.domain == domain

        response = await client.delete(f"/v3/{domain}/envelopes")
        assert response.status_code == 200, response.text
        assert response.json() == {"message": "done", "deleted": 2}

        rows = {r["recipient"]: r for r in await deliveries(store)}
        assert rows[busy.recipient]["status"] == "queued"
        assert rows["d@example.com"]["status"] == "queued"
        failed = {r for r, row in rows.items() if row["status"] == "failed"}
        assert failed == {"a@example.com", "b@example.com", "c@example.com"} - {busy.recipient}

        page = await client.get(f"/v3/{domain}/events", params={"event": "failed"})
        events = {e["recipient"]: e for e in page.json()["items"]}
        assert set(events) == failed
        for event in events.values():
            assert (event["severity"], event["reason"]) == ("permanent", "generic")
            assert event["delivery-status"]["message"] == (
                f"Deleted from the domain's queue by request (DELETE /v3/{domain}/envelopes)"
            )
        # The scheduled message is not due, so no worker could have held it.
        assert events["a@example.com"]["user-variables"] == {"order": "7"}
        stats = await client.get(
            f"/v3/{domain}/stats/total", params={"event": "failed", "duration": "1d"}
        )
        totals = sum(s["failed"]["permanent"]["total"] for s in stats.json()["stats"])
        assert totals == len(failed)

        again = await client.delete(f"/v3/{domain}/envelopes")
        assert again.json() == {"message": "done", "deleted": 0}
        missing = await client.delete("/v3/none.example/envelopes")
        assert missing.status_code == 404
        sending = await client.post(
            "/v1/keys", data={"role": "sending", "kind": "domain", "domain_name": domain}
        )
        assert sending.status_code == 200, sending.text
        key = ("api", sending.json()["key"]["secret"])
        refused = await client.delete(f"/v3/{domain}/envelopes", auth=key)
        assert refused.status_code == 403
