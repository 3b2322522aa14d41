"""API keys: stored as SHA-256 hashes, checked on every request, scoped by kind, role and
client address.

Keys are 128+ random bits, so a fast hash is enough (there is nothing to brute-force);
passwords chosen by people (SMTP credentials, dashboard users) use a slow hash elsewhere.
A key is found by an equality lookup on the SHA-256 of what the client sent, never by comparing
secrets: how long the lookup takes can only tell an attacker about hashes of guesses they
chose, and learning a prefix of a hash brings them no closer to a secret whose hash matches.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.auth.access import Network, format_ranges, is_allowed, parse_ranges
from mailwright.auth.cache import TimedCache
from mailwright.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from mailwright.logs import get_logger
from mailwright.store import KeyRow, Store, queries

log = get_logger(__name__)

ROLES = ("admin", "developer", "sending", "basic")
KINDS = ("user", "domain", "web")
# Mailgun's public validation key: one per account, role and kind "public", made (and made
# again) only by POST /v1/keys/public; it may validate addresses and nothing else.
PUBLIC = "public"
PUBLIC_PREFIX = "pubkey-"
ENVIRONMENTS = ("live", "test")
CACHE_SECONDS = 5.0
FLUSH_SECONDS = 5.0  # last_used_at is written at most this often per process
CACHE_MAX = 10_000


def new_secret() -> str:
    """Mailgun-shaped private key: ``<32 hex>-<8 hex>-<8 hex>``."""
    return f"{secrets.token_hex(16)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def new_public_secret() -> str:
    """Mailgun-shaped public validation key: ``pubkey-<32 hex>``."""
    return PUBLIC_PREFIX + secrets.token_hex(16)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    role: str
    kind: str
    domain_name: str | None
    allowed_ips: tuple[Network, ...] = ()  # empty: from anywhere
    expires_at: float | None = None
    environment: str = "live"  # test: sends are captured, only test events are seen
    scopes: frozenset[str] | None = None  # an OAuth token's scopes; None for API keys

    @property
    def is_domain_key(self) -> bool:
        return self.kind == "domain"

    @property
    def is_test(self) -> bool:
        return self.environment == "test"

    @property
    def is_public(self) -> bool:
        return self.scopes is None and self.role == PUBLIC

    @property
    def can_send(self) -> bool:
        """Keys: all but read-only (basic) and public ones; tokens: the send or manage scope."""
        if self.scopes is not None:
            return bool(self.scopes & {"send", "manage"})
        return self.role not in ("basic", PUBLIC)

    @property
    def can_read(self) -> bool:
        """Keys: all but sending and public keys; tokens: the read or manage scope."""
        if self.scopes is not None:
            return bool(self.scopes & {"read", "manage"})
        return self.role not in ("sending", PUBLIC)

    @property
    def can_write(self) -> bool:
        """Keys: all but basic, sending and public; tokens: the manage scope."""
        if self.scopes is not None:
            return "manage" in self.scopes
        return self.role not in ("basic", "sending", PUBLIC)

    def _refuse_public(self) -> None:
        if self.is_public:
            raise Forbidden("The public key may only be used for address validation")

    def require_validation(self) -> None:
        """Address validation: the public key, or any key that may read the account."""
        if not self.is_public:
            self.require_account()

    def require_send(self, domain: str) -> None:
        """Read-only (basic) keys may not send; sending keys send for their own domain only."""
        self._refuse_public()
        if not self.can_send:
            raise Forbidden(
                "This key has read-only access"
                if self.scopes is None
                else "This token's scope does not allow sending messages"
            )
        self.require_domain(domain)

    def require_domain(self, domain: str) -> None:
        """Domain keys reach their own domain only (sending, and reading what they sent)."""
        if self.domain_name is not None and self.domain_name != domain.lower():
            raise Forbidden(f"This key may only be used for domain {self.domain_name}")

    def require_account(self, *, write: bool = False) -> None:
        """Everything but sending needs an account (non-domain) key; writes need more than basic."""
        self._refuse_public()
        token = self.scopes is not None
        if self.is_domain_key or not self.can_read:
            raise Forbidden(
                "This token's scope allows sending messages only"
                if token
                else "This key may only be used for sending messages"
            )
        if write and not self.can_write:
            raise Forbidden(
                "This token's scope does not allow changes (it needs manage)"
                if token
                else "This key has read-only access"
            )


def check_environment(environment: str) -> None:
    if environment not in ENVIRONMENTS:
        raise InvalidInput(
            f"environment must be one of {', '.join(ENVIRONMENTS)}", field="environment"
        )


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
    """Authenticates keys, remembering answers a few seconds to keep lookups off the hot path.

    Revocation still takes effect at once: deleting a key forgets it here, and on PostgreSQL a
    NOTIFY (sent when the delete commits) makes every other process forget too (``start``
    listens). Expiry is checked on every use against the time remembered with the key. Uses
    are counted in memory and written as ``last_used_at`` at most every ``flush_seconds``.
    """

    def __init__(
        self,
        store: Store,
        *,
        seconds: float = CACHE_SECONDS,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._flush_seconds = flush_seconds
        self._clock = clock
        self._known: TimedCache[str, Principal | None] = TimedCache(seconds, CACHE_MAX)
        self._used: dict[str, float] = {}
        # Authorization headers seen and their keys' digests: decoding and hashing the key
        # cost more than the cache lookup that follows.
        self._digests: dict[str | None, str] = {}
        self._flushed_at = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen for revocations made by other processes (PostgreSQL)."""
        await self._store.listen(queries.KEYS_CHANNEL, self._notified)

    async def authenticate(self, header: str | None, client: str | None = None) -> Principal:
        """The key in ``header``, if it is valid now and may be used from address ``client``."""
        digest = self._digests.get(header) if header is not None else None
        if digest is None:
            digest = hash_secret(parse_basic(header))
            if len(self._digests) >= CACHE_MAX:
                self._digests.clear()
            self._digests[header] = digest  # header -> digest never changes: no expiry

        async def load() -> Principal | None:
            async with self._store.read() as conn:
                return _principal(await queries.find_key(conn, digest))

        who, now, tick = await self._known.get(digest, load), self._clock(), time.monotonic()
        if who is None or (who.expires_at is not None and who.expires_at <= now):
            raise Unauthorized("Invalid private key")
        if not is_allowed(who.allowed_ips, client):
            raise Unauthorized(
                f"Forbidden: this key may not be used from {client or 'an unknown address'}"
            )
        self._used[who.key_id] = now
        if self._flushing is None and tick - self._flushed_at >= self._flush_seconds:
            # Not under this request's log fields (``contextvars``): it outlives the request.
            self._flushing = asyncio.create_task(
                self._flush_in_background(), context=contextvars.Context()
            )
        return who

    def forget(self) -> None:
        self._known.forget()

    def _notified(self, payload: str) -> None:
        self.forget()
        log.info("api_keys_changed", key_id=payload or None)

    async def flush(self) -> None:
        """Write the remembered ``last_used_at`` times now."""
        self._flushed_at = time.monotonic()
        used, self._used = self._used, {}
        if not used:
            return

        async def touch(conn: AsyncConnection) -> None:
            await queries.touch_keys(conn, used)

        try:
            await self._store.write(touch)
        except BaseException:
            for key_id, at in used.items():  # keep them for the next flush
                self._used[key_id] = max(at, self._used.get(key_id, at))
            raise

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except Exception:
            log.exception("api_key_last_used_failed")
        finally:
            self._flushing = None

    async def close(self) -> None:
        """Write what is pending; call before the store closes."""
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
        await self.flush()


