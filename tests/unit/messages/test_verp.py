"""VERP return paths: every recipient round-trips or fails safely, forgeries are refused."""

from __future__ import annotations

import random
import re

import pytest

from mailwright.messages import ReturnPathMatch, parse_return_path, return_path
from mailwright.messages.verp import MAX_LOCAL_PART

KEY = b"k" * 32
DOMAIN = "mg.example.com"
# RFC 5321 4.1.2 Dot-string: atoms of atext joined by single dots.
DOT_STRING = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")

RECIPIENTS = [
    "bob@example.net",
    "Bob.Smith@Example.NET",
    "bob+newsletter@example.net",
    "bob-smith@example.net",
    "a=b@example.net",
    "a==b=@example.net",
    "x%y@example.net",
    '"john doe"@example.net',
    '"a(b)\\"c"@x.org',
    '"[x]:<y>;"@x.org',
    "a..b@example.net",
    ".leading@example.net",
    "trailing.@example.net",
    "jörg@münchen.de",
    "用户@例子.广告",
    "δοκιμή@παράδειγμα.δοκιμή",
    "user@[192.0.2.1]",
    "user@[IPv6:2001:db8::1]",
    "user@example.com.",
    "o'reilly@example.ie",
    "#!$&*/?^`{|}~@example.org",
]


def local_part(address: str) -> str:
    return address.rpartition("@")[0]


@pytest.mark.parametrize("recipient", RECIPIENTS)
def test_every_recipient_round_trips(recipient):
    address = return_path(42, recipient, DOMAIN, KEY)
    assert parse_return_path(address, KEY) == ReturnPathMatch(42, recipient, DOMAIN)


@pytest.mark.parametrize("recipient", RECIPIENTS)
def test_the_return_path_is_an_ascii_dot_string_of_at_most_64_octets(recipient):
    address = return_path(2**63 - 1, recipient, DOMAIN, KEY)
    local = local_part(address)
    assert address.isascii()
    assert DOT_STRING.fullmatch(local), local
    assert len(local) <= MAX_LOCAL_PART


@pytest.mark.parametrize("recipient", RECIPIENTS)
def test_a_lowercased_return_path_still_matches_with_the_recipient_lowercased(recipient):
    address = return_path(7, recipient, DOMAIN, KEY)
    match = parse_return_path(address.lower(), KEY)
    assert match is not None
    assert match.delivery_id == 7
    assert match.recipient is not None
    assert match.recipient.casefold() == recipient.casefold()


@pytest.mark.parametrize("seed", range(20))
def test_random_recipients_round_trip(seed):
    rng = random.Random(seed)
    alphabet = "aZ09.+-=_%\"' @\\é中😀\x7f"
    for _ in range(50):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        domain = "".join(rng.choice("abc.-xn") for _ in range(rng.randint(1, 20)))
        recipient = f"{local}@{domain}"
        delivery_id = rng.randrange(2**63)
        address = return_path(delivery_id, recipient, DOMAIN, KEY)
        match = parse_return_path(address, KEY)
        assert match is not None
        assert match.delivery_id == delivery_id
        assert match.recipient in (recipient, None)
        assert len(local_part(address)) <= MAX_LOCAL_PART


@pytest.mark.parametrize("seed", range(10))
def test_mangled_return_paths_are_refused_without_raising(seed):
    rng = random.Random(seed)
    good = return_path(5, "jörg+x@münchen.de", DOMAIN, KEY)
    for _ in range(1000):
        chars = list(good)
        for _ in range(rng.randint(1, 3)):
            chars[rng.randrange(len(chars))] = rng.choice("%uU.-=@+aZ09\x00é\ud800")
        mangled = "".join(chars)
        match = parse_return_path(mangled, KEY)
        assert match is None or mangled.lower() == good.lower()


def test_the_shape_is_mailguns():
    address = return_path(1001, "kijitora@example.com", "MG.Example.org", KEY)
    assert re.fullmatch(r"bounce\+rt\.[a-z2-7]{12}-kijitora=example\.com@mg\.example\.org", address)


