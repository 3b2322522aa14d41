"""Stats and tags through the official Mailgun Python SDK (``mailgun`` 1.10.0), unmodified."""

from __future__ import annotations

from typing import Any

import pytest
from mailgun.client import Client

from tests.e2e.conftest import Server
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e


async def test_stats_total_and_tags_through_the_sdk(server: Server) -> None:
    with Client(auth=("api", server.api_key), api_url=server.base_url) as client:
        for to in ("a@example.com", "b@example.com"):
            sent = client.messages.create(
                domain=server.sandbox,
                data={
                    "from": f"shop@{server.sandbox}",
                    "to": to,
                    "subject": "Hi",
                    "text": "x",
                    "o:tag": "september newsletter",
                },
            )
            assert sent.status_code == 200, sent.text

        async def delivered() -> dict[str, Any] | None:
            # The SDK warns that Mailgun deprecated the v3 stats API; it still calls it.
            with pytest.warns(DeprecationWarning, match="Stats API"):
                response = client.stats_total.get(
                    domain=server.sandbox,
                    filters={"event": ["accepted", "delivered"], "duration": "1d"},
                )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            done = sum(e["delivered"]["total"] for e in body["stats"]) == 2
            return body if done else None

        body = await wait_until(delivered, within=15)
        assert body["resolution"] == "day"
        assert sum(e["accepted"]["outgoing"] for e in body["stats"]) == 2

        tags = client.tags.get(domain=server.sandbox)
        assert [t["tag"] for t in tags.json()["items"]] == ["september newsletter"]
        put = client.tags.put(
            domain=server.sandbox,
            tag_name="september newsletter",
            data={"description": "Monthly"},
        )
        assert put.json() == {"message": "Tag updated"}
        one = client.tags.get(domain=server.sandbox, tag_name="september newsletter")
        assert one.json()["description"] == "Monthly"
        stats = client.tags_stats.get(
            domain=server.sandbox,
            tag_name="september newsletter",
            filters={"event": "accepted", "duration": "1d"},
        )
        assert stats.status_code == 200, stats.text
        assert sum(e["accepted"]["total"] for e in stats.json()["stats"]) == 2
        gone = client.tags.delete(domain=server.sandbox, tag_name="september newsletter")
        assert gone.json() == {"message": "Tag deleted"}
        assert client.tags.get(domain=server.sandbox).json()["items"] == []