def _principal(row: KeyRow | None) -> Principal | None:
    if row is None or row.is_disabled:
        return None
    return Principal(
        key_id=row.id,
        role=row.role,
        kind=row.kind,
        domain_name=row.domain_name,
        allowed_ips=parse_ranges(row.allowed_ips or ""),
        expires_at=row.expires_at,
        environment=row.environment,
    )


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
        "allowed_ips": None,
        "last_used_at": None,
        "environment": "live",
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
    allowed_ips: tuple[Network, ...] = (),
    environment: str = "live",
    now: float,
) -> tuple[KeyRow, str]:
    """Create a key; returns its row and the secret, which is shown only now.

    ``expiration`` is seconds from ``now``; ``allowed_ips`` limits where it may be used from."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    check_environment(environment)
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
        allowed_ips=format_ranges(allowed_ips),
        environment=environment,
    )

    async def insert(conn: Any) -> KeyRow | None:
        await queries.insert_key(conn, values)
        return await queries.find_key(conn, values["secret_hash"])

    row = await store.write(insert)
    assert row is not None
    return row, secret


async def regenerate_public_key(store: Store, now: float) -> str:
    """Make the account's public validation key (again); returns its secret, shown only now.
    The key it replaces stops working in every API process once this returns."""
    secret = new_public_secret()
    values = _values(secret, now, role=PUBLIC, kind=PUBLIC, description="public validation key")

    async def replace(conn: AsyncConnection) -> None:
        for row in await queries.list_keys(conn, kind=PUBLIC):
            await queries.delete_key(conn, row.id)
            await queries.notify_keys_changed(conn, row.id)
        await queries.insert_key(conn, values)

    await store.write(replace)
    return secret


async def list_keys(
    store: Store, *, domain_name: str | None = None, kind: str | None = None
) -> list[KeyRow]:
    """The API keys (the public validation key is not one of them: Mailgun lists it apart)."""
    async with store.read() as conn:
        rows = await queries.list_keys(conn, domain_name=domain_name, kind=kind)
    return [row for row in rows if row.kind != PUBLIC]


async def delete_key(store: Store, key_id: str) -> None:
    """Revoke a key: every API process stops accepting it once this returns (see ``KeyCache``)."""

    async def remove(conn: AsyncConnection) -> bool:
        if not await queries.delete_key(conn, key_id):
            return False
        await queries.notify_keys_changed(conn, key_id)
        return True

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
        "last_used_at": _rfc2822(row.last_used_at),
        "allowed_ips": [] if not row.allowed_ips else row.allowed_ips.split(","),
        "environment": row.environment,
    }
    if secret is not None:
        body["secret"] = secret
    return body
