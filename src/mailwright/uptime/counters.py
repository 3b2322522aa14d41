"""HTTP answers per endpoint, counted in memory on the request path and drained into the
database by the uptime loop (never one write per request).

A 5xx answer is an error: the server failed. A 4xx answer is the client's mistake (a bad
field, a wrong key, an unknown domain) and counts as a success, as uptime services count any
answer below 500 as up.
"""

from __future__ import annotations

from collections.abc import Mapping

Key = tuple[str, str, int]  # (method, route template, hour start in Unix seconds)


def is_error(status: int) -> bool:
    return status >= 500


class EndpointCounts:
    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[Key, list[int]] = {}  # key -> [requests, errors]

    def add(self, method: str, route: str, status: int, now: float) -> None:
        key = (method, route, int(now // 3600) * 3600)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0, 0]
        counts[0] += 1
        if is_error(status):
            counts[1] += 1

    def drain(self) -> dict[Key, list[int]]:
        """Every count since the last drain; the counters start again from zero."""
        drained, self._counts = self._counts, {}
        return drained

    def restore(self, drained: Mapping[Key, list[int]]) -> None:
        """Put back counts a failed write could not store, to go with the next drain."""
        for key, (requests, errors) in drained.items():
            counts = self._counts.setdefault(key, [0, 0])
            counts[0] += requests
            counts[1] += errors
