import json
import math

import pytest

from mailwright import jsontext


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.5, "é", None, True], "c": {"d": "x\ny"}},
        {"big": 123456789012345678901234567890, "neg": -(2**70)},
        {"phone": "+12025550123456789012"},
        [],
        "text",
    ],
)
def test_round_trip_keeps_every_value(value):
    assert jsontext.loads(jsontext.dumps(value)) == value


def test_dumps_is_compact_utf8_json():
    assert jsontext.dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    assert json.loads(jsontext.dumps({"x": 2**80})) == {"x": 2**80}


def test_nan_is_read_as_the_stdlib_reads_it():
    assert math.isnan(jsontext.loads('{"a": NaN}')["a"])


@pytest.mark.parametrize(
    "text",
    [
        '{"n": 1234567890123456789012}',  # 22 digits: orjson would give a float
        '{"n": -18446744073709551616, "t": "é ١٢٣"}',  # past 64 bits, with non-ASCII text
        '{"n": 18446744073709551615}',  # 20 digits that still fit 64 bits unsigned
        '{"n": 123456789012345678, "t": "' + "x" * 100_000 + '"}',  # 18 digits, a long text
        '["\\ud800", 12345678901234567890123]',  # an escaped lone surrogate
        '["\ud800", 1234567890123456789012]',  # a lone surrogate in the text itself
    ],
)
def test_loads_reads_every_integer_exactly(text):
    assert jsontext.loads(text) == json.loads(text)
    assert type(jsontext.loads(text)) is type(json.loads(text))
