"""IPs and IP pools through the official Mailgun Python SDK, unmodified, against ``mailwright
serve`` with two egress sources (loopback addresses), on SQLite and PostgreSQL: list the IPs,
create, change, link and delete a pool, assign an IP to a domain."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server, StartServer
from tests.e2e.test_sdk import sdk
from tests.support.dns import LoopbackDNS

pytestmark = pytest.mark.e2e

SOURCES = "127.0.0.2=mta1.example.test,127.0.0.3=mta2.example.test"


@pytest.fixture(params=["sqlite", "postgresql"])
def egress_server(
    request: pytest.FixtureRequest, dns: LoopbackDNS, start_server: StartServer
) -> Server:
    database = request.getfixturevalue("fresh_postgres_url") if request.param != "sqlite" else ""
    return start_server(
        database_url=database,
        MAILWRIGHT_DNS_SERVER=dns.nameserver,
        MAILWRIGHT_EGRESS_SOURCES=SOURCES,
    )


def test_ips_and_pools_through_the_sdk(egress_server: Server) -> None:
    domain = egress_server.sandbox
    with sdk(egress_server) as client:
        ips = client.ips.get()
        assert ips.status_code == 200, ips.text
        assert ips.json() == {"items": ["127.0.0.2", "127.0.0.3"], "total_count": 2}
        one = client.ips.get(ip="127.0.0.2")
        assert one.json() == {"ip": "127.0.0.2", "dedicated": True, "rdns": "mta1.example.test"}

        created = client.ippools.create(
            data={"name": "transactional", "description": "receipts", "ip": ["127.0.0.2"]}
        )
        assert created.status_code == 200, created.text
        pool_id = created.json()["pool_id"]
        patched = client.ippools.patch(
            pool_id=pool_id, data={"description": "receipts and resets", "add_ip": "127.0.0.3"}
        )
        assert patched.status_code == 200, patched.text
        [pool] = client.ippools.get().json()["ip_pools"]
        assert pool["pool_id"] == pool_id
        assert pool["description"] == "receipts and resets"
        assert pool["ips"] == ["127.0.0.2", "127.0.0.3"]
        assert client.ippools.get(pool_id=pool_id).json()["name"] == "transactional"

        linked = client.domains_ips.create(domain=domain, data={"pool_id": pool_id})
        assert linked.status_code == 200, linked.text
        listed = client.domains_ips.get(domain=domain).json()
        assert listed["items"] == ["127.0.0.2", "127.0.0.3"]
        assert listed["pool_id"] == pool_id

        unknown = client.domains_ips.create(domain=domain, data={"ip": "192.0.2.7"})
        assert unknown.status_code == 400
        assigned = client.domains_ips.create(domain=domain, data={"ip": "127.0.0.3"})
        assert assigned.status_code == 200, assigned.text
        removed = client.domains_ips.delete(domain=domain, ip="127.0.0.3")
        assert removed.status_code == 200, removed.text

        refused = client.messages.create(
            domain=domain,
            data={
                "from": f"a@{domain}",
                "to": "b@example.com",
                "subject": "s",
                "text": "t",
                "o:sending-ip": "192.0.2.1",
            },
        )
        assert refused.status_code == 400
        assert "o:sending-ip" in refused.json()["message"]
        sent = client.messages.create(
            domain=domain,
            data={
                "from": f"a@{domain}",
                "to": "b@example.com",
                "subject": "s",
                "text": "t",
                "o:sending-ip-pool": pool_id,
            },
        )
        assert sent.status_code == 200, sent.text

        deleted = client.ippools.delete(pool_id=pool_id)
        assert deleted.status_code == 200, deleted.text
        assert client.ippools.get().json()["ip_pools"] == []
