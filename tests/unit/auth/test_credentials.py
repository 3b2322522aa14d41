"""SMTP credential logins, password rules and the scrypt hash format."""

from __future__ import annotations

import pytest

from mailwright.auth.credentials import (
    check_password,
    hash_password,
    is_password_match,
    normalise_login,
)
from mailwright.errors import InvalidInput


@pytest.mark.parametrize(
    ("login", "expected"),
    [
        ("alice", "alice@mg.example.com"),
        ("Alice", "alice@mg.example.com"),
        ("alice@mg.example.com", "alice@mg.example.com"),
        (" alice@MG.example.com ", "alice@mg.example.com"),
        ("first.last+tag", "first.last+tag@mg.example.com"),
    ],
)
def test_normalise_login(login: str, expected: str) -> None:
    assert normalise_login(login, "mg.example.com") == expected


@pytest.mark.parametrize(
    "login", ["alice@example.com", "alice@sub.mg.example.com", "", "al ice", "a..b", "x" * 65]
)
def test_normalise_login_refuses(login: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_login(login, "mg.example.com")


@pytest.mark.parametrize(
    ("password", "is_valid"),
    [
        (None, False),
        ("", False),
        ("1234", False),
        ("12345", True),
        ("x" * 32, True),
        ("x" * 33, False),
    ],
)
def test_password_length(password: str | None, is_valid: bool) -> None:
    if is_valid:
        assert check_password(password) == password
    else:
        with pytest.raises(InvalidInput):
            check_password(password)


def test_hash_is_salted_and_verifies() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    assert first.startswith("scrypt$16384$8$1$")
    assert is_password_match(first, "correct horse")
    assert is_password_match(second, "correct horse")
    assert not is_password_match(first, "correct horsE")
    assert hash_password("pw", salt=b"0" * 16) == hash_password("pw", salt=b"0" * 16)


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$x$8$1$AA==$AA==", "md5$1$1$1$AA==$AA=="])
def test_malformed_hash_never_matches(stored: str) -> None:
    assert not is_password_match(stored, "anything")
