"""The VERP key: made once, kept in the settings table, shared by every process, so a bounce
to any return path we sent from can be matched to its delivery (``verp.py``)."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.store import Store, queries

SETTING = "verp_key"


async def verp_key(store: Store, *, now: float) -> bytes:
    async def load(conn: AsyncConnection) -> str:
        return await queries.setting_or_create(
            conn, SETTING, secrets.token_hex(32), store.keyring, now=now
        )

    return bytes.fromhex(await store.write(load))
