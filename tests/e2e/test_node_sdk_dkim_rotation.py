"""The Node SDK's ``dkimManagement`` (Mailgun's automatic DKIM rotation) against ``mailwright
serve``: ``update`` turns rotation on and off, ``rotateImmediately`` makes a pending key that the
SDK's ``domainKeys.list`` shows; bad input and unknown domains reach the caller as errors.
Activation once the record is published is the worker's, tested with its clock in
``tests/integration/test_dkim_auto_rotation.py``."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.support.node_sdk import NodeSDK, call

pytestmark = pytest.mark.e2e


def test_update_and_rotate_immediately(server: Server) -> None:
    sdk = NodeSDK(server.base_url, server.api_key)
    name = "node-rotate.example.org"
    (
        created, on, off, rotated, keys, too_short, missing_flag, unknown,
    ) = sdk.run(
        call("domains.create", {"name": name, "dkim_key_size": 1024}),
        call("dkimManagement.update", name, {"rotation_enabled": True, "rotation_interval": "10d"}),
        call("dkimManagement.update", name, {"rotation_enabled": "false"}),
        call("dkimManagement.rotateImmediately", name),
        call("domains.domainKeys.list", name),
        call("dkimManagement.update", name, {"rotation_enabled": True, "rotation_interval": "2d"}),
        call("dkimManagement.update", name, {"rotation_interval": "7d"}),
        call("dkimManagement.rotateImmediately", "missing.example.org"),
    )  # fmt: skip
    assert created.value()["name"] == name
    domain = on.value()["domain"]
    assert (domain["name"], domain["state"]) == (name, "enabled")
    assert (domain["rotation_enabled"], domain["rotation_interval"]) == ("true", "10d")
    [record] = domain["records"]
    assert (record["type"], record["identifier"]) == ("TXT", "DKIM")
    assert record["name"] == f"{domain['active_selector']}._domainkey.{name}"
    assert off.value()["domain"]["rotation_enabled"] == "false"
    assert off.value()["domain"]["rotation_interval"] == "10d"
    assert rotated.value() == {"message": "ok"}
    active = {k["selector"]: k["dns_record"]["is_active"] for k in keys.value()["items"]}
    assert sorted(active.values()) == [False, True]  # the new key waits for its record
    assert (too_short.status, missing_flag.status, unknown.status) == (400, 400, 404)
    # The SDK hands the caller our {"message": ...} as the error's details.
    assert "rotation_interval" in too_short.details
    assert "rotation_enabled" in missing_flag.details
    assert unknown.details == "Domain not found: missing.example.org"
