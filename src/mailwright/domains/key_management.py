"""Mailgun's domain-key endpoints over our DKIM rotation (``rotation.py``).

    POST /v1/dkim/keys          create (or import) a key: pending until its record verifies
    PUT  .../keys/{s}/activate  pending -> active (its DNS record must be published)
    PUT  .../keys/{s}/deactivate  out of use now (retired); never the domain's active RSA key
    DELETE /v1/dkim/keys        forget a key that does not sign

A domain always signs with exactly one RSA key, so the active RSA key can be replaced (create
and activate another) but not deactivated or deleted on its own: that is a 400 saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.domains.dkim import import_key
from mailwright.domains.rotation import (
    activate_key,
    effective_state,
    key_record,
    list_keys,
    rotate_key,
)
from mailwright.domains.verify import check_records
from mailwright.errors import InvalidInput, NotFound
from mailwright.resolver import Resolver
from mailwright.store import DkimKeyRow, DomainRow, Store, dkim_keys


def mailgun_key_json(key: DkimKeyRow, domain: str, *, now: float) -> dict[str, Any]:
    """``{"signing_domain", "selector", "dns_record"}``; ``dns_record.is_active`` says
    whether the key signs."""
    record = key_record(key, domain).to_json()
    record["is_active"] = effective_state(key, now) == "active"
    return {"signing_domain": domain, "selector": key.selector, "dns_record": record}


async def domain_keys(
    store: Store, resolver: Resolver, name: str, *, now: float
) -> list[dict[str, Any]]:
    """The domain's keys that are not retired, each record looked up now (``valid``)."""
    row, keys = await list_keys(store, name)
    live = [k for k in keys if effective_state(k, now) != "retired"]
    checked = await check_records(resolver, [key_record(k, row.name) for k in live])
    answers = []
    for key, record in zip(live, checked, strict=True):
        body = mailgun_key_json(key, row.name, now=now)
        body["dns_record"] |= {"valid": record.valid, "cached": list(record.cached)}
        answers.append(body)
    return answers


def _required(fields: Mapping[str, str], name: str) -> str:
    value = (fields.get(name) or "").strip()
    if not value:
        raise InvalidInput(f"'{name}' parameter is missing", field=name)
    return value


async def create_key(
    store: Store, fields: Mapping[str, str], pem: bytes | None, *, now: float
) -> tuple[DomainRow, DkimKeyRow]:
    """A new pending key for ``signing_domain`` at ``selector``: generated (``bits``: 1024 or
    2048, the domain's size by default) or imported from ``pem``."""
    domain = _required(fields, "signing_domain").lower()
    selector = _required(fields, "selector").lower()
    form = {"selector": selector}
    bits = (fields.get("bits") or "").strip()
    if bits:
        if bits not in ("1024", "2048"):
            raise InvalidInput("bits must be 1024 or 2048", field="bits")
        form["key_size"] = bits
    imported = await asyncio.to_thread(import_key, selector, pem) if pem is not None else None
    return await rotate_key(store, domain, form, now=now, imported=imported)


async def _key(store: Store, name: str, selector: str) -> tuple[DomainRow, DkimKeyRow]:
    row, keys = await list_keys(store, name)
    found = [k for k in keys if k.selector == selector.lower()]
    if not found:
        raise NotFound(f"No DKIM key with selector {selector} for {row.name}")
    return row, found[0]


async def activate(
    store: Store, resolver: Resolver, name: str, selector: str, *, now: float
) -> DomainRow:
    """Make the key at ``selector`` the one that signs; already active is not an error."""
    row, key = await _key(store, name, selector)
    if effective_state(key, now) == "active":
        return row
    if key.state != "pending":
        raise InvalidInput(
            f"The DKIM key {key.selector} of {row.name} is {effective_state(key, now)}: only a "
            "pending key can be activated; create a new one"
        )
    await activate_key(store, resolver, row.name, now=now, selector=key.selector)
    return row


def _refuse_signing_key(row: DomainRow, key: DkimKeyRow, verb: str) -> None:
    if key.state == "active" and key.algorithm == "rsa":
        raise InvalidInput(
            f"The DKIM key {key.selector} is the RSA key {row.name} signs with: it cannot be "
            f"{verb}d. Create and activate another key; this one then retires"
        )


async def deactivate(store: Store, name: str, selector: str, *, now: float) -> DomainRow:
    """Retire the key at ``selector`` now (an Ed25519 key stops signing beside RSA)."""
    row, key = await _key(store, name, selector)
    _refuse_signing_key(row, key, "deactivate")
    if effective_state(key, now) == "retired":
        return row

    async def write(conn: AsyncConnection) -> None:
        await dkim_keys.retire_now(conn, key, now=now)

    await store.write(write)
    return row


async def delete(store: Store, name: str, selector: str) -> DomainRow:
    row, key = await _key(store, name, selector)
    _refuse_signing_key(row, key, "delete")

    async def write(conn: AsyncConnection) -> None:
        if key.state == "active":  # an Ed25519 key: off the domain row first
            await dkim_keys.retire_now(conn, key, now=0.0)
        await dkim_keys.delete_key(conn, key.id)

    await store.write(write)
    return row


async def all_keys(
    store: Store, *, domain: str, selector: str, limit: int, skip: int
) -> tuple[int, list[tuple[str, DkimKeyRow]]]:
    async with store.read() as conn:
        return await dkim_keys.list_all(
            conn, domain=domain.lower(), selector=selector.lower(), limit=limit, skip=skip
        )
