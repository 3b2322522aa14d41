"""The account's HTTP webhook signing key: created on first use, kept in the settings table so
every process signs with the same key, regenerated on request."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import Keyring, Store, queries

SIGNING_KEY_SETTING = "webhook_signing_key"


def new_signing_key() -> str:
    """32 hex digits, the length of Mailgun's keys."""
    return secrets.token_hex(16)


async def current_key(conn: AsyncConnection, keyring: Keyring, *, now: float) -> str:
    return await queries.setting_or_create(
        conn, SIGNING_KEY_SETTING, new_signing_key(), keyring, now=now
    )


async def signing_key(store: Store, *, now: float) -> str:
    async def get(conn: AsyncConnection) -> str:
        return await current_key(conn, store.keyring, now=now)

    return await store.write(get)


async def regenerate_signing_key(store: Store, *, now: float) -> str:
    key = new_signing_key()

    async def put(conn: AsyncConnection) -> None:
        await queries.put_setting(conn, SIGNING_KEY_SETTING, key, store.keyring, now=now)

    await store.write(put)
    return key
