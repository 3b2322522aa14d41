"""What a key or an OAuth token may do: roles and scopes mapped to the same permissions."""

from __future__ import annotations

import pytest

from mailwright.auth import Principal
from mailwright.auth.oauth import parse_scope
from mailwright.errors import Forbidden, InvalidInput


def key(role: str, domain: str | None = None) -> Principal:
    return Principal("k", role, "domain" if domain else "user", domain)


def token(scopes: str, domain: str | None = None) -> Principal:
    granted = frozenset(scopes.split())
    return Principal("t", "admin", "domain" if domain else "user", domain, scopes=granted)


def allowed(check: object) -> bool:
    try:
        check()  # type: ignore[operator]
    except Forbidden:
        return False
    return True


@pytest.mark.parametrize(
    ("who", "send", "read", "write"),
    [
        (key("admin"), True, True, True),
        (key("developer"), True, True, True),
        (key("sending"), True, False, False),
        (key("basic"), False, True, False),
        (token("manage"), True, True, True),
        (token("send"), True, False, False),
        (token("read"), False, True, False),
        (token("read send"), True, True, False),
        # A token's scope decides, whatever role it was summarised as.
        (token(""), False, False, False),
    ],
)
def test_permissions(who: Principal, send: bool, read: bool, write: bool) -> None:
    assert allowed(lambda: who.require_send("example.com")) is send
    assert allowed(who.require_account) is read
    assert allowed(lambda: who.require_account(write=True)) is write


@pytest.mark.parametrize("who", [key("sending", "a.example"), token("send", "a.example")])
def test_domain_bound_credentials_send_for_their_domain_only(who: Principal) -> None:
    assert allowed(lambda: who.require_send("A.example"))
    assert not allowed(lambda: who.require_send("b.example"))
    assert not allowed(who.require_account)


@pytest.mark.parametrize(
    ("raw", "scopes"),
    [
        ("send", ("send",)),
        ("read send", ("read", "send")),
        ("send,send manage", ("manage", "send")),
        ("", ()),
    ],
)
def test_parse_scope(raw: str, scopes: tuple[str, ...]) -> None:
    assert parse_scope(raw) == scopes


@pytest.mark.parametrize("raw", ["root", "send admin", "SEND"])
def test_unknown_scopes_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="unknown scope"):
        parse_scope(raw)
