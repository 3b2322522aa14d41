"""API keys: creation, hashed storage, HTTP Basic authentication and per-key permissions."""

from mailwright.auth.keys import (
    ROLES,
    KeyCache,
    Principal,
    create_key,
    delete_key,
    ensure_primary_key,
    key_json,
    list_keys,
    parse_basic,
)

__all__ = [
    "ROLES",
    "KeyCache",
    "Principal",
    "create_key",
    "delete_key",
    "ensure_primary_key",
    "key_json",
    "list_keys",
    "parse_basic",
]
