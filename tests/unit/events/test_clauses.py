"""to_clause runs for real against an in-memory SQLite table."""

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, select
from sqlalchemy.dialects import postgresql

from mailwright.events.clauses import escape_like, to_clause
from mailwright.events.filters import Compare, Match, Term, parse

metadata = MetaData()
rows = Table(
    "rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("text", Text),
    Column("tags", Text),
    Column("size", Integer),
)
ROWS = [
    (1, "Hello World", "|newsletter|promo|", 100),
    (2, "hello", "|promo|", 5000),
    (3, "Farewell Monica", "|news|", 20000),
    (4, "50% off_sale", "|a_b|", 15000),
    (5, "50 percent offXsale", "|axb|", 10000),
    (6, None, None, None),
    (7, "back\\slash", "||", 0),
]
ALL = {row[0] for row in ROWS}


@pytest.fixture(scope="module")
def engine():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            rows.insert(),
            [dict(zip(("id", "text", "tags", "size"), row, strict=True)) for row in ROWS],
        )
    yield engine
    engine.dispose()


def matching(engine, text, *, field, column, match):
    clause = to_clause(parse(text, field=field), rows.c[column], match)
    with engine.connect() as conn:
        return set(conn.scalars(select(rows.c.id).where(clause)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", {2}),
        ("HELLO", {2}),
        ("hell", set()),
        ('"hello world"', {1}),
        ("hello world", set()),  # AND of two exact values
        ('hello OR "farewell monica"', {2, 3}),
        ("NOT hello", ALL - {2}),  # a NULL value is "not hello"
        ("NOT NOT hello", {2}),
        ("50%", set()),
    ],
)
def test_exact(engine, text, expected):
    assert matching(engine, text, field="recipient", column="text", match=Match.EXACT) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", {1, 2}),
        ("WORLD", {1}),
        ("hello world", {1}),
        ('"o w"', {1}),
        ("world OR monica", {1, 3}),
        ("hello -world", {2}),
        ("NOT (hello OR monica)", ALL - {1, 2, 3}),
        # LIKE wildcards in a term are literal.
        ("50%", {4}),
        ("off_sale", {4}),
        ("%", {4}),
        ("_", {4}),
        ("back\\slash", {7}),
        ("\\", {7}),
    ],
)
def test_contains(engine, text, expected):
    assert matching(engine, text, field="subject", column="text", match=Match.CONTAINS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("promo", {1, 2}),
        ("PROMO", {1, 2}),
        ("news", {3}),  # a whole tag, not a prefix of "newsletter"
        ("prom", set()),
        ("news OR promo", {1, 2, 3}),
        ("newsletter promo", {1}),
        ("promo NOT newsletter", {2}),
        ("NOT promo", ALL - {1, 2}),
        ("a_b", {4}),
        ("a|b", set()),
        ('"|"', set()),
    ],
)
def test_tag(engine, text, expected):
    assert matching(engine, text, field="tags", column="tags", match=Match.TAG) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5000", {2}),
        ("5000 OR 100", {1, 2}),
        (">10000", {3, 4}),
        (">=10000", {3, 4, 5}),
        ("<5000", {1, 7}),
        ("<=5000", {1, 2, 7}),
        (">10000 <20000", {4}),
        ("<100 OR >15000", {3, 7}),
        ("NOT >10000", ALL - {3, 4}),
    ],
)
def test_number(engine, text, expected):
    assert matching(engine, text, field="size", column="size", match=Match.NUMBER) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", {2}),  # the value is lower-cased; the column is taken as stored lower-cased
        ("HELLO", {2}),
        ("hello OR nothing", {2}),
        ("NOT hello", ALL - {2}),
    ],
)
def test_folded(engine, text, expected):
    assert matching(engine, text, field="recipient", column="text", match=Match.FOLDED) == expected


def test_folded_is_plain_equality_so_an_index_serves_it():
    clause = to_clause(Term("Ada@Example.com"), rows.c.text, Match.FOLDED)
    assert (
        str(clause.compile(compile_kwargs={"literal_binds": True}))
        == "rows.text = 'ada@example.com'"
    )


@pytest.mark.parametrize("match", [Match.EXACT, Match.FOLDED, Match.CONTAINS, Match.TAG])
def test_compare_needs_a_number_column(match):
    with pytest.raises(ValueError, match="number column"):
        to_clause(Compare(">", 1), rows.c.text, match)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a", "a"), ("50%", "50\\%"), ("a_b", "a\\_b"), ("a\\b", "a\\\\b"), ("\\%", "\\\\\\%")],
)
def test_escape_like(value, expected):
    assert escape_like(value) == expected


def test_postgresql_sql_is_case_insensitive_and_escaped():
    clause = to_clause(Term("50%"), rows.c.text, Match.CONTAINS)
    sql = str(clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    assert sql.startswith("lower(rows.text) LIKE ")
    assert sql.endswith(" ESCAPE '\\'")
