"""Which sender addresses an SMTP credential may use; pure.

A credential belongs to one sending domain. It may send as that domain, as its sub-domains,
and as the domains it is a sub-domain of (``mg.example.com`` credentials may send
``From: news@example.com``, as DMARC relaxed alignment allows), but never as an unrelated
domain: that would let one customer's login send in another customer's name.
"""

from __future__ import annotations


def address_domain(address: str) -> str:
    return address.rpartition("@")[2].strip().rstrip(".").lower()


def is_sender_allowed(address: str, owner: str) -> bool:
    """``address``'s domain is ``owner``, below it, or above it (at least two labels)."""
    domain = address_domain(address)
    owner = owner.lower()
    if not domain:
        return False
    if domain == owner or domain.endswith("." + owner):
        return True
    return "." in domain and owner.endswith("." + domain)
