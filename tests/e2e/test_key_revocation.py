"""Two ``mailwright serve`` API processes on one PostgreSQL database: a key deleted through one
is refused by the other at once, although each caches key lookups for 5 seconds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mailwright.auth.keys import CACHE_SECONDS
from mailwright.store.sealing import generate_entry
from tests.e2e.conftest import StartServer

pytestmark = pytest.mark.e2e

API_KEY = "e2e-primary-key-5e1f0c3b9a7d4c21"


def test_deleted_key_is_refused_by_every_process(
    tmp_path: Path, fresh_postgres_url: str, start_server: StartServer
) -> None:
    # Processes sharing a database share the keys its secrets are sealed with.
    common = {
        "database_url": fresh_postgres_url,
        "api_key": API_KEY,
        "MAILWRIGHT_SECRET_KEYS": generate_entry(),
    }
    first = start_server(data_dir=tmp_path / "a", MAILWRIGHT_WORKER_PROCESSES="0", **common)
    second = start_server(
        data_dir=tmp_path / "b", expect_printed=set(), MAILWRIGHT_WORKER_PROCESSES="0", **common
    )
    with first.http() as admin:
        created = admin.post("/v1/keys", data={"role": "admin"}).json()["key"]
    with second.http(created["secret"]) as elsewhere:
        assert elsewhere.get("/v4/domains").status_code == 200  # now cached in the second
        with first.http() as admin:
            assert admin.delete(f"/v1/keys/{created['id']}").status_code == 200
        deleted_at = time.monotonic()
        # The NOTIFY is on its way before the DELETE answers; allow it the network's moment,
        # far less than the cache's lifetime.
        while elsewhere.get("/v4/domains").status_code != 401:
            assert time.monotonic() - deleted_at < CACHE_SECONDS / 5, "still accepted"
        assert time.monotonic() - deleted_at < 1.0
    with second.http() as admin:
        listed = admin.get("/v1/keys").json()["items"]
    assert created["id"] not in {k["id"] for k in listed}
