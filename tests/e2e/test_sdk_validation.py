"""Address validation through the official Mailgun Python SDK (``mailgun`` 1.10.0), unmodified:
``client.addressvalidate.get`` and ``.create`` against the running server."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_sdk import sdk
from tests.support.dns import LoopbackDNS

pytestmark = pytest.mark.e2e


def test_sdk_validates_addresses(server: Server, dns: LoopbackDNS) -> None:
    dns.add("example.org. 300 IN MX 10 mx.example.org.")
    dns.add("gmail.com. 300 IN MX 5 gmail-smtp-in.l.google.com.")
    with sdk(server) as client:
        got = client.addressvalidate.get(
            filters={"address": "someone@example.org", "provider_lookup": "false"}
        )
        assert got.status_code == 200, got.text
        assert got.json()["result"] == "deliverable"
        posted = client.addressvalidate.create(
            data={"address": "John.Smith+news@gmail.com"}, filters={"provider_lookup": "false"}
        )
        assert posted.status_code == 200, posted.text
        body = posted.json()
        assert body["root_address"] == "johnsmith@gmail.com"
        assert body["result"] == "deliverable"
        bad = client.addressvalidate.get(filters={"address": "no-at-sign"})
        assert bad.json()["reason"] == ["failed syntax check"]
        missing = client.addressvalidate.get(filters={})
        assert missing.status_code == 400
