"""OAuth 2.0 for the API: clients, the client-credentials grant (RFC 6749 4.4), signed JWT
access tokens (RFC 9068), their introspection (RFC 7662) and revocation (RFC 7009).

A client has scopes mirroring key roles: ``send`` (a sending key), ``read`` (a basic,
read-only key) and ``manage`` (an admin key); it may be bound to one domain and belongs to an
environment (``live`` or ``test``) like keys do. Its secret is stored as a SHA-256 hash, as
API keys are (128 random bits: nothing to brute-force).

Access tokens are ES256 JWTs, header ``typ: at+jwt``, claims ``iss``, ``sub`` (= ``client_id``),
``aud``, ``exp``, ``iat``, ``jti``, ``client_id`` and ``scope``. They are signed by the newest
signing key not retired; ``rotate_key`` makes a new one and retires the others, which keep
verifying (and stay in the JWKS) for one token lifetime, until every token they signed has
expired. A token is refused once its client is deleted or its ``jti`` is revoked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet
from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.auth.cache import TimedCache
from mailwright.auth.keys import Principal, check_environment
from mailwright.errors import Forbidden, InvalidInput, NotFound, OAuthError, Unauthorized
from mailwright.store import Keyring, Store, oauth, queries
from mailwright.store.sealed import oauth_place

SCOPES = ("send", "read", "manage")
ROLE_OF_SCOPE = {"manage": "admin", "read": "basic", "send": "sending"}  # strongest first
TOKEN_SECONDS = 900.0
ALGORITHM = "ES256"
TOKEN_TYPE = "at+jwt"  # noqa: S105 -- RFC 9068 2.1's JWT header type, not a secret
INVALID_TOKEN = "Invalid access token"  # noqa: S105 -- an error message
CACHE_SECONDS = 5.0  # how long a verified token is trusted without a look at the database
CACHE_MAX = 10_000


@dataclass(frozen=True, slots=True)
class OAuthClient:
    client_id: str
    description: str
    scopes: tuple[str, ...]
    domain_name: str | None
    environment: str
    created_at: float

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OAuthClient:
        return cls(
            client_id=row["client_id"],
            description=row["description"],
            scopes=tuple(row["scopes"].split()),
            domain_name=row["domain_name"],
            environment=row["environment"],
            created_at=row["created_at"],
        )


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A verified token's claims."""

    client_id: str
    scopes: tuple[str, ...]
    jti: str
    issued_at: float
    expires_at: float
    claims: dict[str, Any]


