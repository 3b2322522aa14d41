"""The ASCII fast path of address validation agrees with email-validator on every sample."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from mailwright.messages.form import validate_address

SAMPLES = [
    "alice@example.com",
    "Alice.Smith+tag@Example.COM",
    "a!#$%&'*+/=?^_`{|}~-z@example.org",
    "user@sub.domain.example.co.uk",
    "x@a-b.example",
    "first..last@example.com",
    ".first@example.com",
    "last.@example.com",
    "user@-example.com",
    "user@example-.com",
    "user@example",
    "user@example.123",
    "user@localhost",
    "user@host.local",
    "user@host.invalid",
    "user@mail.test",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "user@" + "a" * 63 + ".com",
    "user@" + "a" * 64 + ".com",
    "user@" + ".".join(["a" * 60] * 4) + ".com",
    '"quoted local"@example.com',
    "jürgen@exämple.de",
    "user@[127.0.0.1]",
    "user name@example.com",
    "user@exa_mple.com",
]


def reference(address: str) -> str | None:
    try:
        result = validate_email(
            address, check_deliverability=False, allow_smtputf8=True, test_environment=True
        )
    except EmailNotValidError:
        return None
    return str(result.normalized)


@pytest.mark.parametrize("address", SAMPLES)
def test_fast_path_agrees_with_email_validator(address: str) -> None:
    assert validate_address(address) == reference(address)
