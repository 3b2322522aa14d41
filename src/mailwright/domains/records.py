"""The DNS records a customer publishes for a sending domain, in Mailgun's JSON shape; pure.

Sending records are SPF on the domain, the DKIM key at ``<selector>._domainkey.<domain>`` and the
tracking CNAME ``<web_prefix>.<domain>``; receiving records are one MX per inbound host.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from mailwright.domains.dkim import txt_value

MX_PRIORITY = 10


@dataclass(frozen=True, slots=True)
class DnsRecord:
    record_type: str  # "TXT" | "MX" | "CNAME"
    name: str
    value: str
    priority: int | None = None  # MX only
    valid: str = "unknown"  # "valid" | "invalid" | "unknown" (not checked, or the lookup failed)
    cached: tuple[str, ...] = ()  # what the last check found published

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "record_type": self.record_type,
            "name": self.name,
            "value": self.value,
            "valid": self.valid,
            "cached": list(self.cached),
            "is_active": True,
        }
        if self.priority is not None:
            # Mailgun sends the MX priority as a string.
            body["priority"] = str(self.priority)
        return body


def spf_mechanism(source: str) -> str:
    """``ip4:``/``ip6:`` for an address or network, ``include:`` for anything else.

    >>> [spf_mechanism(s) for s in ("spf.example.net", "192.0.2.0/24", "2001:db8::1")]
    ['include:spf.example.net', 'ip4:192.0.2.0/24', 'ip6:2001:db8::1']
    """
    try:
        network = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return f"include:{source}"
    shown = str(network.network_address) if network.num_addresses == 1 else str(network)
    return f"ip{network.version}:{shown}"


def spf_value(spf_include: str) -> str:
    """``v=spf1 <mechanism per whitespace-separated source> ~all``."""
    mechanisms = [spf_mechanism(source) for source in spf_include.split()]
    return " ".join(["v=spf1", *mechanisms, "~all"])


def _fqdn(name: str) -> str:
    return name.strip().rstrip(".").lower()


def sending_records(
    domain: str,
    *,
    selector: str,
    public_b64: str,
    spf_include: str,
    tracking_target: str,
    web_prefix: str = "email",
    ed25519: tuple[str, str] | None = None,
) -> list[DnsRecord]:
    """``ed25519``: (selector, public key) of the domain's active Ed25519 key, if it has one."""
    domain = _fqdn(domain)
    dkim = [DnsRecord("TXT", f"{selector}._domainkey.{domain}", txt_value(public_b64))]
    if ed25519 is not None:
        dkim.append(
            DnsRecord("TXT", f"{ed25519[0]}._domainkey.{domain}", txt_value(ed25519[1], "ed25519"))
        )
    return [
        DnsRecord("TXT", domain, spf_value(spf_include)),
        *dkim,
        DnsRecord("CNAME", f"{web_prefix}.{domain}", _fqdn(tracking_target)),
    ]


def receiving_records(domain: str, *, mx_hosts: list[str]) -> list[DnsRecord]:
    domain = _fqdn(domain)
    return [DnsRecord("MX", domain, _fqdn(host), priority=MX_PRIORITY) for host in mx_hosts]
