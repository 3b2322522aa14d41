"""Mailgun's routes as a pure language: parse a route's filter expression and its actions, match
one recipient and its headers, and plan which actions run, in which order. No I/O.

Expressions (Mailgun's "route filters"), joined by ``and``; arguments in single or double quotes,
where a backslash before the closing quote escapes it and every other backslash reaches the regex:

* ``match_recipient("regex")`` -- Python regex syntax (the ``regex`` package, ``re``-compatible
  VERSION0, with a time limit per match), case-insensitive, against the whole SMTP recipient
  (``fullmatch``: ``".*@bar.com"`` matches ``foo@bar.com`` and not ``foo@bar.com.au``);
* ``match_header("name", "regex")`` -- a search, case-insensitive, against each value of
  the header (names compare case-insensitively); any matching value matches;
* ``catch_all()`` -- always matches.

Captures: named groups by name, and every group by its number, numbered in order across the
``and``-joined filters (``\\1`` is the first group of the first filter that has groups).

Actions: ``forward("dest")`` where ``dest`` is an ``http(s)`` URL or an address, or several joined
by commas; ``store()`` or ``store(notify="https://url")``; ``stop()``. Capture references
``\\g<name>``, ``\\g<1>`` and ``\\1`` in forward destinations and notify URLs are substituted.

The waterfall (:func:`plan`): routes in ascending priority, ties older first; every matching
route's actions run; a matching route with ``stop()`` ends evaluation after it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import regex

from mailwright.errors import InvalidInput

MAX_TEXT = 4096  # Mailgun: "The length of the Filter or Action fields cannot exceed 4k"
Captures = dict[str, str]
Headers = Sequence[tuple[str, str]]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<quote>["'])
      | (?P<punct>[(),=])
    )""",
    re.VERBOSE,
)
_KINDS = {"name": "a name", "string": "a quoted string", "punct": "punctuation", "end": "the end"}
_REFERENCE = re.compile(r"\\g<([A-Za-z_][A-Za-z0-9_]*|\d+)>|\\(\d{1,2})")


# -- the tokenizer --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name | string | punct | end
    text: str


def _string(text: str, start: int, quote: str, field: str) -> tuple[str, int]:
    out: list[str] = []
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            following = text[i + 1]
            # Only the quote itself is an escape; "\+" or "\d" must reach the regex intact.
            out.append(following if following == quote else char + following)
            i += 2
        elif char == quote:
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise InvalidInput(f"'{field}' has an unterminated string", field=field)


def _tokens(text: str, field: str) -> list[_Token]:
    found: list[_Token] = []
    i = 0
    while text[i:].strip():
        m = _TOKEN.match(text, i)
        if m is None:
            bad = text[i:].strip()[:20]
            raise InvalidInput(f"'{field}' has unexpected text near {bad!r}", field=field)
        if m["quote"]:
            value, i = _string(text, m.end(), m["quote"], field)
            found.append(_Token("string", value))
            continue
        found.append(_Token("name", m["name"]) if m["name"] else _Token("punct", m["punct"]))
        i = m.end()
    found.append(_Token("end", ""))
    return found


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[str, ...]
    kwargs: tuple[tuple[str, str], ...]


class _Parser:
    """Reads ``name(arg, key=arg) [and name(...)]...`` from tokens."""

    def __init__(self, text: str, field: str) -> None:
        if len(text) > MAX_TEXT:
            raise InvalidInput(f"'{field}' is longer than {MAX_TEXT} characters", field=field)
        self.field = field
        self.tokens = _tokens(text, field)
        self.at = 0

    def fail(self, what: str) -> InvalidInput:
        return InvalidInput(f"'{self.field}' is not valid: {what}", field=self.field)

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.tokens[self.at]
        if token.kind != kind or (text is not None and token.text != text):
            expected = repr(text) if text else _KINDS[kind]
            got = repr(token.text) if token.kind != "end" else "the end"
            raise self.fail(f"expected {expected}, found {got}")
        self.at += 1
        return token

    def call(self) -> _Call:
        name = self.take("name").text
        self.take("punct", "(")
        args: list[str] = []
        kwargs: list[tuple[str, str]] = []
        while self.peek().text != ")" or self.peek().kind != "punct":
            if args or kwargs:
                self.take("punct", ",")
            if self.peek().kind == "name":
                key = self.take("name").text
                self.take("punct", "=")
                kwargs.append((key, self.take("string").text))
            elif kwargs:
                raise self.fail(f"a positional argument follows a keyword one in {name}()")
            else:
                args.append(self.take("string").text)
        self.take("punct", ")")
        return _Call(name, tuple(args), tuple(kwargs))

    def calls(self) -> list[_Call]:
        found = [self.call()]
        while self.peek().kind == "name" and self.peek().text.lower() == "and":
            self.at += 1
            found.append(self.call())
        self.take("end")
        return found


