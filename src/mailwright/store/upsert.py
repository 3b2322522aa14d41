"""Merging upserts: rows that combine with the stored row of the same key instead of failing.

An ``Upsert`` names a table, its key columns and how each merged column combines (``add``,
``min`` or ``max``); columns it does not name keep the stored value. Rows for the same key are
combined in Python first (a group of 200 accepted messages is one counter row, not 200), then
written with one ``INSERT ... ON CONFLICT (key) DO UPDATE``, the same SQL on SQLite (3.24+) and
PostgreSQL. Rows are written in key order, so concurrent transactions lock shared rows in the
same order and cannot deadlock on them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from mailwright.store import schema


@dataclass(frozen=True, slots=True)
class Upsert:
    table: Table
    keys: tuple[str, ...]
    merge: tuple[tuple[str, str], ...]  # (column, "add" | "min" | "max")


# Hourly event counters (``add``) and the first/last time a tag was used (``min``/``max``).
COUNTERS = Upsert(schema.stat_counters, ("domain", "tag", "stat", "hour"), (("count", "add"),))
TEST_COUNTERS = Upsert(
    schema.test_stat_counters, ("domain", "tag", "stat", "hour"), (("count", "add"),)
)
TAGS_SEEN = Upsert(schema.tags, ("domain", "tag"), (("first_seen", "min"), ("last_seen", "max")))

UpsertRows = Sequence[tuple[Upsert, Sequence[Mapping[str, Any]]]]


def _combine(kind: str, old: Any, new: Any) -> Any:
    if kind == "add":
        return old + new
    if kind == "min":
        return new if new < old else old
    return new if new > old else old


def merge_rows(spec: Upsert, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows combined per key, in key order."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in spec.keys)
        found = merged.get(key)
        if found is None:
            merged[key] = dict(row)
            continue
        for column, kind in spec.merge:
            found[column] = _combine(kind, found[column], row[column])
    return [merged[key] for key in sorted(merged)]


def plan_upserts(upserts: UpsertRows, dialect: Dialect) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """One executemany per table and row shape: (SQL, positional rows)."""
    by_spec: dict[Upsert, list[Mapping[str, Any]]] = {}
    for spec, rows in upserts:
        by_spec.setdefault(spec, []).extend(rows)
    statements = []
    # Tables in name order, rows in key order: every transaction locks shared rows in the
    # same order.
    for spec, rows in sorted(by_spec.items(), key=lambda item: item[0].table.name):
        shapes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row in merge_rows(spec, rows):
            shapes.setdefault(tuple(row), []).append(tuple(row.values()))
        for columns, values in shapes.items():
            statements.append((upsert_sql(dialect, spec, columns), values))
    return statements


@functools.lru_cache(maxsize=64)
def upsert_sql(dialect: Dialect, spec: Upsert, columns: tuple[str, ...]) -> str:
    quote = dialect.identifier_preparer.quote
    if dialect.paramstyle == "qmark":
        marks = ["?"] * len(columns)
    elif dialect.paramstyle == "numeric_dollar":
        marks = [f"${i}" for i in range(1, len(columns) + 1)]
    else:
        raise ValueError(f"unsupported paramstyle {dialect.paramstyle}")
    table = quote(spec.table.name)
    sets = []
    for column, kind in spec.merge:
        c = quote(column)
        if kind == "add":
            value = f"{table}.{c} + excluded.{c}"
        else:
            op = "<" if kind == "min" else ">"
            value = (
                f"CASE WHEN excluded.{c} {op} {table}.{c} THEN excluded.{c} ELSE {table}.{c} END"
            )
        sets.append(f"{c} = {value}")
    names = ", ".join(quote(c) for c in columns)
    keys = ", ".join(quote(k) for k in spec.keys)
    # Identifiers come from our own schema, quoted by the dialect; values are bound.
    return (
        f"INSERT INTO {table} ({names}) VALUES ({', '.join(marks)}) "  # noqa: S608
        f"ON CONFLICT ({keys}) DO UPDATE SET {', '.join(sets)}"
    )
