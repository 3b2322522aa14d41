"""Compact JSON text for stored columns and event payloads: orjson, with the stdlib's encoder
for what orjson refuses (integers beyond 64 bits in user-supplied variables, NaN)."""

from __future__ import annotations

import json
from typing import Any

import orjson

# Every ASCII digit becomes "0" and every other byte "x": a run of 19 digits (an integer
# orjson might read as a float) is then a plain substring search. JSON numbers are ASCII, and
# no byte of a multi-byte UTF-8 character is an ASCII digit. On a 100 KB stored message this
# takes ~0.1 ms where the regular expression \d{19} took ~2 ms.
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_LONG_RUN = b"0" * 19


def _has_long_number(text: str) -> bool:
    return _LONG_RUN in text.encode("utf-8", "surrogatepass").translate(_DIGIT_MAP)


def loads(text: str) -> Any:
    """``json.loads``, with orjson's parser where it gives the same values: orjson reads an
    integer beyond 64 bits as a float, and refuses NaN, so such text goes to the stdlib."""
    if not _has_long_number(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def dumps(value: Any) -> str:
    """Like ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``, about 10x faster."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError: int over 64 bits, non-str keys, ...
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


__all__ = ["dumps"]