def _arity(call: _Call, count: int, field: str, kwargs: tuple[str, ...] = ()) -> None:
    bad_kwargs = [k for k, _ in call.kwargs if k not in kwargs]
    if len(call.args) != count or bad_kwargs:
        names = ", ".join(["..."] * count + [f"{k}=..." for k in kwargs])
        raise InvalidInput(f"'{field}' is not valid: use {call.name}({names})", field=field)


# -- expressions ----------------------------------------------------------------------------


# A route's regex runs on the event loop for each recipient; ``regex`` (unlike ``re``) can give up
# on catastrophic backtracking, so one pathological expression cannot stall the listener. A
# time-out counts as no match.
MATCH_TIMEOUT = 0.05  # seconds per match
Found = regex.Match[str]


def _compile(pattern: str) -> regex.Pattern[str]:
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.VERSION0)
    except (regex.error, ValueError) as exc:
        raise InvalidInput(
            f"'expression' has an invalid regular expression {pattern!r}: {exc}",
            field="expression",
        ) from None


@dataclass(frozen=True, slots=True)
class MatchRecipient:
    pattern: regex.Pattern[str]

    def find(self, recipient: str, headers: Headers) -> Found | None:
        try:
            return self.pattern.fullmatch(recipient, timeout=MATCH_TIMEOUT)
        except TimeoutError:
            return None


@dataclass(frozen=True, slots=True)
class MatchHeader:
    header: str  # lower-cased
    pattern: regex.Pattern[str]

    def find(self, recipient: str, headers: Headers) -> Found | None:
        for name, value in headers:
            if name.lower() == self.header:
                try:
                    found = self.pattern.search(value, timeout=MATCH_TIMEOUT)
                except TimeoutError:
                    continue
                if found is not None:
                    return found
        return None


@dataclass(frozen=True, slots=True)
class CatchAll:
    def find(self, recipient: str, headers: Headers) -> Found | None:
        return _EMPTY.match("")


