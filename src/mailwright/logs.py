"""structlog set-up: JSON for machines, columns for people; knows no business terms."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import orjson
import structlog

SECRET_KEYS = frozenset(
    {
        "api_key",
        "password",
        "secret",
        "authorization",
        "private_key",
        "relay_url",
        "secret_keys",
        "dkim_key",
        "client_secret",
        "access_token",
    }
)
MASK = "**********"
STATEMENT_LOGGERS = ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool")
# Secrets that can hide inside any text (an error message, a URL): masked wherever they appear.
_URL_PASSWORD = re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@", re.IGNORECASE)
_BASIC = re.compile(r"(?P<keep>\bBasic\s+)[A-Za-z0-9+/=]{8,}", re.IGNORECASE)
_BEARER = re.compile(r"(?P<keep>\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE)
_PEM_KEY = re.compile(
    r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)


def _scrub(text: str) -> str:
    if "://" in text:
        text = _URL_PASSWORD.sub(rf"\g<keep>{MASK}@", text)
    if "asic" in text:
        text = _BASIC.sub(rf"\g<keep>{MASK}", text)
    if "earer" in text:
        text = _BEARER.sub(rf"\g<keep>{MASK}", text)
    if "PRIVATE KEY" in text:
        text = _PEM_KEY.sub("[private key]", text)
    return text


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask secret fields by name, and passwords in URLs, Basic credentials, Bearer tokens and
    PEM private keys inside any text value."""
    for key, value in event.items():
        if key in SECRET_KEYS:
            event[key] = MASK
        elif isinstance(value, str):
            event[key] = _scrub(value)
    return event


def processors(renderer: Any) -> list[Any]:
    """The processor chain ``configure`` installs, ending in ``renderer`` (tests reuse it)."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact,
        renderer,
    ]


def _dumps(event: Any, **kwargs: Any) -> bytes:
    """orjson renders a line in a fraction of json's time (every HTTP request logs one);
    json takes what orjson refuses (integers over 64 bits)."""
    try:
        return orjson.dumps(event, default=kwargs.get("default"), option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(event, **kwargs).encode()


def configure(log_format: str = "") -> None:
    """Configure structlog and stdlib logging once; ``log_format`` is ``console`` or ``json``."""
    fmt = log_format or ("console" if sys.stderr.isatty() else "json")
    renderer: Any = structlog.dev.ConsoleRenderer(colors=False)
    factory: Any = structlog.PrintLoggerFactory(file=sys.stderr)
    if fmt != "console":
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
        factory = structlog.BytesLoggerFactory(file=sys.stderr.buffer)
    structlog.configure(
        processors=processors(renderer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(message)s")
    # Database drivers log statements with their parameters (key hashes, DKIM private keys)
    # at DEBUG/INFO: keep them quiet even if the root level is lowered.
    for name in STATEMENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


Bound = Mapping[str, contextvars.Token[Any]]


def bind(**values: Any) -> Bound:
    """Add fields to every line logged in this context (this task and those it starts) until
    ``unbind`` is given what this returned."""
    return structlog.contextvars.bind_contextvars(**values)


def unbind(bound: Bound) -> None:
    structlog.contextvars.reset_contextvars(**bound)
