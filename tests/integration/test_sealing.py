"""Secrets at rest on SQLite and PostgreSQL: what the database holds is sealed, what the code
reads is the secret; plaintext from before is sealed at first start; a new key-encryption key
takes over with ``sealed.sweep(rewrap=True)`` (``mailwright secrets rotate``), after which the
old key can go. DKIM signatures made from sealed keys are checked by dkimpy over loopback DNS."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import dkim
import pyotp
import pytest
from sqlalchemy import select, update

from mailwright.app import first_start
from mailwright.auth import Authority, Users
from mailwright.config import Settings
from mailwright.domains import create_domain, get_domain, rotate_key, sign_message, txt_value
from mailwright.messages.return_path import verp_key
from mailwright.messages.tracking_setup import TrackingKey
from mailwright.store import DomainRow, Keyring, MissingKey, SealError, Store, schema, sealed
from mailwright.store.sealing import key_id_of
from mailwright.webhooks.keys import signing_key
from tests.integration.test_dkim_rotation import dkimpy_lookup
from tests.support.dns import LoopbackDNS

NOW = 1_780_000_000.0
NAME = "sealed.test"
PASSWORD = "correct horse battery staple"
MESSAGE = (
    b"From: Sender <sender@sealed.test>\r\n"
    b"To: rcpt@example.org\r\n"
    b"Subject: Hello\r\n"
    b"Date: Mon, 06 May 2024 10:00:00 +0000\r\n"
    b"Message-ID: <1@sealed.test>\r\n"
    b"\r\n"
    b"Hello there.\r\n"
)
MINUTES = itertools.count()
OLD = {"old": secrets.token_bytes(32)}
NEW = {"new": secrets.token_bytes(32)}


@dataclass(frozen=True, slots=True)
class Made:
    """The secrets as the code handed them out when they were made."""

    totp: str
    webhook_key: str
    tracking_key: bytes
    verp_key: bytes
    jwks: dict[str, object]


OpenStore = Callable[[dict[str, bytes]], Store]


@pytest.fixture
async def open_store(store: Store, database_url: str) -> AsyncIterator[OpenStore]:
    """Another process on the migrated, empty database, with the given keys."""
    opened: list[Store] = []

    def open_(keys: dict[str, bytes]) -> Store:
        opened.append(Store.from_url(database_url, Keyring(keys)))
        return opened[-1]

    yield open_
    for one in opened:
        await one.close()


async def make_secrets(store: Store) -> Made:
    await create_domain(store, NAME, {"dkim_key_size": "1024"}, now=NOW)
    await rotate_key(store, NAME, {"algorithm": "ed25519"}, now=NOW)  # a pending key
    _, totp = await Users(store).create("alice", PASSWORD)
    assert totp is not None
    authority = Authority(store, issuer="http://testserver")
    await authority.rotate_key()
    return Made(
        totp=totp,
        webhook_key=await signing_key(store, now=NOW),
        tracking_key=await TrackingKey(store).get(),
        verp_key=await verp_key(store, now=NOW),
        jwks=await authority.jwks(),
    )


async def read_secrets(store: Store, made: Made) -> None:
    """Every secret reads back as made, and the domain still signs verifiable mail."""
    assert await signing_key(store, now=NOW) == made.webhook_key
    assert await TrackingKey(store).get() == made.tracking_key
    assert await verp_key(store, now=NOW) == made.verp_key
    assert await Authority(store, issuer="http://testserver").jwks() == made.jwks
    assert await totp_verifies(store, made.totp)
    assert_signs(await get_domain(store, NAME), store.keyring)


async def totp_verifies(store: Store, secret: str) -> bool:
    """Signs in with the current code; each call a minute later (a used code is refused)."""
    now = NOW + 60 * next(MINUTES)
    users = Users(store, clock=lambda: now)
    user = await users.check_password("alice", PASSWORD)
    assert user is not None
    token, _ = await users.start_session(user)
    return await users.verify_totp(token, pyotp.TOTP(secret).at(now))


def assert_signs(domain: DomainRow, keyring: Keyring) -> None:
    record = txt_value(domain.dkim_public_key)
    zone = f'{domain.dkim_selector}._domainkey.{NAME}. 300 IN TXT "{record}"'
    with LoopbackDNS(zone) as server:
        signed = sign_message(MESSAGE, domain, keyring)
        assert dkim.DKIM(signed).verify(dnsfunc=dkimpy_lookup(server))


async def raw_values(store: Store) -> dict[str, list[str]]:
    """Every stored value of every sealed column, as the database holds it."""
    found: dict[str, list[str]] = {}
    async with store.read() as conn:
        for column in sealed.COLUMNS:
            values = await conn.execute(select(column.table.c[column.column]))
            found[column.name] = [v for v in values.scalars() if v]
    return found


async def test_the_database_holds_no_secret_in_the_clear(open_store: OpenStore) -> None:
    store = open_store(OLD)
    made = await make_secrets(store)
    stored = await raw_values(store)
    assert {name: len(values) for name, values in stored.items()} == {
        "domains.dkim_private_key": 1,
        "domains.dkim_ed25519_private_key": 0,  # the Ed25519 key is pending, not active
        "dkim_keys.private_key": 2,
        "settings.value": 3,  # webhook signing, tracking and VERP keys
        "oauth_signing_keys.private_pem": 1,
        "dashboard_users.totp_secret": 1,
    }
    everything = "\n".join(v for values in stored.values() for v in values)
    assert all(key_id_of(v) == "old" for values in stored.values() for v in values)
    for secret in (made.totp, made.webhook_key, made.tracking_key.hex(), made.verp_key.hex()):
        assert secret not in everything
    assert "PRIVATE KEY" not in everything
    await read_secrets(store, made)


async def test_a_sealed_value_moved_to_another_row_is_refused(open_store: OpenStore) -> None:
    store = open_store(OLD)
    await make_secrets(store)
    other = await create_domain(store, "other.test", {"dkim_key_size": "1024"}, now=NOW)
    mine = await get_domain(store, NAME)
    D = schema.domains

    async def swap(conn: object) -> None:
        await conn.execute(  # type: ignore[attr-defined]
            update(D).where(D.c.id == other.id).values(dkim_private_key=mine.dkim_private_key)
        )

    await store.write(swap)
    moved = await get_domain(store, "other.test")
    with pytest.raises(SealError, match=f"dkim:{other.id}:"):
        sign_message(MESSAGE, moved, store.keyring)


async def test_plaintext_from_before_is_sealed_at_first_start(
    open_store: OpenStore, settings: Settings
) -> None:
    store = open_store(OLD)
    made = await make_secrets(store)
    # Write every secret back in the clear, as a database from before sealing holds them.
    for column in sealed.COLUMNS:
        table, value = column.table, column.table.c[column.column]
        async with store.read() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(select(table))]
        for row in rows:
            if row[column.column]:
                plain = store.keyring.open(row[column.column], column.place(row))
                key = column.key
                await store.write(
                    lambda conn, t=table, v=value, k=key, r=row, p=plain: conn.execute(
                        update(t).where(k == r[k.name]).values({v: p})
                    )
                )
    stored = await raw_values(store)
    assert not any(key_id_of(v) for values in stored.values() for v in values)
    assert "PRIVATE KEY" in "".join(stored["dkim_keys.private_key"])
    await read_secrets(store, made)  # plaintext still reads

    await first_start(settings, store)
    stored = await raw_values(store)
    assert all(key_id_of(v) == "old" for values in stored.values() for v in values)
    await read_secrets(store, made)


async def test_rotation_moves_every_secret_to_the_new_key(open_store: OpenStore) -> None:
    made = await make_secrets(open_store(OLD))
    both = open_store(NEW | OLD)  # the new key first: it seals from now on
    await read_secrets(both, made)  # values under the old key still open

    moved = await sealed.sweep(both, rewrap=True)
    assert {name: (r.sealed, r.rewrapped) for name, r in moved.items()} == {
        "domains.dkim_private_key": (0, 1),
        "domains.dkim_ed25519_private_key": (0, 0),
        "dkim_keys.private_key": (0, 2),
        "settings.value": (0, 3),
        "oauth_signing_keys.private_pem": (0, 1),
        "dashboard_users.totp_secret": (0, 1),
    }
    again = await sealed.sweep(both, rewrap=True)  # idempotent
    assert all(r.sealed == r.rewrapped == 0 for r in again.values())
    counts = await sealed.key_counts(both)
    assert {k for found in counts.values() for k in found} == {"new"}

    # The old key can go: a process with the new key alone starts and reads everything.
    only_new = open_store(NEW)
    await sealed.sweep(only_new, rewrap=False)
    await read_secrets(only_new, made)

    # A process still on the old key alone refuses to start, naming the key it lacks; so does
    # one given other bytes under the new key's id.
    with pytest.raises(MissingKey, match="'new'"):
        await sealed.sweep(open_store(OLD), rewrap=False)
    with pytest.raises(SealError, match="key 'new' is not the key it was sealed with"):
        await sealed.sweep(open_store({"new": secrets.token_bytes(32)}), rewrap=False)
