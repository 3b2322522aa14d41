"""Dashboard single sign-on: an OpenID Connect relying party (authorization code flow + PKCE).

``begin`` stores a login under way (state, nonce, PKCE verifier, where to go after) and answers
the provider's authorization URL; ``finish`` takes that login back once (so a replayed callback
finds nothing), exchanges the code with the verifier, and validates the ID token: signature
against the provider's JWKS, ``iss``, ``aud`` (and ``azp``), ``exp``, ``iat`` and ``nonce``
(OpenID Connect Core 3.1.3.7). The provider's metadata comes from discovery and is cached.
Only the SHA-256 of a state is stored.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from mailwright.errors import SsoRefused, SsoUnavailable
from mailwright.logs import get_logger
from mailwright.store import Store
from mailwright.store import dashboard as sql

log = get_logger(__name__)

LOGIN_SECONDS = 600.0  # how long a started SSO login may take at the provider
METADATA_SECONDS = 3600.0  # discovery and JWKS are fetched again after this
CLOCK_LEEWAY = 60  # seconds of clock skew allowed on exp and iat
HTTP_TIMEOUT = 10.0
# Asymmetric signatures only: "none" and HMAC with the client secret are never accepted.
ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str  # empty for a public client
    scopes: tuple[str, ...]
    redirect_uri: str  # <public URL>/login/oidc/callback


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The fields of the discovery document we use."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    uses_basic_auth: bool  # client_secret_basic (the default) rather than client_secret_post

    @classmethod
    def from_document(cls, issuer: str, document: object) -> ProviderMetadata:
        if not isinstance(document, dict):
            raise SsoUnavailable("The identity provider's discovery document is not JSON")
        if document.get("issuer") != issuer:  # OpenID Connect Discovery 4.3
            raise SsoUnavailable(
                f"The identity provider's discovery names issuer {document.get('issuer')!r}, "
                f"not {issuer!r}"
            )
        urls = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(name)
            if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
                raise SsoUnavailable(f"The identity provider's discovery has no {name}")
            urls[name] = value
        offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in offered if a in ALGORITHMS)
        if not algorithms:
            raise SsoUnavailable(
                "The identity provider signs ID tokens with no algorithm we accept"
            )
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        return cls(
            **urls,
            algorithms=algorithms,
            uses_basic_auth="client_secret_basic" in methods or "client_secret_post" not in methods,
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in: the validated ID token's claims."""

    issuer: str
    subject: str
    claims: dict[str, Any]


