"""The route language: parsing expressions and actions, matching, captures, the waterfall."""

from __future__ import annotations

import time

import pytest

from mailwright.errors import InvalidInput
from mailwright.inbound.routes import (
    ForwardAction,
    Route,
    StopAction,
    StoreAction,
    first_match,
    parse_action,
    parse_expression,
    plan,
    substitute,
)

SUBJECT = [("Subject", "Need HELP now"), ("X-Tag", "blue"), ("X-Tag", "red")]


@pytest.mark.parametrize(
    ("expression", "recipient", "headers", "expected"),
    [
        ('match_recipient("foo@bar.com")', "foo@bar.com", [], {}),
        ('match_recipient("foo@bar.com")', "FOO@Bar.COM", [], {}),
        ('match_recipient("foo@bar.com")', "xfoo@bar.com", [], None),
        ('match_recipient("foo@bar.com")', "foo@bar.com.au", [], None),
        ("match_recipient('.*@bar.com')", "anyone@bar.com", [], {}),
        ("match_recipient('.*@bar.com')", "anyone@baz.com", [], None),
        (r'match_recipient("^chris\+(.*)@example.com$")', "chris+x1@example.com", [], {"1": "x1"}),
        (r'match_recipient("^chris\+(.*)@example.com$")', "chris@example.com", [], None),
        (
            'match_recipient("(?P<user>.*?)@(?P<domain>.*)")',
            "ann@example.org",
            [],
            {"user": "ann", "domain": "example.org", "1": "ann", "2": "example.org"},
        ),
        ('match_recipient("(a)?b@x.com")', "b@x.com", [], {"1": ""}),
        ('match_header("subject", "help")', "a@b.c", SUBJECT, {}),
        ('match_header("SUBJECT", "^need")', "a@b.c", SUBJECT, {}),
        ('match_header("subject", "^help")', "a@b.c", SUBJECT, None),
        ('match_header("x-tag", "(red)")', "a@b.c", SUBJECT, {"1": "red"}),
        ('match_header("x-missing", ".*")', "a@b.c", SUBJECT, None),
        ("catch_all()", "a@b.c", [], {}),
        ("catchall()", "a@b.c", [], {}),
        (
            r'match_recipient("(.*)@b.c") and match_header("subject", "(help)")',
            "a@b.c",
            SUBJECT,
            {"1": "a", "2": "HELP"},
        ),
        (
            'match_recipient(".*@b.c") AND match_header("subject", "nothing")',
            "a@b.c",
            SUBJECT,
            None,
        ),
        (r'match_recipient("it\"s@b.c")', 'it"s@b.c', [], {}),
        (r"match_recipient('it\'s@b.c')", "it's@b.c", [], {}),
        ('  match_recipient ( "a@b.c" )  ', "a@b.c", [], {}),
    ],
)
def test_expression_matching(
    expression: str,
    recipient: str,
    headers: list[tuple[str, str]],
    expected: dict[str, str] | None,
) -> None:
    assert parse_expression(expression).match(recipient, headers) == expected


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("", "missing"),
        ("   ", "missing"),
        ('match_recipient("(")', "invalid regular expression"),
        ('match_header("subject", "[a")', "invalid regular expression"),
        ('match_recipient("a@b.c"', "expected"),
        ('match_recipient("a@b.c)', "unterminated string"),
        ('match_recipient(a@b.c")', "expected"),
        ('match_recipient("a@b.c") or catch_all()', "expected the end"),
        ('match_recipient("a@b.c") and', "expected a name"),
        ('match_everything("x")', "unknown filter"),
        ('match_header("subject")', "match_header(..., ...)"),
        ('match_header(" ", "x")', "empty header name"),
        ('catch_all("x")', "catch_all()"),
        ('match_recipient(x="a")', "match_recipient(...)"),
        ("match_recipient('a') ; stop()", "unexpected text"),
        ("m" * 5000, "longer than 4096"),
    ],
)
def test_bad_expressions_name_the_field(expression: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_expression(expression)
    assert caught.value.field == "expression"
    assert words in caught.value.message
    assert "'expression'" in caught.value.message


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ('forward("https://example.com/in")', ForwardAction(("https://example.com/in",))),
        ("forward('mailbox@myapp.com')", ForwardAction(("mailbox@myapp.com",))),
        (
            'forward("http://myapp.com/messages, mailbox@myapp.com")',
            ForwardAction(("http://myapp.com/messages", "mailbox@myapp.com")),
        ),
        (r'forward("http://h/?mailbox=\1")', ForwardAction((r"http://h/?mailbox=\1",))),
        ("store()", StoreAction(None)),
        ('store(notify="https://example.com/cb")', StoreAction("https://example.com/cb")),
        ("store(notify='')", StoreAction(None)),
        ("stop()", StopAction()),
        (" stop ( ) ", StopAction()),
    ],
)
def test_actions(action: str, expected: object) -> None:
    assert parse_action(action) == expected


