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
