"""The suppression decision and input parsing, table-driven."""

from __future__ import annotations

import pytest

from mailwright.errors import InvalidInput
from mailwright.suppressions.entries import entry_json, parse_csv, parse_entry, parse_json
from mailwright.suppressions.policy import Entry, decide, is_unsubscribed, merge_tags

A = "a@example.com"


def bounce(value: str = A) -> Entry:
    return Entry(kind="bounces", value=value, code="550", created_at=0.0)


def unsub(*tags: str, value: str = A) -> Entry:
    return Entry(kind="unsubscribes", value=value, tags=tags, created_at=0.0)


def complaint(value: str = A) -> Entry:
    return Entry(kind="complaints", value=value, created_at=0.0)


def allow(value: str, type_: str = "address") -> Entry:
    return Entry(kind="whitelists", value=value, type=type_, created_at=0.0)


@pytest.mark.parametrize(
    ("entries", "tags", "expected"),
    [
        ([], (), None),
        ([bounce()], (), "suppress-bounce"),
        ([bounce("other@example.com")], (), None),
        ([bounce(), allow(A)], (), None),
        ([bounce(), allow("example.com", "domain")], (), None),
        ([bounce(), allow("other.example", "domain")], (), "suppress-bounce"),
        ([complaint()], (), "suppress-complaint"),
        ([complaint(), allow(A)], (), "suppress-complaint"),
        ([unsub("*")], (), "suppress-unsubscribe"),
        ([unsub("*")], ("any",), "suppress-unsubscribe"),
        ([unsub("news")], (), None),
        ([unsub("news")], ("promo",), None),
        ([unsub("news")], ("promo", "news"), "suppress-unsubscribe"),
        ([unsub("news"), bounce(), complaint()], (), "suppress-bounce"),
        ([unsub("*"), complaint()], (), "suppress-complaint"),
        ([unsub("*"), bounce(), allow(A)], (), "suppress-unsubscribe"),
    ],
)
def test_decide(entries: list[Entry], tags: tuple[str, ...], expected: str | None) -> None:
    assert decide(entries, A, tags) == expected
    assert decide(entries, A.upper(), tags) == expected


@pytest.mark.parametrize(
    ("old", "new", "merged"),
    [
        ((), ("*",), ("*",)),
        (("a",), ("b", "a"), ("a", "b")),
        (("*",), ("x",), ("*", "x")),
    ],
)
def test_merge_tags(old: tuple[str, ...], new: tuple[str, ...], merged: tuple[str, ...]) -> None:
    assert merge_tags(old, new) == merged


def test_is_unsubscribed() -> None:
    assert is_unsubscribed(["*"], [])
    assert not is_unsubscribed(["a"], [])
    assert is_unsubscribed(["a", "b"], ["b"])


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        (
            "bounces",
            {"address": ["Bob@Example.COM"], "created_at": ["Thu, 13 Oct 2011 18:02:00 GMT"]},
            {
                "address": "bob@example.com",
                "code": "550",
                "error": "",
                "created_at": "Thu, 13 Oct 2011 18:02:00 GMT",
            },
        ),
        (
            "unsubscribes",
            {"address": ["b@example.com"], "tag": ["x", "y", "x"]},
            {
                "address": "b@example.com",
                "tags": ["x", "y"],
                "created_at": "Thu, 01 Jan 1970 00:00:05 GMT",
            },
        ),
        (
            "unsubscribes",
            {"address": ["b@example.com"]},
            {
                "address": "b@example.com",
                "tags": ["*"],
                "created_at": "Thu, 01 Jan 1970 00:00:05 GMT",
            },
        ),
        (
            "whitelists",
            {"domain": ["Example.ORG."], "reason": ["why"]},
            {
                "type": "domain",
                "value": "example.org",
                "reason": "why",
                "createdAt": "Thu, 01 Jan 1970 00:00:05 GMT",
            },
        ),
    ],
)
def test_parse_entry(kind: str, fields: dict[str, list[str]], expected: dict[str, object]) -> None:
    assert entry_json(parse_entry(kind, fields, 5.0)) == expected


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("bounces", {}, "address"),
        ("bounces", {"address": ["nope"]}, "address"),
        ("bounces", {"address": [A], "code": ["5.1.1"]}, "code"),
        ("complaints", {"address": [A], "created_at": ["2011-10-13"]}, "created_at"),
        ("whitelists", {"address": [A], "domain": ["example.com"]}, "address"),
        ("whitelists", {"domain": ["-bad-.example"]}, "domain"),
    ],
)
def test_parse_entry_rejects(kind: str, fields: dict[str, list[str]], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_entry(kind, fields, 0.0)
    assert raised.value.field == field
    assert field in raised.value.message


def test_parse_json_limits() -> None:
    assert len(parse_json("complaints", [{"address": A}], 0.0)) == 1
    assert parse_json("complaints", {"address": A}, 0.0)[0].value == A
    for body in ([], [{"address": A}] * 1001, ["a@example.com"]):
        with pytest.raises(InvalidInput):
            parse_json("complaints", body, 0.0)


def test_parse_csv() -> None:
    data = "\ufeffAddress,Tags\r\nx@example.com,news\r\n,\r\ny@example.com,\r\n".encode()
    entries = parse_csv("unsubscribes", data, 0.0)
    assert [(e.value, e.tags) for e in entries] == [
        ("x@example.com", ("news",)),
        ("y@example.com", ("*",)),
    ]
    with pytest.raises(InvalidInput, match="file"):
        parse_csv("bounces", b"email\nx@example.com\n", 0.0)
    with pytest.raises(InvalidInput, match="file"):
        parse_csv("bounces", b"\xff\xfe", 0.0)
