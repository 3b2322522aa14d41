"""Capture what mailwright logs, through the same processor chain ``logs.configure`` installs."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from mailwright.logs import processors


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """JSON lines, as in production, into a buffer; the defaults come back afterwards."""
    buffer = io.StringIO()
    structlog.configure(
        processors=processors(structlog.processors.JSONRenderer()),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.PrintLoggerFactory(file=buffer),
        cache_logger_on_first_use=False,
    )
    try:
        yield buffer
    finally:
        structlog.reset_defaults()
