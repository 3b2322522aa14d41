"""SMTP credentials: per-domain logins for submission, stored as salted scrypt hashes.

People choose these passwords, so unlike API keys they get a slow, memory-hard hash
(stdlib ``hashlib.scrypt``, a fresh 16-byte salt per password; the parameters are stored in
the hash so they can be raised later). A busy submitter would pay the KDF on every
connection, so ``CredentialCache`` remembers successful checks for a few seconds, keyed by
the login and a SHA-256 of the password (never the password itself).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.errors import Conflict, InvalidInput, NotFound
from mailwright.store import Store, queries
from mailwright.store import credentials as sql

# RFC 7914 parameters: N=2**14, r=8 costs 16 MiB and tens of milliseconds per check.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
PASSWORD_MIN = 5
PASSWORD_MAX = 32  # Mailgun's limits
CACHE_SECONDS = 5.0
CACHE_MAX = 10_000
# A dot-atom local part of plain ASCII: what people type as an SMTP user name.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


@dataclass(frozen=True, slots=True)
class Credential:
    login: str  # lower-cased user@domain
    domain: str
    created_at: float


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` with base64 salt and hash."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), *encoded])


def is_password_match(stored: str, password: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(expected, actual)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES, maxmem=2 * 128 * r * n
    )


# Checked when a login is unknown, so a wrong login costs as long as a wrong password.
_UNKNOWN = hash_password(secrets.token_urlsafe(12))


def normalise_login(login: str, domain: str) -> str:
    """``alice`` or ``alice@domain`` -> ``alice@domain``, lower-cased; other domains are refused."""
    domain = domain.lower()
    local, at, named = login.strip().lower().rpartition("@")
    if not at:
        local, named = named, domain
    if named != domain:
        raise InvalidInput(f"'login' must be an address at {domain}", field="login")
    if len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise InvalidInput("'login' is not a valid mailbox name", field="login")
    return f"{local}@{domain}"


def check_password(password: str | None) -> str:
    if not password:
        raise InvalidInput("'password' parameter is missing", field="password")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(
            f"'password' must be between {PASSWORD_MIN} and {PASSWORD_MAX} characters long",
            field="password",
        )
    return password


async def _require_domain(conn: AsyncConnection, domain: str) -> None:
    if await queries.get_domain(conn, domain) is None:
        raise NotFound(f"Domain not found: {domain}")


async def create_credential(
    store: Store, domain: str, login: str, password: str, *, now: float
) -> Credential:
    domain = domain.lower()
    async with store.read() as conn:
        await _require_domain(conn, domain)
    full = normalise_login(login, domain)
    password_hash = await asyncio.to_thread(hash_password, check_password(password))
    row = {
        "login": full,
        "domain": domain,
        "password_hash": password_hash,
        "created_at": now,
        "updated_at": now,
    }

    async def insert(conn: AsyncConnection) -> None:
        if await sql.get_credential(conn, full) is not None:
            raise Conflict(f"Credentials for {full} already exist")
        await sql.insert_credential(conn, row)

    await store.write(insert)
    return Credential(login=full, domain=domain, created_at=now)


async def list_credentials(
    store: Store, domain: str, *, skip: int = 0, limit: int = 100
) -> tuple[int, list[Credential]]:
    domain = domain.lower()
    async with store.read() as conn:
        await _require_domain(conn, domain)
        total = await sql.count_credentials(conn, domain)
        rows = await sql.select_credentials(conn, domain, skip=skip, limit=limit)
    return total, [_credential(row) for row in rows]


async def change_password(
    store: Store, domain: str, login: str, password: str, *, now: float
) -> str:
    """Returns the full login whose password changed."""
    full = await _existing_login(store, domain, login)
    password_hash = await asyncio.to_thread(hash_password, check_password(password))

    async def update(conn: AsyncConnection) -> bool:
        return await sql.update_password(conn, full, password_hash, now)

    if not await store.write(update):
        raise NotFound(f"Credentials not found: {full}")
    return full


async def delete_credential(store: Store, domain: str, login: str) -> str:
    """Returns the full login that was deleted."""
    full = await _existing_login(store, domain, login)

    async def remove(conn: AsyncConnection) -> bool:
        return await sql.delete_credential(conn, full)

    if not await store.write(remove):
        raise NotFound(f"Credentials not found: {full}")
    return full


async def delete_credentials(store: Store, domain: str) -> int:
    """Delete every credential of ``domain``; returns how many there were."""
    domain = domain.lower()

    async def remove(conn: AsyncConnection) -> int:
        return await sql.delete_credentials(conn, domain)

    return await store.write(remove)


async def _existing_login(store: Store, domain: str, login: str) -> str:
    domain = domain.lower()
    async with store.read() as conn:
        await _require_domain(conn, domain)
        try:
            full = normalise_login(login, domain)
        except InvalidInput:
            raise NotFound(f"Credentials not found: {login}") from None
        if await sql.get_credential(conn, full) is None:
            raise NotFound(f"Credentials not found: {full}")
    return full


def _credential(row: dict[str, Any]) -> Credential:
    return Credential(login=row["login"], domain=row["domain"], created_at=row["created_at"])


def credential_json(credential: Credential) -> dict[str, Any]:
    return {
        "login": credential.login,
        "mailbox": credential.login,
        "size_bytes": None,
        "created_at": formatdate(credential.created_at, usegmt=True),
    }


class CredentialCache:
    """Checks SMTP logins, remembering successes a few seconds so a submitter that opens a
    connection per message does not pay the KDF each time. Failures are never cached, and
    ``forget`` drops a login at once when its password changes or it is deleted."""

    def __init__(
        self, store: Store, clock: Callable[[], float], *, seconds: float = CACHE_SECONDS
    ) -> None:
        self._store = store
        self._clock = clock
        self._seconds = seconds
        self._known: dict[tuple[str, str], tuple[float, Credential]] = {}

    async def verify(self, login: str, password: str) -> Credential | None:
        key = (login.strip().lower(), hashlib.sha256(password.encode()).hexdigest())
        now = self._clock()
        hit = self._known.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._store.read() as conn:
            row = await sql.get_credential(conn, key[0])
        stored = _UNKNOWN if row is None else str(row["password_hash"])
        is_match = await asyncio.to_thread(is_password_match, stored, password)
        if row is None or not is_match:
            return None
        if len(self._known) >= CACHE_MAX:
            self._known.clear()
        credential = _credential(row)
        self._known[key] = (now + self._seconds, credential)
        return credential

    def forget(self, login: str | None = None) -> None:
        if login is None:
            self._known.clear()
            return
        for key in [k for k in self._known if k[0] == login.lower()]:
            del self._known[key]
