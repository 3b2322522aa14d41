"""The line a worker child writes to report its delivery attempts, read back by the server."""

from __future__ import annotations

from collections import Counter

import pytest

from mailwright.workers import _parse_report, child_node_flags, report_line


def test_a_report_reads_back_as_written() -> None:
    attempts = Counter({("delivered", "2xx"): 7, ("temporary", "4xx"): 2, ("permanent", "none"): 1})
    line = report_line(attempts)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert _parse_report(line.strip()) == attempts
    assert _parse_report(report_line({})) == Counter()


@pytest.mark.parametrize("line", [b"", b"{", b"[[1]]", b'{"a": 1}', b'[["a", "b", "x"]]'])
def test_an_unreadable_report_counts_nothing(line: bytes) -> None:
    assert _parse_report(line) == Counter()


@pytest.mark.parametrize(
    ("count", "index", "flags"),
    [
        (1, 0, []),  # one child: the server's own name, the worker role is its alone
        (3, 0, ["--node-name", "mail-1/worker-1"]),
        (3, 2, ["--node-name", "mail-1/worker-3"]),
    ],
)
def test_children_on_one_host_get_uptime_names_of_their_own(
    count: int, index: int, flags: list[str]
) -> None:
    assert child_node_flags("mail-1", index, count) == flags
