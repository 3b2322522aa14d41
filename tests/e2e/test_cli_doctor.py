"""``mailwright doctor DOMAIN`` as a user runs it, against a loopback DNS server, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.e2e.conftest import base_environment, run_cli
from tests.support.dns import LoopbackDNS

pytestmark = pytest.mark.e2e


def test_doctor_reports_and_exits_by_the_worst_check(tmp_path: Path, database_url: str) -> None:
    domain = f"doc{secrets.token_hex(4)}.test"
    with LoopbackDNS() as dns:
        env = base_environment(
            tmp_path,
            MAILWRIGHT_DATABASE_URL=database_url,
            MAILWRIGHT_DNS_SERVER=dns.nameserver,
            MAILWRIGHT_PUBLIC_URL="http://mw.test",
            MAILWRIGHT_EGRESS_SOURCES="127.0.0.2=mta1.mw.test",
        )
        added = run_cli("domains", "add", domain, "--dkim-key-size", "1024", env=env)
        assert added.returncode == 0, added.stderr
        dkim_name, _, dkim_value = next(
            line for line in added.stdout.splitlines() if "._domainkey." in line
        ).split("\t")
        dns.set_zone(
            "\n".join(
                [
                    f'{domain}. 300 IN TXT "v=spf1 include:mw.test -all"',
                    'mw.test. 300 IN TXT "v=spf1 ip4:127.0.0.2 -all"',
                    f'{dkim_name}. 300 IN TXT "{dkim_value}"',
                    f'_dmarc.{domain}. 300 IN TXT "v=DMARC1; p=none; rua=mailto:d@{domain}"',
                    "2.0.0.127.in-addr.arpa. 300 IN PTR mta1.mw.test.",
                    "mta1.mw.test. 300 IN A 127.0.0.2",
                ]
            )
        )
        # warnings only (p=none, no MTA-STS, TLS-RPT or BIMI): exit 0
        text = run_cli("doctor", domain, env=env)
        assert text.returncode == 0, (text.stdout, text.stderr)
        lines = text.stdout.splitlines()
        assert lines[0] == f"{domain}: warn"
        assert any(line.startswith("PASS  spf ") and "1 DNS lookups" in line for line in lines)
        assert any(line.startswith("WARN  dmarc ") for line in lines)
        assert any("fix: p=none only monitors" in line for line in lines)

        as_json = run_cli("doctor", domain, "--json", env=env)
        assert as_json.returncode == 0
        body = json.loads(as_json.stdout)
        assert {c["check"]: c["status"] for c in body["checks"]} == {
            "spf": "pass",
            "dkim": "pass",
            "dmarc": "warn",
            "dmarc_alignment": "pass",
            "mx": "pass",  # receiving is off (MAILWRIGHT_SMTP_ADDR empty)
            "mta_sts": "warn",
            "tls_rpt": "warn",
            "rdns": "pass",
            "bimi": "warn",
        }

        dns.set_zone(f'{domain}. 300 IN TXT "v=spf1 -all"')
        failing = run_cli("doctor", domain, env=env)
        assert failing.returncode == 1, failing.stdout
        assert failing.stdout.splitlines()[0] == f"{domain}: fail"

        unknown = run_cli("doctor", "unknown.test", env=env)
        assert unknown.returncode not in (0, 1)
        assert unknown.stderr.strip().splitlines() == ["mailwright: Domain not found: unknown.test"]
