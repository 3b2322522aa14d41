"""Dashboard logins: users with argon2id password hashes and TOTP, and their sessions.

A login is two steps. ``check_password`` answers the user (or None), and ``start_session`` gives
the browser a token; the session is verified at once when the user has no TOTP, else after
``verify_totp`` accepts a code. Only the SHA-256 of a session token is stored, so a copy of
the database opens no session. Failed logins are counted per username in the database, so the
throttle holds across processes. A single sign-on (``sso_user``) maps an identity provider's
identity to a user and skips the TOTP step: the provider does the second factor.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.auth.oidc import Identity as SsoIdentity
from mailwright.errors import Conflict, InvalidInput, LoginThrottled, NotFound, SsoRefused
from mailwright.store import Store
from mailwright.store import dashboard as sql
from mailwright.store.sealed import totp_place

ISSUER = "mailwright"
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")
PASSWORD_MIN = 10
PASSWORD_MAX = 1024
SESSION_SECONDS = 12 * 3600.0  # extended by another 12 h once more than half is used
MAX_FAILED_LOGINS = 5  # per username within FAILED_LOGIN_WINDOW, then LoginThrottled
FAILED_LOGIN_WINDOW = 15 * 60.0
MAX_TOTP_FAILURES = 5  # wrong codes per session, then the session ends
TOTP_VALID_WINDOW = 1  # time steps either side of now that are accepted

_hasher = PasswordHasher()  # argon2id with RFC 9106's low-memory parameters


@dataclass(frozen=True, slots=True)
class DashboardUser:
    id: str
    username: str
    has_totp: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class SsoLink:
    """A provider identity a user signs in as: the ``(issuer, sub)`` linked on its first SSO
    sign-in."""

    issuer: str
    subject: str


@dataclass(frozen=True, slots=True)
class DashboardSession:
    user: DashboardUser
    csrf_token: str  # random, per session; pages compare it with hmac.compare_digest
    is_verified: bool  # True once the TOTP step passed (or the user has no TOTP)
    expires_at: float


def _check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            "username must be 1 to 64 characters: letters, digits and . _ @ -", field="username"
        )
    return username


def _check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(
            f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long",
            field="password",
        )
    return password


def _is_match(stored: str | None, password: str) -> bool:
    """Runs in a thread: argon2 takes tens of milliseconds. ``None`` (no such user) checks
    a dummy hash, so an unknown username costs as long as a wrong password."""
    try:
        return _hasher.verify(_unknown_user_hash() if stored is None else stored, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _unknown_user_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _is_throttled(failures: tuple[int, float] | None, now: float) -> bool:
    if failures is None:
        return False
    count, window_start = failures
    return count >= MAX_FAILED_LOGINS and now < window_start + FAILED_LOGIN_WINDOW


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: dict[str, Any]) -> DashboardUser:
    return DashboardUser(
        id=row["id"],
        username=row["username"],
        has_totp=row["totp_secret"] is not None,
        created_at=row["created_at"],
    )


def _session(row: dict[str, Any], *, expires_at: float | None = None) -> DashboardSession:
    user = DashboardUser(
        id=row["user_id"],
        username=row["username"],
        has_totp=row["totp_secret"] is not None,
        created_at=row["user_created_at"],
    )
    return DashboardSession(
        user=user,
        csrf_token=row["csrf_token"],
        is_verified=bool(row["is_verified"]),
        expires_at=row["expires_at"] if expires_at is None else expires_at,
    )


def _claimed_username(claims: dict[str, Any], claim: str) -> str:
    """The username a provider's claims name, for linking an identity the first time."""
    value = claims.get(claim)
    if not isinstance(value, str) or not USERNAME.fullmatch(value):
        raise SsoRefused(f"The identity provider's {claim} claim names no possible username.")
    if claim == "email" and claims.get("email_verified") is not True:
        raise SsoRefused("The identity provider has not verified this email address.")
    return value


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The TOTP time step within the valid window whose code is ``code``, else None."""
    code = "".join(code.split())
    totp = pyotp.TOTP(secret)
    if len(code) != totp.digits or not code.isdigit():
        return None
    current = totp.timecode(now)
    for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


class Users:
    """Dashboard users, their passwords, TOTP secrets and sessions."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def create(
        self, username: str, password: str, *, totp: bool = True
    ) -> tuple[DashboardUser, str | None]:
        """Returns the user and its base32 TOTP secret (shown once; None without TOTP)."""
        _check_username(username)
        password_hash = await asyncio.to_thread(_hasher.hash, _check_password(password))
        secret = pyotp.random_base32() if totp else None
        now = self._clock()
        user_id = secrets.token_hex(16)
        row = {
            "id": user_id,
            "username": username,
            "password_hash": password_hash,
            # Sealed: unlike a password it must be read back to check a code.
            "totp_secret": None
            if secret is None
            else self._store.keyring.seal(secret, totp_place(user_id)),
            "totp_last_step": None,
            "created_at": now,
            "updated_at": now,
        }

        async def insert(conn: AsyncConnection) -> None:
            if await sql.get_user(conn, username) is not None:
                raise Conflict(f"User {username} already exists")
            await sql.insert_user(conn, row)

        await self._store.write(insert)
        return _user(row), secret

    async def list_users(self) -> list[DashboardUser]:
        async with self._store.read() as conn:
            return [_user(row) for row in await sql.select_users(conn)]

    async def sso_links(self) -> dict[str, list[SsoLink]]:
        """Each linked user's identities, by user id (a user without any is absent)."""
        links: dict[str, list[SsoLink]] = {}
        async with self._store.read() as conn:
            for row in await sql.select_identities(conn):
                links.setdefault(row["user_id"], []).append(SsoLink(row["issuer"], row["subject"]))
        return links

    async def delete(self, username: str) -> bool:
        """Delete the user and end its sessions; False when there was no such user."""

        async def remove(conn: AsyncConnection) -> bool:
            return await sql.delete_user(conn, username)

        return await self._store.write(remove)

    async def set_password(self, username: str, password: str) -> bool:
        """Change the password and end every session of the user; False when there is no
        such user."""
        password_hash = await asyncio.to_thread(_hasher.hash, _check_password(password))
        now = self._clock()

        async def change(conn: AsyncConnection) -> bool:
            user = await sql.get_user(conn, username)
            if user is None:
                return False
            await sql.update_password(conn, username, password_hash, now)
            await sql.delete_user_sessions(conn, user["id"])
            await sql.clear_login_failures(conn, username)
            return True

        return await self._store.write(change)

    async def reset_totp(self, username: str) -> str:
        """Give the user a new TOTP secret (returned, shown once) and end its sessions."""
        secret = pyotp.random_base32()
        now = self._clock()

        async def change(conn: AsyncConnection) -> bool:
            user = await sql.get_user(conn, username)
            if user is None:
                return False
            sealed = self._store.keyring.seal(secret, totp_place(user["id"]))
            await sql.update_totp_secret(conn, username, sealed, now)
            await sql.delete_user_sessions(conn, user["id"])
            return True

        if not await self._store.write(change):
            raise NotFound(f"User not found: {username}")
        return secret

    async def check_password(self, username: str, password: str) -> DashboardUser | None:
        """The user when the password is right, else None. Raises ``LoginThrottled`` once a
        username has had MAX_FAILED_LOGINS failures within FAILED_LOGIN_WINDOW seconds."""
        if not USERNAME.fullmatch(username):
            await asyncio.to_thread(_is_match, None, password)
            return None
        now = self._clock()
        async with self._store.read() as conn:
            failures = await sql.get_login_failures(conn, username)
            row = await sql.get_user(conn, username)
        if _is_throttled(failures, now):
            raise LoginThrottled
        stored = None if row is None else str(row["password_hash"])
        is_match = await asyncio.to_thread(_is_match, stored, password)
        if row is None or stored is None or not is_match:
            await self._store.write(
                lambda conn: sql.record_login_failure(
                    conn, username, now=now, window=FAILED_LOGIN_WINDOW
                )
            )
            return None
        await self._logged_in(username, password, stored, had_failures=failures is not None)
        return _user(row)

    async def _logged_in(
        self, username: str, password: str, stored: str, *, had_failures: bool
    ) -> None:
        """Forget the failed logins, and rehash a password hashed with older parameters."""
        rehashed = None
        if _hasher.check_needs_rehash(stored):
            rehashed = await asyncio.to_thread(_hasher.hash, password)
        now = self._clock()

        async def succeeded(conn: AsyncConnection) -> None:
            await sql.clear_login_failures(conn, username)
            if rehashed is not None:
                await sql.update_password(conn, username, rehashed, now, replacing=stored)

        if had_failures or rehashed is not None:
            await self._store.write(succeeded)

    async def start_session(
        self, user: DashboardUser, *, via_sso: bool = False
    ) -> tuple[str, DashboardSession]:
        """A new session for ``user``; returns its token (for the cookie) and the session.
        Whether a TOTP code is still needed is read from the user's stored row, not from
        ``user``; never ``via_sso``, where the identity provider does the second factor.
        Expired sessions of every user are deleted on the way."""
        token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        now = self._clock()
        expires_at = now + SESSION_SECONDS

        async def insert(conn: AsyncConnection) -> DashboardSession:
            await sql.delete_expired_sessions(conn, now)
            row = await sql.get_user_by_id(conn, user.id)
            if row is None:
                raise NotFound(f"User not found: {user.username}")
            current = _user(row)
            session = DashboardSession(
                user=current,
                csrf_token=csrf_token,
                is_verified=via_sso or not current.has_totp,
                expires_at=expires_at,
            )
            await sql.insert_session(
                conn,
                {
                    "token_hash": _token_hash(token),
                    "user_id": current.id,
                    "csrf_token": csrf_token,
                    "is_verified": session.is_verified,
                    "totp_failures": 0,
                    "created_at": now,
                    "expires_at": expires_at,
                },
            )
            return session

        return token, await self._store.write(insert)

    async def sso_user(self, identity: SsoIdentity, *, claim: str, create: bool) -> DashboardUser:
        """The local user ``identity`` signs in as. An identity linked before maps by its
        ``(issuer, sub)``. Else the user whose username is the ``claim`` claim (an ``email``
        claim counts only with ``email_verified``) is linked to it, unless linked to another
        subject of that issuer already; with ``create``, a missing user is created (no TOTP,
        an unusable random password). Anything else raises SsoRefused."""
        async with self._store.read() as conn:
            row = await sql.get_identity_user(conn, identity.issuer, identity.subject)
        if row is not None:
            return _user(row)
        username = _claimed_username(identity.claims, claim)
        if create:
            with contextlib.suppress(Conflict):  # an existing user is linked like any other
                await self.create(username, secrets.token_urlsafe(32), totp=False)
        now = self._clock()

        async def link(conn: AsyncConnection) -> DashboardUser:
            found = await sql.get_user(conn, username)
            if found is None:
                raise SsoRefused(f"No dashboard user {username} exists; ask an administrator.")
            if await sql.get_user_identity(conn, identity.issuer, found["id"]) is not None:
                raise SsoRefused(f"User {username} is linked to another single sign-on account.")
            await sql.insert_identity(
                conn,
                {
                    "issuer": identity.issuer,
                    "subject": identity.subject,
                    "user_id": found["id"],
                    "created_at": now,
                },
            )
            return _user(found)

        try:
            return await self._store.write(link)
        except IntegrityError:  # a concurrent first login of the same identity or user
            raise SsoRefused("Another sign-in linked this account meanwhile; try again.") from None

    async def session(self, token: str) -> DashboardSession | None:
        """The live session of ``token``, None when it is unknown or expired. Once more than
        half of its lifetime is used, the session is extended by a full lifetime."""
        token_hash = _token_hash(token)
        now = self._clock()
        async with self._store.read() as conn:
            row = await sql.get_session(conn, token_hash)
        if row is None or row["expires_at"] <= now:
            return None
        if row["expires_at"] - now >= SESSION_SECONDS / 2:
            return _session(row)
        expires_at = now + SESSION_SECONDS
        await self._store.write(lambda conn: sql.extend_session(conn, token_hash, expires_at))
        return _session(row, expires_at=expires_at)

    async def verify_totp(self, token: str, code: str) -> bool:
        """True when ``code`` is the user's current TOTP code (one step either side) and its
        time step was not used before; the session is then verified. A wrong or replayed
        code counts against the session, which ends after MAX_TOTP_FAILURES of them. False
        also for an unknown or expired session, or a user without TOTP."""
        token_hash = _token_hash(token)
        now = self._clock()

        async def verify(conn: AsyncConnection) -> bool:
            row = await sql.get_session(conn, token_hash)
            if row is None or row["expires_at"] <= now or row["totp_secret"] is None:
                return False
            secret = self._store.keyring.open(row["totp_secret"], totp_place(row["user_id"]))
            step = _matching_step(secret, code, now)
            if step is not None and await sql.use_totp_step(conn, row["user_id"], step):
                await sql.mark_session_verified(conn, token_hash)
                return True
            if await sql.record_totp_failure(conn, token_hash) >= MAX_TOTP_FAILURES:
                await sql.delete_session(conn, token_hash)
            return False

        return await self._store.write(verify)

    async def rotate_session(self, token: str) -> tuple[str, DashboardSession] | None:
        """Move a live session to a new token and CSRF token (say after the TOTP step, so a
        token seen before the login completed is worthless); None when it is not live."""
        token_hash = _token_hash(token)
        new_token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        now = self._clock()
        expires_at = now + SESSION_SECONDS
        values = {
            "token_hash": _token_hash(new_token),
            "csrf_token": csrf_token,
            "expires_at": expires_at,
        }

        async def rotate(conn: AsyncConnection) -> DashboardSession | None:
            row = await sql.get_session(conn, token_hash)
            if row is None or row["expires_at"] <= now:
                return None
            await sql.replace_session_token(conn, token_hash, values)
            return _session(row | {"csrf_token": csrf_token}, expires_at=expires_at)

        session = await self._store.write(rotate)
        return None if session is None else (new_token, session)

    async def end_session(self, token: str) -> None:
        token_hash = _token_hash(token)
        await self._store.write(lambda conn: sql.delete_session(conn, token_hash))

    def provisioning_uri(self, username: str, secret: str) -> str:
        """``otpauth://totp/mailwright:<user>?secret=..&issuer=mailwright``, for a QR code."""
        return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
