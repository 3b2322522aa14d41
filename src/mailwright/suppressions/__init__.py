"""Suppressions: bounces, unsubscribes, complaints and the whitelist (allowlist), per domain,
and the ``check`` the delivery engine makes before each attempt.
"""

from mailwright.suppressions.entries import (
    MAX_BATCH,
    TEXTS,
    Texts,
    entry_json,
    normalise_address,
    parse_csv,
    parse_entry,
    parse_json,
    rfc2822,
)
from mailwright.suppressions.policy import KINDS, Entry, decide
from mailwright.suppressions.service import (
    Page,
    add_bounce,
    add_complaint,
    add_entries,
    add_unsubscribe,
    check,
    check_many,
    delete_all,
    delete_entry,
    get_entry,
    list_entries,
    require_kind,
)

__all__ = [
    "KINDS",
    "MAX_BATCH",
    "TEXTS",
    "Entry",
    "Page",
    "Texts",
    "add_bounce",
    "add_complaint",
    "add_entries",
    "add_unsubscribe",
    "check",
    "check_many",
    "decide",
    "delete_all",
    "delete_entry",
    "entry_json",
    "get_entry",
    "list_entries",
    "normalise_address",
    "parse_csv",
    "parse_entry",
    "parse_json",
    "require_kind",
    "rfc2822",
]
