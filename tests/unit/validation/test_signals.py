from __future__ import annotations

import pytest

from mailwright.validation.signals import (
    distance,
    is_disposable,
    is_free,
    is_role,
    suggest_domain,
)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("postmaster", True),
        ("Info", True),
        ("support+x", True),
        ("no-reply", True),
        ("john", False),
        ("admins", False),
        ("", False),
    ],
)
def test_role(local: str, expected: bool) -> None:
    assert is_role(local) is expected


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("mailinator.com", True),
        ("MAILINATOR.COM", True),
        ("x.mailinator.com", True),
        ("guerrillamail.com", True),
        ("gmail.com", False),
        ("example.com", False),
        ("com", False),
    ],
)
def test_disposable(domain: str, expected: bool) -> None:
    assert is_disposable(domain) is expected


def test_free() -> None:
    assert is_free("gmail.com")
    assert is_free("yahoo.co.uk")
    assert not is_free("example.com")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("gmail.com", "gmail.com", 0),
        ("gmaik.com", "gmail.com", 0.5),
        ("gmial.com", "gmail.com", 1),
        ("gmai.com", "gmail.com", 1),
        ("gmaill.com", "gmail.com", 1),
        ("gxail.com", "gmail.com", 1),
    ],
)
def test_distance_prices_neighbouring_keys_at_half(a: str, b: str, expected: float) -> None:
    assert distance(a, b) == expected


@pytest.mark.parametrize(
    ("domain", "suggestion"),
    [
        ("gmial.com", "gmail.com"),  # transposition
        ("gnail.com", "gmail.com"),  # n is next to m
        ("gmail.con", "gmail.com"),  # TLD slip
        ("gmail.co", "gmail.com"),
        ("hotmial.com", "hotmail.com"),
        ("yahooo.com", "yahoo.com"),
        ("outlok.com", "outlook.com"),
        ("icloud.cm", "icloud.com"),
        ("mycompany.con", "mycompany.com"),  # .con is a TLD slip on any domain
        ("gmail.com", None),
        ("example.com", None),
        ("acme.org", None),
        ("mail.com", None),  # a real provider, one edit from gmail.com
        ("aol.de", None),  # short: too many real neighbours to guess
    ],
)
def test_suggest_domain(domain: str, suggestion: str | None) -> None:
    assert suggest_domain(domain) == suggestion
