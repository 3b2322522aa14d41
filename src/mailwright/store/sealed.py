"""Where sealed secrets live, the *place* each one is sealed for, and the sweep that seals
plaintext left from before and re-wraps values under the current key (``mailwright secrets``).

A place names the row a value belongs to, so a ciphertext copied to another row does not open.
The DKIM places name the domain and selector rather than the table: ``dkim_keys.activate``
copies a key onto its domain row as it is.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import schema
from mailwright.store.engine import Store
from mailwright.store.sealing import Keyring, MissingKey, is_sealed, key_id_of

PAGE = 500
PLAINTEXT = "plaintext"


def dkim_place(domain_id: str, selector: str) -> str:
    return f"dkim:{domain_id}:{selector}"


def setting_place(name: str) -> str:
    return f"settings:{name}"


def totp_place(user_id: str) -> str:
    return f"totp:{user_id}"


def oauth_place(kid: str) -> str:
    return f"oauth:{kid}"


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column of sealed values and how a row names its place."""

    table: Table
    column: str
    place: Callable[[Mapping[str, Any]], str]
    place_columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"

    @property
    def key(self) -> Column[Any]:
        (key,) = self.table.primary_key.columns
        return key


COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn(
        schema.domains,
        "dkim_private_key",
        lambda r: dkim_place(r["id"], r["dkim_selector"]),
        ("dkim_selector",),
    ),
    SealedColumn(
        schema.domains,
        "dkim_ed25519_private_key",
        lambda r: dkim_place(r["id"], r["dkim_ed25519_selector"] or ""),
        ("dkim_ed25519_selector",),
    ),
    SealedColumn(
        schema.dkim_keys,
        "private_key",
        lambda r: dkim_place(r["domain_id"], r["selector"]),
        ("domain_id", "selector"),
    ),
    SealedColumn(schema.settings, "value", lambda r: setting_place(r["name"]), ()),
    SealedColumn(schema.oauth_signing_keys, "private_pem", lambda r: oauth_place(r["kid"]), ()),
    SealedColumn(schema.dashboard_users, "totp_secret", lambda r: totp_place(r["id"]), ()),
)


@dataclass(frozen=True, slots=True)
class SweepResult:
    sealed: int  # plaintext values now sealed
    rewrapped: int  # values moved from an older key to the current one
    current: int  # values already under the current key


async def _pages(store: Store, sealed: SealedColumn) -> AsyncIterator[list[dict[str, Any]]]:
    """Every row with a value in ``sealed``'s column, a page at a time (keyset order)."""
    table, key = sealed.table, sealed.key
    value = table.c[sealed.column]
    columns = [key, value, *(table.c[c] for c in sealed.place_columns if c != key.name)]
    after: Any = None
    while True:
        query = select(*columns).where(value.is_not(None), value != "").order_by(key).limit(PAGE)
        if after is not None:
            query = query.where(key > after)
        async with store.read() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(query)]
        if not rows:
            return
        yield rows
        after = rows[-1][key.name]


async def sweep(store: Store, *, rewrap: bool) -> dict[str, SweepResult]:
    """Seal every plaintext value; with ``rewrap``, also move every value sealed under an older
    key to the current one (each is opened first: a damaged one raises ``SealError``). Without
    it, a value under a key the keyring lacks raises ``MissingKey``, and the first value under
    each key is opened, so a key with the right id but other bytes raises ``SealError``: a
    start-up check that costs one decryption per key, not one per value.

    Each value is replaced only if it is still what was read, so a sweep racing a write (or
    another sweep) loses nothing. Answers counts per column."""
    keyring = store.keyring
    results: dict[str, SweepResult] = {}
    opened: set[str] = set()  # key ids seen to open a value
    for sealed in COLUMNS:
        counts: Counter[str] = Counter()
        async for rows in _pages(store, sealed):
            changes: list[tuple[Any, str, str]] = []
            for row in rows:
                old = row[sealed.column]
                new = _renewed(keyring, old, sealed.place(row), rewrap=rewrap, opened=opened)
                if new == old:
                    counts["current"] += 1
                else:
                    changes.append((row[sealed.key.name], old, new))
                    counts["sealed" if not is_sealed(old) else "rewrapped"] += 1
            if changes:
                await store.write(functools.partial(_replace, sealed=sealed, changes=changes))
        results[sealed.name] = SweepResult(counts["sealed"], counts["rewrapped"], counts["current"])
    return results


def _renewed(keyring: Keyring, value: str, place: str, *, rewrap: bool, opened: set[str]) -> str:
    if rewrap:
        return keyring.rewrap(value, place)
    key_id = key_id_of(value)
    if key_id is None:
        return keyring.seal(value, place)
    if key_id not in keyring.ids:
        raise MissingKey(key_id)
    if key_id not in opened:
        keyring.open(value, place)
        opened.add(key_id)
    return value


async def _replace(
    conn: AsyncConnection, *, sealed: SealedColumn, changes: list[tuple[Any, str, str]]
) -> None:
    value = sealed.table.c[sealed.column]
    for key, old, new in changes:
        await conn.execute(
            update(sealed.table).where(sealed.key == key, value == old).values({value: new})
        )


async def key_counts(store: Store) -> dict[str, Counter[str]]:
    """Per column, how many values are sealed under each key id (``plaintext``: not sealed)."""
    counts: dict[str, Counter[str]] = {}
    for sealed in COLUMNS:
        found: Counter[str] = Counter()
        async for rows in _pages(store, sealed):
            found.update(key_id_of(r[sealed.column]) or PLAINTEXT for r in rows)
        counts[sealed.name] = found
    return counts
