"""ID token checks, discovery documents and PKCE of the dashboard's OpenID Connect client."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from mailwright.auth.oidc import ProviderMetadata, pkce_pair, validate_id_token
from mailwright.errors import SsoRefused, SsoUnavailable

ISSUER = "https://login.example.com"
CLIENT = "mailwright"
NONCE = "n-0S6_WzA2Mj"
NOW = 1_800_000_000
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})
KEYS = KeySet([KEY])


def claims(**changes: Any) -> dict[str, Any]:
    base = {
        "iss": ISSUER,
        "aud": CLIENT,
        "sub": "248289761001",
        "exp": NOW + 300,
        "iat": NOW,
        "nonce": NONCE,
        "email": "ada@example.com",
    }
    return {k: v for k, v in (base | changes).items() if v is not None}


def signed(payload: dict[str, Any], key: Any = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": "k1"}, payload, key, algorithms=[alg])


def check(token: str) -> str:
    identity = validate_id_token(
        token,
        KEYS,
        issuer=ISSUER,
        client_id=CLIENT,
        nonce=NONCE,
        algorithms=("RS256",),
        now=NOW,
    )
    return identity.subject


def test_a_valid_id_token_gives_its_subject_and_claims() -> None:
    assert check(signed(claims())) == "248289761001"
    assert check(signed(claims(aud=[CLIENT, "other"], azp=CLIENT))) == "248289761001"


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(claims(iss="https://evil.example.com"), id="other issuer"),
        pytest.param(claims(aud="another-client"), id="other audience"),
        pytest.param(claims(aud=["another-client", "x"]), id="other audiences"),
        pytest.param(claims(aud=[CLIENT, "other"]), id="several audiences without azp"),
        pytest.param(claims(aud=[CLIENT, "other"], azp="other"), id="azp of another client"),
        pytest.param(claims(exp=NOW - 120), id="expired"),
        pytest.param(claims(nonce="replayed"), id="other nonce"),
        pytest.param(claims(nonce=None), id="no nonce"),
        pytest.param(claims(sub=None), id="no subject"),
        pytest.param(claims(sub="s" * 256), id="subject over 255 characters"),
        pytest.param(claims(iat=None), id="no iat"),
    ],
)
def test_a_wrong_claim_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(SsoRefused, match="ID token is not valid"):
        check(signed(payload))


def test_clock_skew_within_the_leeway_is_accepted() -> None:
    assert check(signed(claims(exp=NOW - 30)))


def test_a_signature_by_another_key_is_refused() -> None:
    with pytest.raises(SsoRefused, match="not valid"):
        check(signed(claims(), key=OTHER_KEY))


def test_hmac_and_unsigned_tokens_are_refused() -> None:
    secret = OctKey.import_key(b"the-client-secret-of-32-bytes!!!")
    with pytest.raises(SsoRefused):
        check(signed(claims(), key=secret, alg="HS256"))
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = signed(claims()).split(".")[1]
    with pytest.raises(SsoRefused):
        check(f"{header}.{body}.")


def test_a_garbled_token_is_refused() -> None:
    with pytest.raises(SsoRefused):
        check("not-a-jwt")


def document(**changes: Any) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/authorize",
        "token_endpoint": ISSUER + "/token",
        "jwks_uri": ISSUER + "/jwks",
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
    } | changes


def test_discovery_keeps_asymmetric_algorithms_and_the_auth_method() -> None:
    metadata = ProviderMetadata.from_document(ISSUER, document())
    assert metadata.algorithms == ("RS256",)
    assert metadata.uses_basic_auth
    posting = document(token_endpoint_auth_methods_supported=["client_secret_post"])
    assert not ProviderMetadata.from_document(ISSUER, posting).uses_basic_auth


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (document(issuer="https://other.example.com"), "names issuer"),
        (document(token_endpoint=None), "no token_endpoint"),
        (document(jwks_uri="file:///etc/passwd"), "no jwks_uri"),
        (document(id_token_signing_alg_values_supported=["HS256"]), "no algorithm"),
        (["not", "an", "object"], "not JSON"),
    ],
)
def test_a_bad_discovery_document_is_refused(doc: object, message: str) -> None:
    with pytest.raises(SsoUnavailable, match=message):
        ProviderMetadata.from_document(ISSUER, doc)


def test_pkce_challenge_is_the_s256_of_a_long_verifier() -> None:
    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128  # RFC 7636 4.1
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pkce_pair()[0] != verifier
