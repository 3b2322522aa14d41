"""Changing a domain after it was created: Mailgun's ``PUT /v4/domains/{name}`` and the v3
``dkim_selector``, ``dkim_authority`` and ``web_prefix`` settings."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.domains.service import SPAM_ACTIONS, get_domain
from mailwright.errors import Conflict, InvalidInput
from mailwright.store import DomainRow, Keyring, Store, dkim_keys, queries, schema
from mailwright.store.sealed import dkim_place

LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# Mailgun's update fields that a self-hosted server has no counterpart for: refused by name
# rather than dropped in silence.
UNSUPPORTED = ("archive_to", "mailfrom_host", "message_ttl", "use_automatic_sender_security")
_BOOL = {"true": True, "yes": True, "false": False, "no": False}


def _bool(form: Mapping[str, str], name: str) -> bool | None:
    raw = form.get(name)
    if raw is None:
        return None
    value = _BOOL.get(raw.strip().lower())
    if value is None:
        raise InvalidInput(f"'{name}' must be true or false", field=name)
    return value


def web_prefix(raw: str) -> str:
    prefix = raw.strip().lower()
    if not LABEL.fullmatch(prefix):
        raise InvalidInput(
            "web_prefix must be a DNS label (letters, digits, -)", field="web_prefix"
        )
    return prefix


def settings_values(form: Mapping[str, str]) -> dict[str, object]:
    """The ``domains`` columns one update form changes; only the fields it names."""
    unsupported = [name for name in UNSUPPORTED if form.get(name)]
    if unsupported:
        raise InvalidInput(
            f"'{unsupported[0]}' is not supported by mailwright", field=unsupported[0]
        )
    values: dict[str, object] = {}
    for name, allowed in (("spam_action", SPAM_ACTIONS), ("web_scheme", ("http", "https"))):
        value = form.get(name)
        if value is not None:
            if value not in allowed:
                raise InvalidInput(f"{name} must be {_one_of(allowed)}", field=name)
            values[name] = value
    if form.get("web_prefix") is not None:
        values["web_prefix"] = web_prefix(form["web_prefix"])
    for name in ("wildcard", "require_tls", "skip_verification"):
        flag = _bool(form, name)
        if flag is not None:
            values[name] = flag
    return values


def _one_of(allowed: tuple[str, ...]) -> str:
    return ", ".join(allowed[:-1]) + " or " + allowed[-1]


async def update_settings(store: Store, name: str, form: Mapping[str, str]) -> DomainRow:
    """Change what the form names (spam_action, wildcard, web_scheme, web_prefix,
    require_tls, skip_verification); the rest stays."""
    row = await get_domain(store, name)
    values = settings_values(form)
    if not values:
        return row

    async def write(conn: AsyncConnection) -> DomainRow | None:
        await queries.update_domain(conn, row.name, values)
        return await queries.get_domain(conn, row.name)

    updated = await store.write(write)
    assert updated is not None
    return updated


async def set_web_prefix(store: Store, name: str, raw: str | None) -> DomainRow:
    if not raw:
        raise InvalidInput("'web_prefix' parameter is missing", field="web_prefix")
    return await update_settings(store, name, {"web_prefix": raw})


async def set_dkim_selector(store: Store, name: str, raw: str | None) -> DomainRow:
    """Rename the selector of the domain's active RSA key: the same key, published under
    ``{selector}._domainkey.{domain}`` from now on (Mailgun's "use with caution": mail signed
    after this verifies only once the record is published under the new name)."""
    selector = (raw or "").strip().lower()
    if not selector:
        raise InvalidInput("'dkim_selector' parameter is missing", field="dkim_selector")
    if not LABEL.fullmatch(selector):
        raise InvalidInput("dkim_selector must be a DNS label", field="dkim_selector")
    row = await get_domain(store, name)
    if selector == row.dkim_selector:
        return row
    keyring = store.keyring

    async def write(conn: AsyncConnection) -> DomainRow | None:
        keys = await dkim_keys.list_keys(conn, row.id)
        if any(k.selector == selector for k in keys):
            raise Conflict(f"DKIM selector {selector} is already used by {row.name}")
        active = next(k for k in keys if k.state == "active" and k.algorithm == "rsa")
        sealed = _reseal(keyring, active.private_key, row.id, active.selector, selector)
        T = schema.dkim_keys
        await conn.execute(
            update(T).where(T.c.id == active.id).values(selector=selector, private_key=sealed)
        )
        await queries.update_domain(
            conn, row.name, {"dkim_selector": selector, "dkim_private_key": sealed}
        )
        return await queries.get_domain(conn, row.name)

    updated = await store.write(write)
    assert updated is not None
    return updated


def _reseal(keyring: Keyring, sealed: str, domain_id: str, old: str, new: str) -> str:
    """A sealed private key is bound to its place (domain and selector): open it at the old
    one, seal it at the new."""
    return keyring.seal(
        keyring.open(sealed, dkim_place(domain_id, old)), dkim_place(domain_id, new)
    )