def pkce_pair() -> tuple[str, str]:
    """A PKCE ``(code_verifier, code_challenge)`` with method S256 (RFC 7636 4.1, 4.2)."""
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def validate_id_token(
    id_token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    algorithms: tuple[str, ...],
    now: float,
) -> Identity:
    """The identity in ``id_token`` once its signature and claims check out; else SsoRefused."""
    try:
        token = jwt.decode(id_token, keys, algorithms=list(algorithms))
        jwt.JWTClaimsRegistry(
            now=int(now),
            leeway=CLOCK_LEEWAY,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise SsoRefused(f"The identity provider's ID token is not valid ({exc})") from None
    claims = dict(token.claims)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SsoRefused("The identity provider's ID token is not valid (azp)")
    if not isinstance(claims["sub"], str) or len(claims["sub"]) > 255:  # Core 2: at most 255
        raise SsoRefused("The identity provider's ID token is not valid (sub)")
    return Identity(issuer=issuer, subject=claims["sub"], claims=claims)


class OidcClient:
    """The relying party for one provider; logins under way are kept in the database, so any
    process may handle the callback."""

    def __init__(
        self,
        config: OidcConfig,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._store = store
        self._clock = clock
        self._transport = transport
        self._metadata: tuple[float, ProviderMetadata] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, transport=self._transport, follow_redirects=False
        )

    async def _get_json(self, url: str, what: str) -> Any:
        try:
            async with self._http() as http:
                response = await http.get(url, headers={"accept": "application/json"})
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("sso_provider_unreachable", url=url, error=str(exc))
            raise SsoUnavailable(f"The identity provider's {what} could not be read") from None

    async def metadata(self) -> ProviderMetadata:
        now = self._clock()
        if self._metadata is not None and self._metadata[0] > now:
            return self._metadata[1]
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        found = ProviderMetadata.from_document(
            self.config.issuer, await self._get_json(url, "discovery document")
        )
        self._metadata = (now + METADATA_SECONDS, found)
        return found

    async def _key_set(self, metadata: ProviderMetadata, *, refresh: bool = False) -> KeySet:
        now = self._clock()
        if not refresh and self._keys is not None and self._keys[0] > now:
            return self._keys[1]
        document = await self._get_json(metadata.jwks_uri, "signing keys")
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, KeyError, TypeError):
            raise SsoUnavailable("The identity provider's signing keys could not be read") from None
        self._keys = (now + METADATA_SECONDS, keys)
        return keys

    async def begin(self, next_path: str) -> tuple[str, str]:
        """Start a login; returns its state (for the browser's cookie) and the URL of the
        provider's authorization endpoint to send the browser to."""
        metadata = await self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, challenge = pkce_pair()
        now = self._clock()
        row = {
            "state_hash": _state_hash(state),
            "nonce": nonce,
            "code_verifier": verifier,
            "next_path": next_path,
            "expires_at": now + LOGIN_SECONDS,
        }
        await self._store.write(lambda conn: sql.insert_sso_login(conn, row, now))
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": self.config.redirect_uri,
                "scope": " ".join(self.config.scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in metadata.authorization_endpoint else "?"
        return state, metadata.authorization_endpoint + separator + query

    async def abandon(self, state: str) -> None:
        """Forget a login the provider refused."""
        now = self._clock()
        await self._store.write(lambda conn: sql.take_sso_login(conn, _state_hash(state), now))

    async def finish(self, state: str, code: str) -> tuple[Identity, str]:
        """The identity and the path to go to, for the callback with ``state`` and ``code``.
        The login is used up whatever the outcome."""
        now = self._clock()
        login = await self._store.write(
            lambda conn: sql.take_sso_login(conn, _state_hash(state), now)
        )
        if login is None:
            raise SsoRefused("This sign-in has expired or was already used; please try again.")
        metadata = await self.metadata()
        id_token = await self._exchange(metadata, code, login["code_verifier"])
        identity = await self._validate(metadata, id_token, login["nonce"])
        return identity, login["next_path"]

    async def _exchange(self, metadata: ProviderMetadata, code: str, verifier: str) -> str:
        """The ID token the token endpoint answers for ``code`` (RFC 6749 4.1.3, RFC 7636 4.5)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"accept": "application/json"}
        if self.config.client_secret and metadata.uses_basic_auth:
            # RFC 6749 2.3.1: both parts form-encoded before Basic.
            pair = ":".join(
                quote(v, safe="") for v in (self.config.client_id, self.config.client_secret)
            )
            headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.config.client_id
            if self.config.client_secret:
                form["client_secret"] = self.config.client_secret
        try:
            async with self._http() as http:
                response = await http.post(metadata.token_endpoint, data=form, headers=headers)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("sso_provider_unreachable", url=metadata.token_endpoint, error=str(exc))
            raise SsoUnavailable("The identity provider's token endpoint did not answer") from None
        if response.status_code != 200 or not isinstance(answer, dict):
            error = answer.get("error") if isinstance(answer, dict) else None
            log.warning("sso_code_refused", status=response.status_code, error=error)
            raise SsoRefused(f"The identity provider refused the sign-in code ({error}).")
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise SsoRefused("The identity provider answered no ID token.")
        return id_token

    async def _validate(self, metadata: ProviderMetadata, id_token: str, nonce: str) -> Identity:
        def check(keys: KeySet) -> Identity:
            return validate_id_token(
                id_token,
                keys,
                issuer=self.config.issuer,
                client_id=self.config.client_id,
                nonce=nonce,
                algorithms=metadata.algorithms,
                now=self._clock(),
            )

        try:
            return check(await self._key_set(metadata))
        except SsoRefused:
            # The provider may have rotated its keys since we fetched them: one more try.
            return check(await self._key_set(metadata, refresh=True))
