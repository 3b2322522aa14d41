import pytest

from mailwright.errors import InvalidInput
from mailwright.events.filters import FIELDS, And, Compare, Match, Not, Or, Term, parse

a, b, c, d = Term("a"), Term("b"), Term("c"), Term("d")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a", a),
        ("  a  ", a),
        ("a b", And((a, b))),
        ("a AND b", And((a, b))),
        ("a OR b", Or((a, b))),
        ("a OR b OR c", Or((a, b, c))),
        # AND binds tighter than OR; NOT tighter than both.
        ("a b OR c", Or((And((a, b)), c))),
        ("a OR b c", Or((a, And((b, c))))),
        ("a AND b OR c AND d", Or((And((a, b)), And((c, d))))),
        ("NOT a b", And((Not(a), b))),
        ("NOT a OR b", Or((Not(a), b))),
        ("NOT NOT a", Not(Not(a))),
        ("NOT (a OR b)", Not(Or((a, b)))),
        ("a -b", And((a, Not(b)))),  # Mailgun's older spelling of NOT
        ("-", Term("-")),
        ("(a OR b) c", And((Or((a, b)), c))),
        ("((a))", a),
        ("(a)(b)", And((a, b))),
        (
            "(Hello AND NOT Rachel) OR (Farewell AND Monica)",
            Or(
                (
                    And((Term("Hello"), Not(Term("Rachel")))),
                    And((Term("Farewell"), Term("Monica"))),
                )
            ),
        ),
        # Phrases keep spaces, parentheses and operator words literal.
        ('"a b"', Term("a b")),
        ('"a OR b" c', And((Term("a OR b"), c))),
        ('"NOT"', Term("NOT")),
        ('"(x)"', Term("(x)")),
        ('NOT "a b"', Not(Term("a b"))),
        # Operators are upper-case only.
        ("a or b", And((a, Term("or"), b))),
        ("not a", And((Term("not"), a))),
        # Outside number mode, comparisons are plain terms.
        (">10", Term(">10")),
        ("50%_off", Term("50%_off")),
        ("Alice@Example.COM", Term("Alice@Example.COM")),
    ],
)
def test_parse(text, expected):
    assert parse(text, field="subject") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10000", Term("10000")),
        (">10000", Compare(">", 10000)),
        ("<5000", Compare("<", 5000)),
        (">=1", Compare(">=", 1)),
        ("<=2", Compare("<=", 2)),
        ("> 10", Compare(">", 10)),
        (">10000 <20000", And((Compare(">", 10000), Compare("<", 20000)))),
        ("<10 OR >20", Or((Compare("<", 10), Compare(">", 20)))),
        ("NOT 5", Not(Term("5"))),
        ('"7"', Term("7")),
    ],
)
def test_parse_number_mode(text, expected):
    assert parse(text, field="size") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<abc@example.com>", Term("abc@example.com")),
        ("abc@example.com", Term("abc@example.com")),
        ('"<abc@example.com>"', Term("abc@example.com")),
        ("<a@x> OR b@x", Or((Term("a@x"), Term("b@x")))),
    ],
)
def test_parse_message_id_strips_angle_brackets(text, expected):
    assert parse(text, field="message-id") == expected


@pytest.mark.parametrize(
    ("field", "text", "problem"),
    [
        ("subject", "", "empty expression"),
        ("subject", "   ", "empty expression"),
        ("subject", "(a", "unbalanced '('"),
        ("subject", "((a)", "unbalanced '('"),
        ("subject", "a)", "unbalanced ')'"),
        ("subject", ")", "unexpected ')'"),
        ("subject", "()", "empty parentheses"),
        ("subject", "a OR", "expected a term at the end"),
        ("subject", "OR a", "unexpected 'OR'"),
        ("subject", "a OR OR b", "unexpected 'OR'"),
        ("subject", "a AND", "expected a term at the end"),
        ("subject", "AND a", "unexpected 'AND'"),
        ("subject", "NOT", "expected a term at the end"),
        ("subject", "a NOT", "expected a term at the end"),
        ("subject", "NOT OR a", "unexpected 'OR'"),
        ("subject", '"a b', "unterminated quote"),
        ("subject", '""', "empty phrase"),
        ("subject", '"  "', "empty phrase"),
        ("size", "big", "'big' is not a number"),
        ("size", ">", "expected a number after '>' at the end"),
        ("size", "> x", "'>x' is not a number"),
        ("size", "=5", "'=5' is not a number"),
        ("size", ">-5", "'>-5' is not a number"),
        ("size", "1.5", "'1.5' is not a number"),
    ],
)
def test_parse_errors_name_the_field(field, text, problem):
    with pytest.raises(InvalidInput) as caught:
        parse(text, field=field)
    assert caught.value.field == field
    assert caught.value.message == f"Invalid filter expression for '{field}': {problem}"


def test_fields_cover_mailgun_filter_parameters():
    assert FIELDS == {
        "event": Match.FOLDED,
        "severity": Match.FOLDED,
        "recipient": Match.FOLDED,
        "recipients": Match.TAG,
        "to": Match.CONTAINS,
        "from": Match.CONTAINS,
        "subject": Match.CONTAINS,
        "message-id": Match.EXACT,
        "tags": Match.TAG,
        "list": Match.EXACT,
        "attachment": Match.CONTAINS,
        "size": Match.NUMBER,
    }
