"""Endpoint counts on the request path: per endpoint and hour, 5xx as errors only."""

from __future__ import annotations

import pytest

from mailwright.uptime import EndpointCounts, is_error

HOUR = 1_800_000_000 - 1_800_000_000 % 3600


@pytest.mark.parametrize(
    ("status", "error"),
    [(200, False), (302, False), (404, False), (429, False), (500, True), (503, True)],
)
def test_only_server_errors_count_against_success(status: int, error: bool) -> None:
    assert is_error(status) is error


def test_counts_per_endpoint_and_hour_then_drain() -> None:
    counts = EndpointCounts()
    for status in (200, 200, 404, 500):
        counts.add("POST", "/v3/{domain}/messages", status, HOUR + 10)
    counts.add("POST", "/v3/{domain}/messages", 503, HOUR + 3600)  # the next hour
    counts.add("GET", "/healthz", 200, HOUR + 20)
    assert counts.drain() == {
        ("POST", "/v3/{domain}/messages", HOUR): [4, 1],
        ("POST", "/v3/{domain}/messages", HOUR + 3600): [1, 1],
        ("GET", "/healthz", HOUR): [1, 0],
    }
    assert counts.drain() == {}


def test_restored_counts_go_with_the_next_drain() -> None:
    counts = EndpointCounts()
    counts.add("GET", "/healthz", 500, HOUR)
    drained = counts.drain()
    counts.add("GET", "/healthz", 200, HOUR)
    counts.restore(drained)
    assert counts.drain() == {("GET", "/healthz", HOUR): [2, 1]}
