"""Mailgun's Events API filter expressions: grammar, syntax tree, and how each field matches.

A filter parameter (``subject=Hello OR Bye``) is parsed into an ``Expr``; ``clauses.to_clause``
turns it into SQL. This module is pure (no SQLAlchemy, by the import-linter contract).

Grammar (Mailgun's "Filter Expression" table; precedence NOT > AND > OR, as in Lucene)::

    expr    := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*            -- "foo bar" is "foo AND bar"
    unary   := "NOT" unary | "-"WORD | primary   -- "-bar" is Mailgun's older spelling of NOT
    primary := "(" expr ")" | '"phrase"' | WORD | (">" | "<" | ">=" | "<=") NUMBER

Operators are upper-case only; ``and``/``or``/``not`` and quoted ``"OR"`` are plain terms. In a
number field (``size``) a bare term must be an integer and comparisons are allowed; elsewhere
``>10`` is an ordinary term.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeAlias, cast

from mailwright.errors import InvalidInput

CompareOp: TypeAlias = Literal[">", "<", ">=", "<="]


@dataclass(frozen=True, slots=True)
class Term:
    value: str


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    value: int


@dataclass(frozen=True, slots=True)
class Not:
    expr: Expr


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


Expr: TypeAlias = Term | Compare | Not | And | Or


class Match(StrEnum):
    EXACT = "exact"  # case-insensitive equality
    FOLDED = "folded"  # EXACT on a column stored lower-cased: plain equality, so indexes serve it
    CONTAINS = "contains"  # case-insensitive substring
    TAG = "tag"  # member of a "|a|b|" list stored lower-cased
    NUMBER = "number"  # integer: a bare number is equality; > < >= <= compare


# Query parameter -> how its terms match. Mailgun's "Filter Field" table.
FIELDS: dict[str, Match] = {
    # events.record writes these lower-cased (event types and severities are lower-case words).
    "event": Match.FOLDED,
    "severity": Match.FOLDED,
    "recipient": Match.FOLDED,
    "recipients": Match.TAG,  # stored events: every recipient of the message, as "|a|b|"
    "to": Match.CONTAINS,
    "from": Match.CONTAINS,
    "subject": Match.CONTAINS,
    "message-id": Match.EXACT,  # "<id@host>" and "id@host" both match
    "tags": Match.TAG,
    "list": Match.EXACT,
    "attachment": Match.CONTAINS,
    "size": Match.NUMBER,
}

_TOKEN = re.compile(r'\s+|(?P<paren>[()])|"(?P<phrase>[^"]*)"|(?P<open>")|(?P<word>[^\s()"]+)')
_NUMBER = re.compile(r"(?P<op>[<>]=?)?(?P<value>\d+)")
_KEYWORDS = frozenset({"AND", "OR", "NOT"})

# A token is (kind, text); kind is "(", ")", "phrase" or "word".
_Token: TypeAlias = tuple[str, str]


def parse(text: str, *, field: str) -> Expr:
    """Parse one filter value; ``field`` picks number mode and names the parameter in errors.

    >>> parse("a b OR c", field="subject")
    Or(items=(And(items=(Term(value='a'), Term(value='b'))), Term(value='c')))
    """
    return _Parser(_tokenize(text, field), field).parse()


def _tokenize(text: str, field: str) -> list[_Token]:
    tokens: list[_Token] = []
    for m in _TOKEN.finditer(text):
        if m["open"] is not None:
            raise _error(field, "unterminated quote")
        if m["paren"] is not None:
            tokens.append((m["paren"], m["paren"]))
        elif m["phrase"] is not None:
            tokens.append(("phrase", m["phrase"]))
        elif m["word"] is not None:
            tokens.append(("word", m["word"]))
    return tokens


def _error(field: str, problem: str) -> InvalidInput:
    return InvalidInput(f"Invalid filter expression for '{field}': {problem}", field=field)


class _Parser:
    """Recursive descent over the grammar in the module docstring, one method per rule."""

    def __init__(self, tokens: list[_Token], field: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.field = field
        self.is_number = FIELDS.get(field) is Match.NUMBER

    def parse(self) -> Expr:
        if not self.tokens:
            raise self.error("empty expression")
        expr = self.expr()
        if self.peek() is not None:
            raise self.error("unbalanced ')'")
        return expr

    def expr(self) -> Expr:
        items = [self.and_expr()]
        while self.peek() == ("word", "OR"):
            self.pos += 1
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Expr:
        items = [self.unary()]
        while (token := self.peek()) is not None and token not in {(")", ")"), ("word", "OR")}:
            if token == ("word", "AND"):
                self.pos += 1
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Expr:
        token = self.take("a term")
        if token == ("word", "NOT"):
            return Not(self.unary())
        kind, text = token
        if kind == "word" and text.startswith("-") and len(text) > 1:
            return Not(self.term(text[1:], quoted=False))
        if kind == "(":
            return self.group()
        if kind == "phrase":
            return self.term(text, quoted=True)
        if kind == "word" and text not in _KEYWORDS:
            return self.term(text, quoted=False)
        raise self.error(f"unexpected '{text}'")

    def group(self) -> Expr:
        if self.peek() == (")", ")"):
            raise self.error("empty parentheses")
        expr = self.expr()
        if self.peek() != (")", ")"):
            raise self.error("unbalanced '('")
        self.pos += 1
        return expr

    def term(self, text: str, *, quoted: bool) -> Expr:
        if not text.strip():
            raise self.error("empty phrase")
        if not self.is_number:
            return Term(_normalise(self.field, text))
        if text in {">", "<", ">=", "<="} and not quoted:
            text += self.take(f"a number after '{text}'")[1]
        m = _NUMBER.fullmatch(text)
        if m is None:
            raise self.error(f"'{text}' is not a number")
        if m["op"] is None:
            return Term(m["value"])
        return Compare(cast(CompareOp, m["op"]), int(m["value"]))

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str) -> _Token:
        token = self.peek()
        if token is None:
            raise self.error(f"expected {expected} at the end")
        self.pos += 1
        return token

    def error(self, problem: str) -> InvalidInput:
        return _error(self.field, problem)


def _normalise(field: str, value: str) -> str:
    # The messages API returns "<id@host>" but events carry the bare "id@host"; accept both.
    if field == "message-id":
        return value.strip().removeprefix("<").removesuffix(">")
    return value
