"""API keys: stored as SHA-256 hashes, checked on every request, scoped by kind and role.

Keys are 128+ random bits, so a fast hash is enough (there is nothing to brute-force);
passwords chosen by people (SMTP credentials, dashboard users) use a slow hash elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from mailwright.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from mailwright.store import KeyRow, Store, queries

ROLES = ("admin", "developer", "sending", "basic")
KINDS = ("user", "domain", "web")
CACHE_SECONDS = 5.0


def new_secret() -> str:
    """Mailgun-shaped private key: ``<32 hex>-<8 hex>-<8 hex>``."""
    return f"{secrets.token_hex(16)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: str
    kind: str
    domain_name: str | None

    @property
    def is_domain_key(self) -> bool:
        return self.kind == "domain"

    def require_send(self, domain: str) -> None:
        """Sending keys may send for their own domain only."""
        if self.domain_name is not None and self.domain_name != domain.lower():
            raise Forbidden(f"This key may only be used for domain {self.domain_name}")

    def require_account(self, *, write: bool = False) -> None:
        """Everything but sending needs an account (non-domain) key; writes need more than basic."""
        if self.is_domain_key or self.role == "sending":
            raise Forbidden("This key may only be used for sending messages")
        if write and self.role == "basic":
            raise Forbidden("This key has read-only access")


def parse_basic(header: str | None) -> str:
    """The API key from an ``Authorization: Basic base64(api:KEY)`` header."""
    if not header or not header.lower().startswith("basic "):
        raise Unauthorized("Invalid private key")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("Invalid private key") from None
    user, sep, secret = decoded.partition(":")
    if not sep or user != "api" or not secret:
        raise Unauthorized("Invalid private key")
    return secret


class KeyCache:
    """Authenticates keys, remembering answers a few seconds to keep lookups off the hot path."""

    def __init__(self, store: Store, *, seconds: float = CACHE_SECONDS) -> None:
        self._store = store
        self._seconds = seconds
        self._known: dict[str, tuple[float, Principal | None]] = {}

    async def authenticate(self, header: str | None) -> Principal:
        digest = hash_secret(parse_basic(header))
        now = time.monotonic()
        hit = self._known.get(digest)
        if hit is None or hit[0] < now:
            async with self._store.read() as conn:
                row = await queries.find_key(conn, digest)
            hit = (now + self._seconds, _principal(row, time.time()))
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[digest] = hit
        if hit[1] is None:
            raise Unauthorized("Invalid private key")
        return hit[1]

    def forget(self) -> None:
        self._known.clear()


def _principal(row: KeyRow | None, now: float) -> Principal | None:
    if row is None or row.is_disabled or (row.expires_at is not None and row.expires_at < now):
        return None
    return Principal(key_id=row.id, role=row.role, kind=row.kind, domain_name=row.domain_name)


def _values(secret: str, now: float, **fields: Any) -> dict[str, Any]:
    return {
        "id": secrets.token_hex(12),
        "secret_hash": hash_secret(secret),
        "description": "",
        "kind": "user",
        "role": "admin",
        "domain_name": None,
        "is_primary": False,
        "created_at": now,
        "updated_at": now,
        "expires_at": None,
        "is_disabled": False,
        "requestor": None,
        "user_name": None,
        "secret_hint": secret[-6:],
    } | fields


async def ensure_primary_key(store: Store, configured: str | None, now: float) -> str | None:
    """Make sure a primary key exists; returns a newly generated secret (to print once)."""
    async with store.read() as conn:
        if configured is not None:
            if await queries.find_key(conn, hash_secret(configured)) is not None:
                return None
        elif await queries.has_primary_key(conn):
            return None
    secret = configured or new_secret()
    values = _values(secret, now, is_primary=True, description="primary private key")

    async def insert(conn: Any) -> None:
        await queries.insert_key(conn, values)

    await store.write(insert)
    return None if configured else secret


async def create_key(
    store: Store,
    *,
    role: str,
    kind: str = "user",
    domain_name: str | None = None,
    description: str = "",
    expiration: float | None = None,
    user_name: str | None = None,
    now: float,
) -> tuple[KeyRow, str]:
    """Create a key; returns its row and the secret, which is shown only now."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if kind == "domain" and not domain_name:
        raise InvalidInput("domain_name is required for domain keys", field="domain_name")
    if kind != "domain" and domain_name:
        raise InvalidInput("domain_name is only allowed with kind=domain", field="domain_name")
    if kind == "domain" and domain_name:
        async with store.read() as conn:
            if await queries.get_domain(conn, domain_name) is None:
                raise NotFound(f"Domain not found: {domain_name}")
    secret = new_secret()
    values = _values(
        secret,
        now,
        role=role,
        kind=kind,
        domain_name=domain_name.lower() if domain_name else None,
        description=description,
        expires_at=None if expiration is None else now + expiration,
        user_name=user_name,
    )

    async def insert(conn: Any) -> KeyRow | None:
        await queries.insert_key(conn, values)
        return await queries.find_key(conn, values["secret_hash"])

    row = await store.write(insert)
    assert row is not None
    return row, secret


async def list_keys(
    store: Store, *, domain_name: str | None = None, kind: str | None = None
) -> list[KeyRow]:
    async with store.read() as conn:
        return await queries.list_keys(conn, domain_name=domain_name, kind=kind)


async def delete_key(store: Store, key_id: str) -> None:
    async def remove(conn: Any) -> bool:
        return await queries.delete_key(conn, key_id)

    if not await store.write(remove):
        raise NotFound("Key not found")


def _rfc2822(ts: float | None) -> str | None:
    return None if ts is None else formatdate(ts, usegmt=True)


def key_json(row: KeyRow, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "description": row.description,
        "kind": row.kind,
        "role": row.role,
        "created_at": _rfc2822(row.created_at),
        "updated_at": _rfc2822(row.updated_at),
        "expires_at": _rfc2822(row.expires_at),
        "is_disabled": row.is_disabled,
        "disabled_reason": None,
        "domain_name": row.domain_name,
        "requestor": row.requestor,
        "user_name": row.user_name,
        "user_id": None,
        "secret_hint": row.secret_hint,
    }
    if secret is not None:
        body["secret"] = secret
    return body
