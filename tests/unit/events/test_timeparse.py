import pytest

from mailwright.errors import InvalidInput
from mailwright.events.timeparse import parse_bool, parse_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("1700000000", 1700000000.0),
        ("1700000000.123456", 1700000000.123456),
        (" 1700000000 ", 1700000000.0),
        # Mailgun's own example; -0000 means "zone unknown", taken as UTC.
        ("Fri, 3 May 2013 09:00:00 -0000", 1367571600.0),
        ("Fri, 3 May 2013 09:00:00 +0000", 1367571600.0),
        ("Fri, 3 May 2013 09:00:00 GMT", 1367571600.0),
        ("Fri, 3 May 2013 11:00:00 +0200", 1367571600.0),
        ("3 May 2013 04:00:00 -0500", 1367571600.0),
        ("Fri, 03 May 2013 09:00:00", 1367571600.0),  # no zone: UTC
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value, field="begin") == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "yesterday",
        "-5",
        "1e9",
        "nan",
        "inf",
        "1" * 400,  # float overflow
        "1700000000.",
        "Fri, 3 May 2013",
        "Fri, 32 May 2013 09:00:00 -0000",
        "2013-05-03T09:00:00Z",
    ],
)
def test_parse_time_rejects(value):
    with pytest.raises(InvalidInput) as caught:
        parse_time(value, field="end")
    assert caught.value.field == "end"
    assert "'end'" in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", True),
        ("YES", True),
        ("true", True),
        ("True", True),
        (" no ", False),
        ("No", False),
        ("false", False),
        ("FALSE", False),
    ],
)
def test_parse_bool(value, expected):
    assert parse_bool(value, field="ascending") is expected


@pytest.mark.parametrize("value", ["", "1", "0", "y", "n", "on", "yess"])
def test_parse_bool_rejects(value):
    with pytest.raises(InvalidInput) as caught:
        parse_bool(value, field="ascending")
    assert caught.value.field == "ascending"
    assert caught.value.message == "Invalid value for 'ascending': expected yes or no"
