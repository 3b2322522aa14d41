"""Suppression entries in and out: parsing a form, a JSON batch or a CSV file into entries,
Mailgun's item JSON, and Mailgun's response texts for each list. Pure, no I/O.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email

from mailwright.errors import InvalidInput
from mailwright.suppressions.policy import (
    ALL_TAGS,
    BOUNCES,
    COMPLAINTS,
    UNSUBSCRIBES,
    WHITELISTS,
    Entry,
)

MAX_BATCH = 1000
DEFAULT_CODE = "550"
Fields = Mapping[str, Sequence[str]]

_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_CODE = re.compile(r"[1-5][0-9][0-9]")


@dataclass(frozen=True, slots=True)
class Texts:
    """Mailgun's messages for one list (its public API reference and SDK test fixtures)."""

    added: str  # one record by form
    batch: str  # "{n}" records by JSON or CSV
    removed: str
    cleared: str
    missing: str


TEXTS = {
    BOUNCES: Texts(
        added="Address has been added to the bounces table",
        batch="{n} addresses have been added to the bounces table",
        removed="Bounced address has been removed",
        cleared="Bounced addresses for this domain have been removed",
        missing="Address not found in bounces table",
    ),
    UNSUBSCRIBES: Texts(
        added="Address has been added to the unsubscribes table",
        batch="{n} addresses have been added to the unsubscribes table",
        removed="Unsubscribe event has been removed",
        cleared="Unsubscribe addresses for this domain have been removed",
        missing="Address not found in unsubscribers table",
    ),
    COMPLAINTS: Texts(
        added="Address has been added to the complaints table",
        batch="{n} complaint addresses have been added to the complaints table",
        removed="Spam complaint has been removed",
        cleared="Complaint addresses for this domain have been removed",
        missing="No spam complaints found for this address",
    ),
    WHITELISTS: Texts(
        added="Address/Domain has been added to the whitelists table",
        batch="{n} addresses/domains have been added to the whitelists table",
        removed="Whitelist address/domain has been removed",
        cleared="Whitelist addresses/domains for this domain have been removed",
        missing="Address/Domain not found in whitelists table",
    ),
}


@functools.lru_cache(maxsize=65536)
def normalise_address(value: str) -> str | None:
    """The address lower-cased, or None when it is not a valid address."""
    try:
        # test_environment lets a self-hosted setup use the reserved ``.test`` TLD.
        valid = validate_email(
            value.strip(), check_deliverability=False, allow_smtputf8=True, test_environment=True
        )
    except EmailNotValidError:
        return None
    return str(valid.normalized).lower()


def normalise_domain(value: str) -> str | None:
    name = value.strip().lower().rstrip(".")
    return name if len(name) <= 253 and _DOMAIN.fullmatch(name) else None


def parse_created_at(value: str | None, now: float) -> float:
    """An RFC 2822 date (Mailgun's ``created_at``) as a timestamp; ``now`` when absent."""
    if not value:
        return now
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        raise InvalidInput(
            "'created_at' must be an RFC 2822 date, e.g. 'Thu, 13 Oct 2011 18:02:00 GMT'",
            field="created_at",
        ) from None


def rfc2822(ts: float) -> str:
    return formatdate(ts, usegmt=True)


def _first(fields: Fields, name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _address(fields: Fields) -> str:
    given = _first(fields, "address")
    if not given:
        raise InvalidInput("'address' parameter is missing", field="address")
    address = normalise_address(given)
    if address is None:
        raise InvalidInput(f"'address' parameter is not a valid address: {given}", field="address")
    return address


def _code(given: str | None) -> str:
    if not given:
        return DEFAULT_CODE
    if not _CODE.fullmatch(given.strip()):
        raise InvalidInput("'code' must be a 3-digit SMTP reply code", field="code")
    return given.strip()


def _tags(fields: Fields) -> tuple[str, ...]:
    given = [t.strip() for t in [*fields.get("tag", ()), *fields.get("tags", ())] if t.strip()]
    return tuple(dict.fromkeys(given)) or (ALL_TAGS,)


def _whitelist(fields: Fields, now: float) -> Entry:
    address, domain = _first(fields, "address"), _first(fields, "domain")
    if bool(address) == bool(domain):
        raise InvalidInput("exactly one of 'address' or 'domain' is required", field="address")
    if domain:
        value = normalise_domain(domain)
        if value is None:
            raise InvalidInput(
                f"'domain' parameter is not a valid domain: {domain}", field="domain"
            )
        kind = "domain"
    else:
        value, kind = _address(fields), "address"
    created = parse_created_at(_first(fields, "created_at"), now)
    reason = _first(fields, "reason") or ""
    return Entry(kind=WHITELISTS, value=value, type=kind, reason=reason, created_at=created)


def parse_entry(kind: str, fields: Fields, now: float) -> Entry:
    """One entry from form-like fields (repeats kept); raises InvalidInput naming the field."""
    if kind == WHITELISTS:
        return _whitelist(fields, now)
    address = _address(fields)
    created = parse_created_at(_first(fields, "created_at"), now)
    if kind == BOUNCES:
        code, error = _code(_first(fields, "code")), _first(fields, "error") or ""
        return Entry(kind=kind, value=address, code=code, error=error, created_at=created)
    if kind == UNSUBSCRIBES:
        return Entry(kind=kind, value=address, tags=_tags(fields), created_at=created)
    return Entry(kind=kind, value=address, created_at=created)


def _json_fields(item: Any) -> dict[str, list[str]]:
    if not isinstance(item, dict):
        raise InvalidInput("each item must be a JSON object", field="body")
    fields: dict[str, list[str]] = {}
    for key, value in item.items():
        values = value if isinstance(value, list) else [value]
        fields[str(key)] = [v if isinstance(v, str) else str(v) for v in values if v is not None]
    return fields


def parse_json(kind: str, body: Any, now: float) -> list[Entry]:
    """A JSON array of up to 1000 items (or one object), each with the form's fields."""
    items = body if isinstance(body, list) else [body]
    if not items:
        raise InvalidInput("the JSON array is empty", field="body")
    if len(items) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} items may be added at once", field="body")
    return [parse_entry(kind, _json_fields(item), now) for item in items]


def parse_csv(kind: str, data: bytes, now: float) -> list[Entry]:
    """A CSV file with a header row naming at least ``address`` (or ``domain`` for whitelists)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("'file' must be a UTF-8 CSV file", field="file") from None
    reader = csv.DictReader(io.StringIO(text))
    header = {name.strip().lower() for name in reader.fieldnames or ()}
    needed = {"address", "domain"} if kind == WHITELISTS else {"address"}
    if header.isdisjoint(needed):
        raise InvalidInput("'file' must be a CSV file with an 'address' column", field="file")
    entries = []
    for row in reader:
        fields = {
            (key or "").strip().lower(): [value.strip()]
            for key, value in row.items()
            if isinstance(value, str) and value.strip()
        }
        if fields:
            entries.append(parse_entry(kind, fields, now))
    return entries


def entry_json(entry: Entry) -> dict[str, Any]:
    """One item as Mailgun lists it."""
    created = rfc2822(entry.created_at)
    if entry.kind == WHITELISTS:
        return {
            "type": entry.type,
            "value": entry.value,
            "reason": entry.reason or "",
            "createdAt": created,
        }
    body: dict[str, Any] = {"address": entry.value}
    if entry.kind == BOUNCES:
        body |= {"code": entry.code or DEFAULT_CODE, "error": entry.error or ""}
    elif entry.kind == UNSUBSCRIBES:
        body["tags"] = list(entry.tags)
    body["created_at"] = created
    return body
