"""Compact JSON text for stored columns and event payloads: orjson, with the stdlib's encoder
for what orjson refuses (integers beyond 64 bits in user-supplied variables, NaN)."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_NUMBER = re.compile(r"\d{19}")


def loads(text: str) -> Any:
    """``json.loads``, with orjson's parser where it gives the same values: orjson reads an
    integer beyond 64 bits as a float, and refuses NaN, so such text goes to the stdlib."""
    if _LONG_NUMBER.search(text) is None:
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