def test_forward_splits_urls_from_addresses() -> None:
    action = parse_action('forward("a@b.c, HTTPS://x.y/z, c@d.e")')
    assert isinstance(action, ForwardAction)
    assert action.urls == ("HTTPS://x.y/z",)
    assert action.addresses == ("a@b.c", "c@d.e")


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("", "missing"),
        ("forward()", "forward(...)"),
        ('forward("a", "b")', "forward(...)"),
        ('forward("not an address")', "neither an http(s) URL nor an address"),
        ('forward("ftp://x.y")', "neither an http(s) URL nor an address"),
        ('forward("https://")', "empty URL"),
        ('forward("a@b.c,")', "neither"),
        ('store(notify="mailto:x@y.z")', "not an http(s) URL"),
        ('store(url="https://x.y")', "store(notify=...)"),
        ('store("https://x.y")', "store(notify=...)"),
        ('store(notify="https://x.y", "z")', "positional argument follows"),
        ("stop(1)", "expected"),
        ('stop("x")', "stop()"),
        ("drop()", "unknown action"),
        ("stop() and stop()", "one action"),
        ("forward(", "expected"),
    ],
)
def test_bad_actions_name_the_field(action: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_action(action)
    assert caught.value.field == "action"
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"http://h/\g<domain>/users/\g<user>", "http://h/example.org/users/ann"),
        (r"http://h/?mailbox=\1&d=\2", "http://h/?mailbox=ann&d=example.org"),
        (r"\g<1>+tag@\g<domain>", "ann+tag@example.org"),
        (r"http://h/\g<nope>/\9", r"http://h/\g<nope>/\9"),
        ("plain", "plain"),
    ],
)
def test_substitute(text: str, expected: str) -> None:
    captures = {"user": "ann", "domain": "example.org", "1": "ann", "2": "example.org"}
    assert substitute(text, captures) == expected


def _route(
    route_id: str, priority: int, expression: str, *actions: str, created_at: float = 0.0
) -> Route:
    return Route(route_id, priority, "", expression, actions, created_at)


def test_plan_runs_every_match_in_priority_order() -> None:
    routes = [
        _route("late", 5, "catch_all()", 'forward("late@x.y")'),
        _route("early", 1, 'match_recipient(".*@b.c")', 'forward("early@x.y")'),
        _route("other", 0, 'match_recipient(".*@elsewhere")', 'forward("no@x.y")'),
    ]
    steps = plan(routes, "a@b.c", [])
    assert [s.route_id for s in steps] == ["early", "late"]
    assert steps[0].actions == (ForwardAction(("early@x.y",)),)


def test_plan_stops_after_the_first_matching_stop() -> None:
    routes = [
        _route("first", 0, "catch_all()", "store()"),
        _route("stopper", 1, 'match_recipient("a@b.c")', 'forward("https://x.y/")', "stop()"),
        _route("skipped-stop", 1, 'match_recipient("zzz@b.c")', "stop()", created_at=1.0),
        _route("never", 2, "catch_all()", 'forward("n@x.y")'),
    ]
    steps = plan(routes, "a@b.c", [])
    assert [s.route_id for s in steps] == ["first", "stopper"]
    assert steps[1].is_stop
    assert steps[1].actions == (ForwardAction(("https://x.y/",)), StopAction())
    # A stop() in a route that does not match does not end anything.
    assert [s.route_id for s in plan(routes, "zzz@b.c", [])] == ["first", "skipped-stop"]


def test_plan_breaks_priority_ties_by_age() -> None:
    routes = [
        _route("newer", 3, "catch_all()", "store()", created_at=200.0),
        _route("older", 3, "catch_all()", "store()", created_at=100.0),
        _route("b", 3, "catch_all()", "store()", created_at=300.0),
        _route("a", 3, "catch_all()", "store()", created_at=300.0),
    ]
    assert [s.route_id for s in plan(routes, "x@y.z", [])] == ["older", "newer", "a", "b"]


def test_plan_substitutes_captures_per_route() -> None:
    routes = [
        _route(
            "user",
            0,
            'match_recipient("(?P<user>[^+]+)\\+(?P<tag>.*)@b.c")',
            r'forward("https://app/\g<user>/\g<tag>, \1@inbox.test")',
            r'store(notify="https://app/notify/\2")',
        ),
        _route(
            "subject",
            1,
            'match_header("subject", "ticket (\\d+)")',
            r'forward("https://app/tickets/\1")',
        ),
    ]
    steps = plan(routes, "ann+orders@b.c", [("Subject", "Re: ticket 42")])
    assert steps[0].actions == (
        ForwardAction(("https://app/ann/orders", "ann@inbox.test")),
        StoreAction("https://app/notify/orders"),
    )
    assert steps[0].captures["user"] == "ann"
    assert steps[1].actions == (ForwardAction(("https://app/tickets/42",)),)


def test_plan_with_no_match_is_empty() -> None:
    assert plan([_route("r", 0, 'match_recipient("x@y.z")', "store()")], "a@b.c", []) == []


def test_first_match_ignores_header_routes() -> None:
    routes = [
        _route("header", 0, 'match_header("subject", ".*")', "store()"),
        _route("recipient", 1, 'match_recipient(".*@b.c")', "store()"),
        _route("all", 2, "catch_all()", "store()"),
    ]
    assert getattr(first_match(routes, "a@b.c"), "id", None) == "recipient"
    assert getattr(first_match(routes, "a@elsewhere"), "id", None) == "all"
    assert first_match(routes[:2], "a@elsewhere") is None


def test_route_json_is_mailguns_shape() -> None:
    route = Route("0123456789abcdef01234567", 2, "d", "catch_all()", ("stop()",), 0.0)
    assert route.to_json() == {
        "id": "0123456789abcdef01234567",
        "priority": 2,
        "description": "d",
        "expression": "catch_all()",
        "actions": ["stop()"],
        "created_at": "Thu, 01 Jan 1970 00:00:00 GMT",
    }


def test_catastrophic_backtracking_gives_up_as_no_match() -> None:
    # (x+x+)+y against a long run of x backtracks exponentially with ``re``; the route gives up
    # after MATCH_TIMEOUT instead of stalling the listener, and counts it as no match.
    expression = parse_expression('match_header("subject", "(x+x+)+y") and catch_all()')
    started = time.monotonic()
    assert expression.match("a@b.test", [("Subject", "x" * 5000)]) is None
    assert time.monotonic() - started < 2.0
