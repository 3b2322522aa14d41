"""``mailwright status``: queue and health figures from the configured database."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mailwright.store import Store
from tests.e2e.conftest import base_environment, run_cli
from tests.support.deliveries import delivery, fill
from tests.support.uptime import AVAILABILITY, MESSAGES, NODE, write_history

pytestmark = pytest.mark.e2e


async def test_status_prints_queues_and_destinations(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    now = time.time()
    await fill(
        store,
        [
            delivery(
                1,
                "slow.example",
                attempts=3,
                due_at=now - 1,
                created_at=now - 7300,
                updated_at=now - 60,
                last_code=421,
                last_message="4.7.0 Try again\nlater",
            ),
            delivery(2, "slow.example", due_at=now - 1, created_at=now - 30),
            delivery(3, "fast.example", created_at=now - 5, due_at=now + 3600),
            delivery(4, "fast.example", status="delivered"),
        ],
    )
    env = base_environment(tmp_path, MAILWRIGHT_DATABASE_URL=database_url)

    result = run_cli("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["database"]["reachable"] is True
    assert report["deliveries"]["queued"] == 3
    assert report["deliveries"]["deferred"] == 1
    assert report["deliveries"]["oldest_age_seconds"] >= 7300
    assert report["webhooks"] == {"queued": 0, "deferred": 0, "oldest_age_seconds": None}
    assert report["inbound"]["queued"] == 0
    assert report["last_24h"] == {"delivered": 0, "failed": 0}
    slow, fast = report["destinations"]
    assert (slow["destination"], slow["queued"], slow["deferred"], slow["due"]) == (
        "slow.example",
        2,
        1,
        2,
    )
    assert (slow["last_code"], slow["last_message"]) == (421, "4.7.0 Try again\nlater")
    assert (fast["destination"], fast["queued"], fast["due"], fast["last_code"]) == (
        "fast.example",
        1,
        0,
        None,
    )

    table = run_cli("status", "--top", "1", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("database    reachable")
    assert "queued 3  deferred 1  oldest 2h01m" in lines[1]
    [row] = [line for line in lines if line.startswith("slow.example")]
    assert row.split() == [
        "slow.example",
        "2",
        "2",
        "1",
        "2h01m",
        "421",
        "4.7.0",
        "Try",
        "again",
        "later",
    ]
    assert not any(line.startswith("fast.example") for line in lines)


def test_status_fails_in_one_line_without_a_database(tmp_path: Path) -> None:
    env = base_environment(
        tmp_path, MAILWRIGHT_DATABASE_URL="postgresql://postgres:sekrit@127.0.0.1:9/none"
    )
    for args in (("status",), ("status", "--json")):
        result = run_cli(*args, env=env)
        assert result.returncode != 0
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("mailwright: database unreachable: postgresql")
        assert "sekrit" not in line


def test_status_on_an_unmigrated_database_says_to_migrate(tmp_path: Path) -> None:
    result = run_cli("status", env=base_environment(tmp_path))
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert "run 'mailwright migrate'" in line


async def test_status_prints_the_last_day_of_uptime(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    await write_history(store, time.time())
    env = base_environment(tmp_path, MAILWRIGHT_DATABASE_URL=database_url)

    result = run_cli("status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [role] = [u for u in report["uptime_24h"] if u["node"] == NODE]
    assert role["role"] == "api"
    # The CLI starts a few seconds after the history was written: seconds not vouched for.
    assert role["availability"] == pytest.approx(AVAILABILITY, abs=3e-3)
    assert (role["checks"], role["failed_checks"]) == (100, 2)
    assert (role["last_check_ok"], role["last_check_detail"]) == (True, "")
    assert report["endpoints_below_100_24h"] == [
        {
            "method": "POST",
            "route": MESSAGES,
            "requests": 200,
            "errors": 3,
            "success": pytest.approx(0.985),
        }
    ]  # GET /v3/domains answered every request below 500: not listed

    table = run_cli("status", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    [row] = [line for line in lines if line.startswith(NODE)]
    node, name, share, checks, failed = row.split()[:5]
    assert (node, name, checks, failed) == (NODE, "api", "100", "2")
    assert float(share.removesuffix("%")) == pytest.approx(AVAILABILITY * 100, abs=0.3)
    assert row.split()[5] == "ok"
    [endpoint] = [line for line in lines if line.startswith("POST ")]
    assert endpoint.split() == ["POST", MESSAGES, "200", "3", "98.50%"]
    assert not any(line.startswith("GET /v3/domains") for line in lines)


async def test_status_without_uptime_history_says_so(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    result = run_cli("status", env=base_environment(tmp_path, MAILWRIGHT_DATABASE_URL=database_url))
    assert result.returncode == 0, result.stderr
    assert "uptime 24 h: no health checks recorded yet" in result.stdout.splitlines()


async def test_status_on_a_database_from_before_uptime_says_to_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store.from_url(url)
    await store.migrate()
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("DROP TABLE uptime_checks")
    await store.close()
    result = run_cli("status", env=base_environment(tmp_path, MAILWRIGHT_DATABASE_URL=url))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.endswith("has no uptime tables; run 'mailwright migrate'")