_EMPTY = regex.compile("")
Filter = MatchRecipient | MatchHeader | CatchAll


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed route filter: every one of ``filters`` must match (``and``)."""

    filters: tuple[Filter, ...]

    def match(self, recipient: str, headers: Headers) -> Captures | None:
        """None when a filter does not match; else the captures: named groups by name and
        every group by its number (``"1"``, ``"2"``...), numbered across the filters in order;
        a group that took no part captures ``""``."""
        captures: Captures = {}
        numbered: list[str] = []
        for part in self.filters:
            found = part.find(recipient, headers)
            if found is None:
                return None
            numbered.extend(g or "" for g in found.groups())
            captures.update({k: v or "" for k, v in found.groupdict().items()})
        captures.update({str(n): v for n, v in enumerate(numbered, start=1)})
        return captures


def _filter(call: _Call) -> Filter:
    field = "expression"
    if call.name == "match_recipient":
        _arity(call, 1, field)
        return MatchRecipient(_compile(call.args[0]))
    if call.name == "match_header":
        _arity(call, 2, field)
        if not call.args[0].strip():
            raise InvalidInput("'expression' has an empty header name", field=field)
        return MatchHeader(call.args[0].strip().lower(), _compile(call.args[1]))
    if call.name in ("catch_all", "catchall"):  # Mailgun's docs spell it both ways
        _arity(call, 0, field)
        return CatchAll()
    raise InvalidInput(
        f"'expression' has an unknown filter {call.name}(); use match_recipient(), "
        "match_header() or catch_all()",
        field=field,
    )


@functools.lru_cache(maxsize=1024)
def parse_expression(text: str) -> Expression:
    if not text.strip():
        raise InvalidInput("'expression' parameter is missing", field="expression")
    return Expression(tuple(_filter(c) for c in _Parser(text, "expression").calls()))


# -- actions --------------------------------------------------------------------------------


def is_url(destination: str) -> bool:
    return destination.lower().startswith(("http://", "https://"))


@dataclass(frozen=True, slots=True)
class ForwardAction:
    destinations: tuple[str, ...]  # URLs and addresses, in the order given

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(d for d in self.destinations if is_url(d))

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(d for d in self.destinations if not is_url(d))


@dataclass(frozen=True, slots=True)
class StoreAction:
    notify: str | None  # a URL told of the stored message, or None


@dataclass(frozen=True, slots=True)
class StopAction:
    pass


Action = ForwardAction | StoreAction | StopAction


def _destination(value: str) -> str:
    value = value.strip()
    if is_url(value):
        if len(value.split("://", 1)[1]) == 0:
            raise InvalidInput(f"'action' has an empty URL {value!r}", field="action")
        return value
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in value):
        raise InvalidInput(
            f"'action' forward destination {value!r} is neither an http(s) URL nor an address",
            field="action",
        )
    return value


def _action(call: _Call) -> Action:
    field = "action"
    if call.name == "forward":
        _arity(call, 1, field)
        return ForwardAction(tuple(_destination(d) for d in call.args[0].split(",")))
    if call.name == "store":
        _arity(call, 0, field, kwargs=("notify",))
        notify = dict(call.kwargs).get("notify", "").strip() or None
        if notify is not None and not is_url(notify):
            raise InvalidInput(f"'action' notify {notify!r} is not an http(s) URL", field=field)
        return StoreAction(notify)
    if call.name == "stop":
        _arity(call, 0, field)
        return StopAction()
    raise InvalidInput(
        f"'action' has an unknown action {call.name}(); use forward(), store() or stop()",
        field=field,
    )


@functools.lru_cache(maxsize=1024)
def parse_action(text: str) -> Action:
    if not text.strip():
        raise InvalidInput("'action' parameter is missing", field="action")
    calls = _Parser(text, "action").calls()
    if len(calls) != 1:
        raise InvalidInput("'action' holds one action; repeat the field for more", field="action")
    return _action(calls[0])


def substitute(text: str, captures: Mapping[str, str]) -> str:
    """``text`` with ``\\g<name>``, ``\\g<N>`` and ``\\N`` replaced by their captures; a
    reference to a group the expression lacks stays as written."""

    def one(m: re.Match[str]) -> str:
        key = m[1] or m[2]
        return captures.get(key, m[0])

    return _REFERENCE.sub(one, text)


def bind(action: Action, captures: Mapping[str, str]) -> Action:
    """The concrete action for one match: captures substituted into destinations and URLs."""
    if isinstance(action, ForwardAction):
        return ForwardAction(tuple(substitute(d, captures) for d in action.destinations))
    if isinstance(action, StoreAction) and action.notify is not None:
        return StoreAction(substitute(action.notify, captures))
    return action


# -- routes and the waterfall ---------------------------------------------------------------


def rfc2822(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, UTC), usegmt=True)


@dataclass(frozen=True, slots=True)
class Route:
    id: str  # 24 hex characters, as Mailgun's
    priority: int  # lower runs first
    description: str
    expression: str
    actions: tuple[str, ...]
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "priority": self.priority,
            "description": self.description,
            "expression": self.expression,
            "actions": list(self.actions),
            "created_at": rfc2822(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class Step:
    """One matching route's actions, captures already substituted."""

    route_id: str
    actions: tuple[Action, ...]
    captures: Captures

    @property
    def is_stop(self) -> bool:
        return any(isinstance(a, StopAction) for a in self.actions)


def waterfall(routes: Sequence[Route]) -> list[Route]:
    """Routes in evaluation order: ascending priority, then oldest first, then by id."""
    return sorted(routes, key=lambda r: (r.priority, r.created_at, r.id))


def plan(routes: Sequence[Route], recipient: str, headers: Headers) -> list[Step]:
    """The steps to run for one recipient: every matching route in :func:`waterfall` order,
    up to and including the first matching route that holds ``stop()``."""
    steps: list[Step] = []
    for route in waterfall(routes):
        captures = parse_expression(route.expression).match(recipient, headers)
        if captures is None:
            continue
        actions = tuple(bind(parse_action(a), captures) for a in route.actions)
        steps.append(Step(route.id, actions, captures))
        if steps[-1].is_stop:
            break
    return steps


def first_match(routes: Sequence[Route], recipient: str) -> Route | None:
    """The first route, in waterfall order, whose expression matches ``recipient`` alone
    (Mailgun's ``/v3/routes/match``: there are no headers, so ``match_header`` never matches)."""
    for route in waterfall(routes):
        if parse_expression(route.expression).match(recipient, ()) is not None:
            return route
    return None
