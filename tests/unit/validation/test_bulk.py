"""Which validation jobs still run: a new job of the same id waits for those, replaces the rest."""

from __future__ import annotations

import pytest

from mailwright.validation.bulk import STALE_AFTER, is_running

NOW = 10_000.0


@pytest.mark.parametrize(
    ("status", "updated_at", "expected"),
    [
        ("uploading", NOW, True),
        ("uploading", NOW - STALE_AFTER, True),
        ("uploading", NOW - STALE_AFTER - 1, False),  # its process died mid-upload
        ("created", NOW - 10 * STALE_AFTER, True),
        ("processing", NOW, True),
        ("processing", NOW - 10 * STALE_AFTER, True),  # a worker claims it again
        ("completed", NOW, False),
        ("failed", NOW, False),
    ],
)
def test_is_running(status: str, updated_at: float, expected: bool) -> None:
    assert is_running({"status": status, "updated_at": updated_at}, NOW) is expected
