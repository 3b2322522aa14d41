"""Filter expressions (``events.filters``) as SQLAlchemy WHERE clauses.

Kept apart from ``filters`` because that module is pure by contract. Case-insensitivity is
``lower(column)`` against a lower-cased value, which SQLite and PostgreSQL both index and agree
on for ASCII (SQLite's ``lower`` leaves non-ASCII letters alone). A missing (NULL) value contains
no term: ``NOT x`` matches it, as three-valued SQL logic alone would not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_

from mailwright.events.filters import And, Compare, Expr, Match, Not, Or, Term


def to_clause(expr: Expr, column: ColumnElement[Any], match: Match) -> ColumnElement[bool]:
    if isinstance(expr, And):
        return and_(*(to_clause(item, column, match) for item in expr.items))
    if isinstance(expr, Or):
        return or_(*(to_clause(item, column, match) for item in expr.items))
    if isinstance(expr, Not):
        # coalesce turns "unknown" (a NULL column) into false before negating.
        return ~func.coalesce(to_clause(expr.expr, column, match), false())
    if isinstance(expr, Compare):
        return _compare(expr, column, match)
    return _term(expr, column, match)


def _term(term: Term, column: ColumnElement[Any], match: Match) -> ColumnElement[bool]:
    value = term.value.lower()
    if match is Match.FOLDED:
        return column == value
    if match is Match.EXACT:
        return func.lower(column) == value
    if match is Match.CONTAINS:
        return func.lower(column).like(f"%{escape_like(value)}%", escape="\\")
    if match is Match.TAG:
        if "|" in value:  # the list separator can't be inside one member
            return false()
        return func.lower(column).like(f"%|{escape_like(value)}|%", escape="\\")
    return column == int(term.value)


def _compare(expr: Compare, column: ColumnElement[Any], match: Match) -> ColumnElement[bool]:
    if match is not Match.NUMBER:
        raise ValueError(f"a comparison needs a number column, not {match}")
    match expr.op:
        case ">":
            return column > expr.value
        case "<":
            return column < expr.value
        case ">=":
            return column >= expr.value
        case "<=":
            return column <= expr.value


def escape_like(value: str) -> str:
    """Make ``value`` literal inside a LIKE pattern whose ESCAPE is a backslash."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