@pytest.mark.parametrize(
    ("recipient", "kept"),
    [
        ("a" * 20 + "@example.com", True),
        ("a" * 30 + "@example.com", True),  # exactly 64 octets
        ("a" * 31 + "@example.com", False),
        ('"' * 11 + "@example.com", False),  # 33 octets once escaped
    ],
)
def test_a_recipient_too_long_for_the_local_part_is_dropped(recipient, kept):
    address = return_path(1, recipient, DOMAIN, KEY)
    match = parse_return_path(address, KEY)
    assert match == ReturnPathMatch(1, recipient if kept else None, DOMAIN)
    if not kept:
        assert re.fullmatch(r"bounce\+1\.[a-z2-7]{12}@mg\.example\.com", address)


@pytest.mark.parametrize(
    "written",
    [
        "<{}>",
        "  <{}>  ",
        "Mailer <{}>",
        "{}",
    ],
)
def test_angle_brackets_and_whitespace_are_accepted(written):
    address = return_path(9, "bob@example.net", DOMAIN, KEY)
    assert parse_return_path(written.format(address), KEY) == ReturnPathMatch(
        9, "bob@example.net", DOMAIN
    )


def test_an_uppercased_return_path_keeps_the_recipients_case():
    address = return_path(9, "bob@example.net", DOMAIN, KEY)
    local, _, domain = address.rpartition("@")
    tag, _, readable = local.partition("-")
    shouted = f"{tag.upper()}-{readable.upper()}@{domain.upper()}"
    assert parse_return_path(shouted, KEY) == ReturnPathMatch(9, "BOB@EXAMPLE.NET", DOMAIN)


def _tampered(address: str, old: str, new: str) -> str:
    assert old in address
    return address.replace(old, new, 1)


GOOD = return_path(1001, "kijitora@example.com", DOMAIN, KEY)


@pytest.mark.parametrize(
    "address",
    [
        _tampered(GOOD, "bounce+rt.", "bounce+ru."),  # another delivery
        _tampered(GOOD, "-kijitora=", "-victim="),  # another recipient
        _tampered(GOOD, "=example.com@", "=example.org@"),  # another recipient domain
        _tampered(GOOD, f"@{DOMAIN}", "@other.example.com"),  # another sending domain
        _tampered(GOOD, "-kijitora=example.com", ""),  # recipient removed: tag-only MAC differs
        GOOD[:20] + ("a" if GOOD[20] != "a" else "b") + GOOD[21:],  # one MAC character
        _tampered(GOOD, "bounce+rt.", "bounce+0rt."),  # a non-canonical id
    ],
)
def test_a_tampered_return_path_is_refused(address):
    assert parse_return_path(address, KEY) is None


def test_another_key_is_refused():
    assert parse_return_path(GOOD, b"another key") is None
    assert parse_return_path(GOOD, b"") is None


@pytest.mark.parametrize(
    "address",
    [
        "",
        "bob@example.net",
        "bounce@mg.example.com",
        "bounce+@mg.example.com",
        "bounce+rt@mg.example.com",
        "bounce+rt.jgablsmveodk",
        "bounce+zzzzzzzzzzzzzz.aaaaaaaaaaaa@mg.example.com",  # id past 2**63
        "bounce+rt.jgablsmveodk-norecipient@mg.example.com",
        "bounce+rt.jgablsmveodk-a=@mg.example.com",
        "bounce+rt.jgablsmveodk-a%zz=b@mg.example.com",  # a broken escape
        "bounce+rt.jgablsmveodk-a%ff=b@mg.example.com",  # escapes that are not UTF-8
        "bounce+rt.jgablsmveodk-jörg=b@mg.example.com",  # raw UTF-8 is never ours
        "postmaster+rt.jgablsmveodk-a=b@mg.example.com",
    ],
)
def test_addresses_that_are_not_ours_are_refused(address):
    assert parse_return_path(address, KEY) is None


@pytest.mark.parametrize(
    ("delivery_id", "recipient", "key"),
    [
        (-1, "bob@example.net", KEY),
        (2**63, "bob@example.net", KEY),
        (1, "no-at-sign", KEY),
        (1, "@example.net", KEY),
        (1, "bob@", KEY),
        (1, "bob@example.net", b""),
    ],
)
def test_invalid_input_is_our_own_fault(delivery_id, recipient, key):
    with pytest.raises(ValueError, match=r"."):
        return_path(delivery_id, recipient, DOMAIN, key)