def parse_scope(raw: str | None, *, field: str = "scope") -> tuple[str, ...]:
    """``"send read"`` -> ("read", "send"); unknown scopes are an error."""
    scopes = sorted(set((raw or "").replace(",", " ").split()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise InvalidInput(
            f"unknown scope {' '.join(unknown)}: scopes are {', '.join(SCOPES)}", field=field
        )
    return tuple(scopes)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def client_json(client: OAuthClient, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "description": client.description,
        "scope": " ".join(client.scopes),
        "domain": client.domain_name,
        "environment": client.environment,
        "created_at": client.created_at,
    }
    if secret is not None:
        body["client_secret"] = secret
    return body


def _role(scopes: tuple[str, ...] | frozenset[str]) -> str:
    return next(role for scope, role in ROLE_OF_SCOPE.items() if scope in scopes)


def _unverified_header(token: str) -> dict[str, Any]:
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error):
        raise Unauthorized(INVALID_TOKEN) from None
    if not isinstance(header, dict):
        raise Unauthorized(INVALID_TOKEN)
    return header


class Authority:
    """The authorization server: clients, token issue and verification, signing keys."""

    def __init__(
        self,
        store: Store,
        *,
        issuer: str,
        lifetime: float = TOKEN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.issuer = issuer
        self.audience = issuer  # the API this server protects
        self.lifetime = lifetime
        self._clock = clock
        self._verifying: dict[str, ECKey] = {}  # kid -> public key; keys never change
        # Who a token speaks for, as the key cache in keys.py: a few seconds, forgotten at
        # once on revocation (NOTIFY across processes), the token's own expiry checked on
        # every use.
        self._known: TimedCache[str, Principal] = TimedCache(CACHE_SECONDS, CACHE_MAX)

    async def start(self) -> None:
        """Listen for revocations and deleted clients of other processes (PostgreSQL)."""
        await self._store.listen(oauth.CHANNEL, self._notified)

    def forget(self) -> None:
        self._known.forget()

    def _notified(self, payload: str) -> None:
        self.forget()

    # Clients

    async def create_client(
        self,
        *,
        scope: str,
        domain_name: str | None = None,
        environment: str = "live",
        description: str = "",
    ) -> tuple[OAuthClient, str]:
        """A new client and its secret, which is shown only now."""
        scopes = parse_scope(scope)
        if not scopes:
            raise InvalidInput("'scope' parameter is missing", field="scope")
        check_environment(environment)
        if domain_name and scopes != ("send",):
            raise InvalidInput(
                "a client bound to a domain may only have the send scope", field="scope"
            )
        domain = domain_name.lower() if domain_name else None
        secret = secrets.token_urlsafe(32)
        row = {
            "client_id": "mwc_" + secrets.token_hex(12),
            "secret_hash": _hash(secret),
            "description": description,
            "scopes": " ".join(scopes),
            "domain_name": domain,
            "environment": environment,
            "created_at": self._clock(),
        }

        async def insert(conn: AsyncConnection) -> None:
            if domain is not None and await queries.get_domain(conn, domain) is None:
                raise NotFound(f"Domain not found: {domain}")
            await oauth.insert_client(conn, row)

        await self._store.write(insert)
        return OAuthClient.from_row(row), secret

    async def list_clients(self) -> list[OAuthClient]:
        async with self._store.read() as conn:
            return [OAuthClient.from_row(r) for r in await oauth.select_clients(conn)]

    async def delete_client(self, client_id: str) -> None:
        """Tokens already issued to the client are refused from now on."""

        async def remove(conn: AsyncConnection) -> bool:
            await oauth.notify_changed(conn, client_id)
            return await oauth.delete_client(conn, client_id)

        removed = await self._store.write(remove)
        self.forget()
        if not removed:
            raise NotFound("OAuth client not found")

    async def authenticate_client(self, client_id: str, secret: str) -> OAuthClient:
        async with self._store.read() as conn:
            row = await oauth.get_client(conn, client_id)
        expected = row["secret_hash"] if row is not None else _hash(secrets.token_hex(16))
        if not hmac.compare_digest(expected, _hash(secret)) or row is None:
            raise OAuthError("invalid_client", "Client authentication failed")
        return OAuthClient.from_row(row)

    # Tokens

    async def issue(self, client: OAuthClient, scope: str | None) -> dict[str, Any]:
        """RFC 6749 5.1's successful response for ``client``, narrowed to ``scope``."""
        try:
            wanted = parse_scope(scope) if scope else client.scopes
        except InvalidInput as exc:
            raise OAuthError("invalid_scope", exc.message) from None
        extra = set(wanted) - set(client.scopes)
        if extra or not wanted:
            raise OAuthError(
                "invalid_scope",
                f"scope {' '.join(sorted(extra))} was not granted to this client"
                if extra
                else "empty scope",
            )
        kid, key = await self._signing_key()
        now = int(self._clock())
        claims = {
            "iss": self.issuer,
            "sub": client.client_id,
            "aud": self.audience,
            "iat": now,
            "exp": now + int(self.lifetime),
            "jti": secrets.token_urlsafe(18),
            "client_id": client.client_id,
            "scope": " ".join(wanted),
        }
        header = {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": kid}
        return {
            "access_token": jwt.encode(header, claims, key),
            "token_type": "Bearer",
            "expires_in": int(self.lifetime),
            "scope": " ".join(wanted),
        }

    async def verify(self, token: str) -> AccessToken:
        """The token's claims if its signature, type, issuer, audience and lifetime are right;
        revocation and the client's existence are checked by ``principal``/``introspect``."""
        header = _unverified_header(token)
        # RFC 9068 4: "at+jwt", or its full media type, and only the algorithm we sign with.
        typ = str(header.get("typ", "")).lower().removeprefix("application/")
        if typ != TOKEN_TYPE or header.get("alg") != ALGORITHM:
            raise Unauthorized(INVALID_TOKEN)
        key = await self._verifying_key(str(header.get("kid", "")))
        try:
            decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
        except (JoseError, ValueError):
            raise Unauthorized(INVALID_TOKEN) from None
        return self._check_claims(decoded.claims)

    def _check_claims(self, claims: dict[str, Any]) -> AccessToken:
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise Unauthorized(INVALID_TOKEN)
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        client_id, jti = claims.get("client_id"), claims.get("jti")
        if (
            claims.get("iss") != self.issuer
            or self.audience not in audiences
            or not isinstance(client_id, str)
            or claims.get("sub") != client_id
            or not isinstance(jti, str)
        ):
            raise Unauthorized(INVALID_TOKEN)
        if exp <= self._clock():
            raise Unauthorized("Access token expired")
        return AccessToken(
            client_id=client_id,
            scopes=parse_scope(str(claims.get("scope", ""))),
            jti=jti,
            issued_at=float(iat),
            expires_at=float(exp),
            claims=claims,
        )

    async def principal(self, token: str) -> Principal:
        """Who a Bearer token speaks for: its client's domain and environment, its scopes.
        Remembered for a few seconds, so a busy client costs no signature check nor query
        per request."""
        who = await self._known.get(token, lambda: self._lookup(token))
        if who.expires_at is not None and who.expires_at <= self._clock():
            raise Unauthorized("Access token expired")
        return who

    async def _lookup(self, token: str) -> Principal:
        found = await self.verify(token)
        async with self._store.read() as conn:
            row = await oauth.get_client(conn, found.client_id)
            revoked = await oauth.is_revoked(conn, found.jti)
        if row is None or revoked:
            raise Unauthorized("Access token revoked")
        client = OAuthClient.from_row(row)
        scopes = frozenset(found.scopes) & frozenset(client.scopes)
        if not scopes:
            raise Forbidden("This token has no scope")
        return Principal(
            key_id=f"oauth:{client.client_id}",
            role=_role(scopes),
            kind="domain" if client.domain_name else "user",
            domain_name=client.domain_name,
            expires_at=found.expires_at,
            environment=client.environment,
            scopes=scopes,
        )

    async def introspect(self, client: OAuthClient, token: str) -> dict[str, Any]:
        """RFC 7662 2.2; a client may introspect only its own tokens (others are inactive)."""
        try:
            found = await self.verify(token)
        except Unauthorized:
            return {"active": False}
        async with self._store.read() as conn:
            revoked = await oauth.is_revoked(conn, found.jti)
        if revoked or found.client_id != client.client_id:
            return {"active": False}
        keep = ("iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope")
        return {"active": True, "token_type": "Bearer"} | {
            k: found.claims[k] for k in keep if k in found.claims
        }

    async def revoke(self, client: OAuthClient, token: str) -> None:
        """RFC 7009 2.1: an invalid or unknown token is not an error; another client's is."""
        try:
            found = await self.verify(token)
        except Unauthorized:
            return
        if found.client_id != client.client_id:
            raise OAuthError("unauthorized_client", "The token was not issued to this client")

        async def write(conn: AsyncConnection) -> None:
            await oauth.insert_revoked(conn, found.jti, found.expires_at)
            await oauth.notify_changed(conn, found.jti)

        await self._store.write(write)
        self.forget()

    # Signing keys

    async def rotate_key(self) -> str:
        """Make a new signing key current; the others verify one token lifetime more."""
        now = self._clock()
        row = _new_key_row(now, self._store.keyring)

        async def write(conn: AsyncConnection) -> None:
            await oauth.insert_signing_key(conn, row)
            await oauth.retire_signing_keys(conn, except_kid=row["kid"], now=now)
            await oauth.delete_retired_keys(conn, before=now - self.lifetime)
            await oauth.purge_revoked(conn, before=now)

        await self._store.write(write)
        return str(row["kid"])

    async def jwks(self) -> dict[str, Any]:
        """Every key a valid token may be signed by: the current one and those retired less
        than a token lifetime ago (RFC 7517 key set, public parts only)."""
        async with self._store.read() as conn:
            rows = await oauth.select_signing_keys(conn, since=self._clock() - self.lifetime)
        keys = [
            _import(r, self._store.keyring).as_dict(private=False)
            | {"use": "sig", "alg": ALGORITHM}
            for r in rows
        ]
        return {"keys": keys}

    async def _signing_key(self) -> tuple[str, ECKey]:
        async with self._store.read() as conn:
            rows = await oauth.select_signing_keys(conn, since=self._clock())
        current = next((r for r in rows if r["retired_at"] is None), None)
        if current is None:
            await self.rotate_key()  # the first token: make the first key
            return await self._signing_key()
        return str(current["kid"]), _import(current, self._store.keyring)

    async def _verifying_key(self, kid: str) -> KeySet:
        key = self._verifying.get(kid)
        if key is None and kid:
            async with self._store.read() as conn:
                row = await oauth.get_signing_key(conn, kid)
            if row is not None:
                key = ECKey.import_key(_import(row, self._store.keyring).as_dict(private=False))
                self._verifying[kid] = key
        if key is None:
            raise Unauthorized(INVALID_TOKEN)
        return KeySet([key])


def _new_key_row(now: float, keyring: Keyring) -> dict[str, Any]:
    kid = secrets.token_hex(8)
    key = ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)
    pem = key.as_pem(private=True)
    return {
        "kid": kid,
        "private_pem": keyring.seal(
            pem.decode() if isinstance(pem, bytes) else pem, oauth_place(kid)
        ),
        "created_at": now,
        "retired_at": None,
    }


def _import(row: dict[str, Any], keyring: Keyring) -> ECKey:
    pem = keyring.open(row["private_pem"], oauth_place(row["kid"]))
    return ECKey.import_key(pem, parameters={"kid": row["kid"]})
