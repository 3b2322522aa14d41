"""``mailwright serve`` records the uptime of each role it runs, the delivery worker child's
too, and ``/metrics`` and ``mailwright status`` read them back."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import StartServer, free_port, run_cli
from tests.integration.test_monitoring import samples, value
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

NODE = "e2e-node"


async def test_every_role_and_the_worker_child_record_their_checks(
    start_server: StartServer,
) -> None:
    server = start_server(
        MAILWRIGHT_NODE_NAME=NODE,
        MAILWRIGHT_UPTIME_INTERVAL="0.2",
        MAILWRIGHT_SMTP_ADDR=f"127.0.0.1:{free_port()}",
    )
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200

        async def every_role_checked() -> dict | None:
            found = samples((await client.get("/metrics")).text)
            roles = {
                role: value(found, "mailwright_uptime_last_check_ok", node=NODE, role=role)
                for role in ("api", "smtp", "worker")
            }
            healthz = {"method": "GET", "route": "/healthz", "window": "24h"}
            requests = value(found, "mailwright_endpoint_requests", **healthz)
            return found if None not in roles.values() and requests else None

        found = await wait_until(every_role_checked, within=30)
    for role in ("api", "smtp", "worker"):  # the worker role runs in the child process
        assert value(found, "mailwright_uptime_last_check_ok", node=NODE, role=role) == 1
        share = value(found, "mailwright_uptime_ratio", node=NODE, role=role, window="24h")
        assert share is not None
        assert 0.5 < share <= 1.0
    healthz = {"method": "GET", "route": "/healthz", "window": "24h"}
    assert value(found, "mailwright_endpoint_success_ratio", **healthz) == 1.0

    status = run_cli("status", "--json", env=server.env)
    assert status.returncode == 0, status.stderr
    mine = [u for u in json.loads(status.stdout)["uptime_24h"] if u["node"] == NODE]
    assert sorted(u["role"] for u in mine) == ["api", "smtp", "worker"]
    assert all(u["last_check_ok"] for u in mine)
