"""OAuth 2.0: the token endpoint (client-credentials grant), introspection, revocation, the
JWKS, and the clients (``/mailwright/v1/oauth/clients``).

The three client-authenticated endpoints answer errors as RFC 6749 5.2
(``{"error", "error_description"}``, see ``api/errors.py``); the clients endpoints answer
Mailgun-style ``{"message"}`` like every other API route.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mailwright.api.context import Form, json_response, path_param, principal, read_form, services
from mailwright.auth import OAuthClient, Principal, client_json
from mailwright.errors import Forbidden, InvalidInput, OAuthError

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 5.1
CLIENTS = "/mailwright/v1/oauth/clients"


def _no_store(body: object) -> Response:
    return JSONResponse(body, headers=NO_STORE)


async def _form(request: Request) -> Form:
    try:
        return await read_form(request)
    except InvalidInput as exc:
        raise OAuthError("invalid_request", exc.message) from None


def _basic_client(header: str) -> tuple[str, str]:
    """RFC 6749 2.3.1: ``Basic base64(urlencoded(client_id):urlencoded(client_secret))``."""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "Malformed Basic authorization header") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "Malformed Basic authorization header")
    return unquote_plus(client_id), unquote_plus(secret)


async def _client(request: Request, form: Form) -> OAuthClient:
    """The client, authenticated by HTTP Basic or by ``client_id``/``client_secret`` fields
    (RFC 6749 2.3.1: not both)."""
    header = request.headers.get("authorization") or ""
    form_secret = form.get("client_secret")
    if header.lower().startswith("basic "):
        if form_secret is not None:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        client_id, secret = _basic_client(header)
    elif form.get("client_id") and form_secret:
        client_id, secret = form.get("client_id") or "", form_secret
    else:
        raise OAuthError("invalid_client", "Client authentication is required")
    return await services(request).oauth.authenticate_client(client_id, secret)


async def token(request: Request) -> Response:
    """Issue an access token (RFC 6749 4.4): form `grant_type=client_credentials`, optional
    `scope` (a subset of the client's); the client authenticates by HTTP Basic or
    `client_id`/`client_secret`. Answers `access_token` (an ES256 JWT), `token_type`,
    `expires_in`, `scope`."""
    form = await _form(request)
    grant = form.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "'grant_type' parameter is missing")
    client = await _client(request, form)
    if grant != "client_credentials":
        raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported")
    return _no_store(await services(request).oauth.issue(client, form.get("scope")))


def _token_param(form: Form) -> str:
    value = form.get("token")
    if not value:
        raise OAuthError("invalid_request", "'token' parameter is missing")
    return value


async def introspect(request: Request) -> Response:
    """Introspect an access token (RFC 7662), client-authenticated: form `token`. A client sees
    only its own tokens; anything else is `{"active": false}`."""
    form = await _form(request)
    client = await _client(request, form)
    return _no_store(await services(request).oauth.introspect(client, _token_param(form)))


async def revoke(request: Request) -> Response:
    """Revoke an access token (RFC 7009), client-authenticated: form `token`. The API refuses
    it from now on; an unknown or invalid token is not an error."""
    form = await _form(request)
    client = await _client(request, form)
    await services(request).oauth.revoke(client, _token_param(form))
    return _no_store({})


async def jwks(request: Request) -> Response:
    """The public keys access tokens are signed with (RFC 7517 JWK set): the current key and
    keys retired less than a token lifetime ago."""
    return JSONResponse(await services(request).oauth.jwks())


async def _admin(request: Request) -> Principal:
    who = await principal(request)
    who.require_account(write=True)
    if who.role != "admin":
        raise Forbidden("Only admin keys may manage OAuth clients")
    return who


async def list_clients(request: Request) -> Response:
    """List OAuth clients (`client_id`, `scope`, `domain`, `environment`); secrets are never
    shown again."""
    await _admin(request)
    clients = await services(request).oauth.list_clients()
    return json_response({"total_count": len(clients), "items": [client_json(c) for c in clients]})


async def create_client(request: Request) -> Response:
    """Create an OAuth client: `scope` (space-separated `send`, `read`, `manage`), optional
    `domain` (sending for that domain only; `send` scope only), `environment` (`live` or
    `test`), `description`. The `client_secret` is shown only in this answer."""
    who = await _admin(request)
    form = await read_form(request)
    environment = form.get("environment") or "live"
    if who.is_test and environment != "test":
        raise Forbidden("A test credential may only create test clients")
    client, secret = await services(request).oauth.create_client(
        scope=form.get("scope") or "",
        domain_name=form.get("domain") or None,
        environment=environment,
        description=form.get("description") or "",
    )
    return json_response({"message": "OAuth client created", "client": client_json(client, secret)})


async def delete_client(request: Request) -> Response:
    """Delete an OAuth client; the tokens it was issued are refused from now on."""
    await _admin(request)
    await services(request).oauth.delete_client(path_param(request, "client_id"))
    return json_response({"message": "OAuth client deleted"})


ROUTES = [
    Route("/oauth/token", token, methods=["POST"]),
    Route("/oauth/introspect", introspect, methods=["POST"]),
    Route("/oauth/revoke", revoke, methods=["POST"]),
    Route("/oauth/jwks.json", jwks, methods=["GET"]),
    Route(CLIENTS, list_clients, methods=["GET"]),
    Route(CLIENTS, create_client, methods=["POST"]),
    Route(CLIENTS + "/{client_id}", delete_client, methods=["DELETE"]),
]
