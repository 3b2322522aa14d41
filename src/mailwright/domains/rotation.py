"""DKIM key rotation: a new key waits (pending) until its DNS record verifies, then signs; the
key it replaces stays published-as-valid (retiring) for a grace period, then is retired.

    rotate  -> pending --(record verifies: activate or domain verify)--> active
    active  -> retiring (when a newer key of its algorithm activates) -> retired (at retire_at)

A domain signs with its active RSA key and, once it has one, its active Ed25519 key as well
(RFC 8463 3: sign with both, so receivers without Ed25519 still find a signature they know).
The active keys are copied onto the domain row, so signing costs no query of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.domains.dkim import (
    ALGORITHMS,
    DkimKey,
    generate_ed25519_key,
    generate_key,
    sign,
    txt_value,
)
from mailwright.domains.records import DnsRecord
from mailwright.domains.verify import check_records
from mailwright.errors import Conflict, InvalidInput, NotFound
from mailwright.resolver import Resolver
from mailwright.store import DkimKeyRow, DomainRow, Keyring, Store, dkim_keys, queries
from mailwright.store.sealed import dkim_place

DEFAULT_GRACE_DAYS = 7.0
MAX_GRACE_DAYS = 365.0


@dataclass(frozen=True, slots=True)
class RotateRequest:
    algorithm: str  # rsa | ed25519
    key_size: int | None  # RSA only
    selector: str  # "" : pick one
    grace_seconds: float


def parse_rotate(form: dict[str, str], *, default_size: int) -> RotateRequest:
    algorithm = (form.get("algorithm") or "rsa").strip().lower()
    if algorithm not in ALGORITHMS:
        raise InvalidInput("algorithm must be rsa or ed25519", field="algorithm")
    size = form.get("key_size") or str(default_size)
    if algorithm == "rsa" and size not in ("1024", "2048"):
        raise InvalidInput("key_size must be 1024 or 2048", field="key_size")
    grace = form.get("grace_days") or str(DEFAULT_GRACE_DAYS)
    try:
        days = float(grace)
    except ValueError:
        days = -1.0
    if not 0 <= days <= MAX_GRACE_DAYS:
        raise InvalidInput(
            f"grace_days must be a number of days from 0 to {MAX_GRACE_DAYS:g}", field="grace_days"
        )
    return RotateRequest(
        algorithm=algorithm,
        key_size=int(size) if algorithm == "rsa" else None,
        selector=(form.get("selector") or "").strip().lower(),
        grace_seconds=days * 86400,
    )


def pick_selector(algorithm: str, now: float, taken: set[str]) -> str:
    """``mw`` (``mwe`` for Ed25519) + the UTC date, with ``-2``, ``-3``... when taken.

    >>> pick_selector("ed25519", 1716508800.0, {"mwe20240524"})
    'mwe20240524-2'
    """
    base = (
        "mwe" if algorithm == "ed25519" else "mw"
    ) + f"{datetime.fromtimestamp(now, UTC):%Y%m%d}"
    candidates = [base, *(f"{base}-{n}" for n in range(2, 100))]
    return next(c for c in candidates if c not in taken)


def effective_state(key: DkimKeyRow, now: float) -> str:
    """A retiring key past ``retire_at`` reads as retired before the purge has written it."""
    if key.state == "retiring" and key.retire_at is not None and key.retire_at <= now:
        return "retired"
    return key.state


def key_record(key: DkimKeyRow, domain: str) -> DnsRecord:
    return DnsRecord(
        "TXT", f"{key.selector}._domainkey.{domain}", txt_value(key.public_key, key.algorithm)
    )


def _date(ts: float | None) -> str | None:
    return None if ts is None else formatdate(ts, usegmt=True)


def key_json(key: DkimKeyRow, domain: str, now: float) -> dict[str, Any]:
    return {
        "selector": key.selector,
        "algorithm": key.algorithm,
        "key_size": key.key_size,
        "state": effective_state(key, now),
        "created_at": _date(key.created_at),
        "activated_at": _date(key.activated_at),
        "retire_at": _date(key.retire_at),
        "dns_record": key_record(key, domain).to_json(),
    }


def initial_key_values(
    domain_id: str, key: DkimKey, key_size: int, now: float, keyring: Keyring
) -> dict[str, Any]:
    """The ``dkim_keys`` row of the key a domain is created with: active from the start."""
    return {
        "domain_id": domain_id,
        "selector": key.selector,
        "algorithm": key.algorithm,
        "key_size": key_size,
        "private_key": keyring.seal(key.private_pem, dkim_place(domain_id, key.selector)),
        "public_key": key.public_b64,
        "state": "active",
        "created_at": now,
        "activated_at": now,
        "retire_at": None,
        "grace_seconds": DEFAULT_GRACE_DAYS * 86400,
    }


async def _domain(conn: AsyncConnection, name: str) -> DomainRow:
    row = await queries.get_domain(conn, name)
    if row is None:
        raise NotFound(f"Domain not found: {name}")
    return row


async def list_keys(store: Store, name: str) -> tuple[DomainRow, list[DkimKeyRow]]:
    async with store.read() as conn:
        row = await _domain(conn, name)
        return row, await dkim_keys.list_keys(conn, row.id)


async def rotate_key(
    store: Store,
    name: str,
    form: dict[str, str],
    *,
    now: float,
    imported: tuple[DkimKey, int] | None = None,
    is_activated_on_publish: bool = False,
    is_replacing_pending: bool = True,
) -> tuple[DomainRow, DkimKeyRow]:
    """A new pending key; an earlier pending key of the same algorithm is replaced, or with
    ``is_replacing_pending=False`` kept and answered instead of a new one (a rotation already
    under way). ``imported``: an RSA key and its size (``import_key``) instead of a generated
    one. ``is_activated_on_publish``: the rotation worker activates it once its record
    verifies."""
    row, keys = await list_keys(store, name)
    request = parse_rotate(form, default_size=row.dkim_key_size)
    taken = {
        k.selector for k in keys if not (k.state == "pending" and k.algorithm == request.algorithm)
    }
    if request.selector in taken:
        raise Conflict(f"DKIM selector {request.selector} is already used by {row.name}")
    selector = request.selector or pick_selector(request.algorithm, now, taken)
    if imported is not None:
        key, size = imported
        request = replace(request, algorithm="rsa", key_size=size)
    elif request.algorithm == "ed25519":
        key = await asyncio.to_thread(generate_ed25519_key, selector)
    else:
        assert request.key_size is not None
        key = await asyncio.to_thread(generate_key, selector, request.key_size)
    values = initial_key_values(row.id, key, request.key_size or 0, now, store.keyring) | {
        "key_size": request.key_size,
        "state": "pending",
        "activated_at": None,
        "grace_seconds": request.grace_seconds,
        "is_activated_on_publish": is_activated_on_publish,
    }

    async def insert(conn: AsyncConnection) -> DkimKeyRow:
        if not is_replacing_pending:
            # Looked at again in the writing transaction: two workers that both decided to
            # rotate leave one pending key.
            under_way = [
                k
                for k in await dkim_keys.list_keys(conn, row.id)
                if k.state == "pending" and k.algorithm == request.algorithm
            ]
            if under_way:
                return under_way[0]
        await dkim_keys.delete_pending(conn, row.id, request.algorithm)
        await dkim_keys.insert_key(conn, values)
        found = [k for k in await dkim_keys.list_keys(conn, row.id) if k.selector == selector]
        return found[0]

    return row, await store.write(insert)


async def activate_verified(
    store: Store, resolver: Resolver, row: DomainRow, *, now: float, selector: str = ""
) -> tuple[list[DkimKeyRow], list[DnsRecord]]:
    """Activate each pending key (or the one at ``selector``) whose DNS record is published.

    Answers the keys activated and the checked records of those that were not.
    """
    async with store.read() as conn:
        keys = await dkim_keys.list_keys(conn, row.id)
    pending = [k for k in keys if k.state == "pending" and selector in ("", k.selector)]
    checked = await check_records(resolver, [key_record(k, row.name) for k in pending])
    ready = [k for k, record in zip(pending, checked, strict=True) if record.valid == "valid"]
    unverified = [r for r in checked if r.valid != "valid"]
    if not ready:
        return [], unverified

    async def switch(conn: AsyncConnection) -> list[DkimKeyRow]:
        done = [k for k in ready if await dkim_keys.activate(conn, k, now=now)]
        activated = {k.id for k in done}
        return [k for k in await dkim_keys.list_keys(conn, row.id) if k.id in activated]

    return await store.write(switch), unverified


async def activate_key(
    store: Store, resolver: Resolver, name: str, *, now: float, selector: str = ""
) -> list[DkimKeyRow]:
    """``activate_verified``, but a key whose record is not published yet is a 400 that says
    what was found."""
    async with store.read() as conn:
        row = await _domain(conn, name)
        keys = await dkim_keys.list_keys(conn, row.id)
    if not any(k.state == "pending" and selector in ("", k.selector) for k in keys):
        what = f"with selector {selector}" if selector else "to activate"
        raise NotFound(f"No pending DKIM key {what} for {row.name}")
    activated, unverified = await activate_verified(
        store, resolver, row, now=now, selector=selector
    )
    if not activated:
        record = unverified[0]
        found = "; ".join(record.cached) or (
            "lookup failed" if record.valid == "unknown" else "nothing"
        )
        raise InvalidInput(
            f"The DKIM record at {record.name} is not published yet (found: {found}); publish "
            f'"{record.value}" and try again'
        )
    return activated


async def retire_expired(store: Store, *, now: float) -> int:
    async def retire(conn: AsyncConnection) -> int:
        return await dkim_keys.retire_expired(conn, now)

    return await store.write(retire)


def sign_message(message: bytes, row: DomainRow, keyring: Keyring) -> bytes:
    """Signed with the domain's active RSA key and, when it has one, its Ed25519 key. The
    keyring remembers the keys it opened: a message costs no decryption."""
    rsa_pem = keyring.open(row.dkim_private_key, dkim_place(row.id, row.dkim_selector))
    signed = sign(message, domain=row.name, selector=row.dkim_selector, private_pem=rsa_pem)
    if row.dkim_ed25519_selector and row.dkim_ed25519_private_key:
        signed = sign(
            signed,
            domain=row.name,
            selector=row.dkim_ed25519_selector,
            private_pem=keyring.open(
                row.dkim_ed25519_private_key, dkim_place(row.id, row.dkim_ed25519_selector)
            ),
            algorithm="ed25519",
        )
    return signed
