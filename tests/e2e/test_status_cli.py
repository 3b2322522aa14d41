"""``mailwright status``: queue and health figures from the configured database."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mailwright.store import Store
from tests.e2e.conftest import base_environment, run_cli
from tests.support.deliveries import delivery, fill

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
