"""Which sender addresses a credential of a domain may use."""

from __future__ import annotations

import pytest

from mailwright.inbound.senders import is_sender_allowed


@pytest.mark.parametrize(
    ("address", "owner", "is_allowed"),
    [
        ("app@mg.example.com", "mg.example.com", True),
        ("app@MG.Example.com", "mg.example.com", True),
        ("app@eu.mg.example.com", "mg.example.com", True),  # a sub-domain
        ("news@example.com", "mg.example.com", True),  # the parent (relaxed alignment)
        ("ceo@other.example", "mg.example.com", False),
        ("x@notmg.example.com", "mg.example.com", False),  # a suffix is not a sub-domain
        ("x@other.example.com", "mg.example.com", False),  # a sibling
        ("x@com", "mg.example.com", False),  # a bare TLD is nobody's
        ("", "mg.example.com", False),
    ],
)
def test_is_sender_allowed(address: str, owner: str, is_allowed: bool) -> None:
    assert is_sender_allowed(address, owner) is is_allowed
