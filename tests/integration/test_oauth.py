"""OAuth 2.0 for the API: clients, the client-credentials token endpoint (RFC 6749 4.4), Bearer
access tokens on every endpoint, introspection (RFC 7662), revocation (RFC 7009), signing key
rotation and the JWKS; with httpx and with authlib's OAuth 2.0 client."""

from __future__ import annotations

import base64
import json
import time

import httpx
import httpx2
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from mailwright.app import Runtime, build_runtime
from mailwright.auth import Authority
from mailwright.config import Settings
from mailwright.errors import Unauthorized
from mailwright.store import Store, schema
from tests.conftest import API_KEY
from tests.support.wait import wait_until

SEND = {"from": "me@example.com", "to": "a@example.com", "text": "x"}
CLIENTS = "/mailwright/v1/oauth/clients"


async def new_client(client: httpx.AsyncClient, scope: str, **extra: str) -> tuple[str, str]:
    response = await client.post(CLIENTS, data={"scope": scope, **extra})
    assert response.status_code == 200, response.text
    created = response.json()["client"]
    return created["client_id"], created["client_secret"]


async def get_token(
    client: httpx.AsyncClient, client_id: str, secret: str, **form: str
) -> httpx.Response:
    return await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", **form},
        auth=(client_id, secret),
    )


async def bearer(client: httpx.AsyncClient, scope: str, **extra: str) -> dict[str, str]:
    client_id, secret = await new_client(client, scope, **extra)
    response = await get_token(client, client_id, secret)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def segments(token: str) -> list[dict]:
    head, payload, _ = token.split(".")
    return [json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in (head, payload)]


async def test_token_flow_with_httpx(client: httpx.AsyncClient, sandbox: str) -> None:
    client_id, secret = await new_client(client, "send read", description="ci")
    response = await get_token(client, client_id, secret)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "read send"
    token = body["access_token"]

    # The signature checks out against the published JWKS, with RFC 9068's header and claims.
    keys = KeySet.import_key_set((await client.get("/oauth/jwks.json", auth=None)).json())
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["kid"] in {k["kid"] for k in keys.as_dict()["keys"]}
    claims = decoded.claims
    assert claims["iss"] == "http://testserver"
    assert claims["aud"] == "http://testserver"
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["scope"] == "read send"
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["jti"]

    auth = {"Authorization": f"Bearer {token}"}
    sent = await client.post(f"/v3/{sandbox}/messages", data=SEND, headers=auth, auth=None)
    assert sent.status_code == 200, sent.text
    events = await client.get(f"/v3/{sandbox}/events", headers=auth, auth=None)
    assert events.status_code == 200
    manage = await client.post("/v4/domains", data={"name": "x.example"}, headers=auth, auth=None)
    assert manage.status_code == 403


async def test_client_secret_in_the_form(client: httpx.AsyncClient) -> None:
    client_id, secret = await new_client(client, "read")
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = await client.post("/oauth/token", data=form, auth=None)
    assert response.status_code == 200, response.text
    both = await client.post("/oauth/token", data=form, auth=(client_id, secret))
    assert both.status_code == 400
    assert both.json()["error"] == "invalid_request"


async def test_secrets_are_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, store: Store
) -> None:
    _, secret = await new_client(client, "read")
    listing = (await client.get(CLIENTS)).json()
    assert listing["total_count"] == 1
    assert "client_secret" not in listing["items"][0]
    async with store.read() as conn:
        rows = (await conn.exec_driver_sql("SELECT secret_hash FROM oauth_clients")).all()
    assert secret not in {r[0] for r in rows}


@pytest.mark.parametrize(
    ("form", "use_secret", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, "wrong", 401, "invalid_client"),
        ({"grant_type": "password"}, None, 400, "unsupported_grant_type"),
        ({}, None, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "scope": "manage"}, None, 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": "root"}, None, 400, "invalid_scope"),
    ],
)
async def test_token_endpoint_errors_follow_rfc_6749(
    client: httpx.AsyncClient, form: dict, use_secret: str | None, status: int, error: str
) -> None:
    client_id, secret = await new_client(client, "send")
    response = await client.post("/oauth/token", data=form, auth=(client_id, use_secret or secret))
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert response.headers["cache-control"] == "no-store"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_unauthenticated_and_unknown_clients_are_invalid_client(
    client: httpx.AsyncClient,
) -> None:
    form = {"grant_type": "client_credentials"}
    nobody = await client.post("/oauth/token", data=form, auth=None)
    unknown = await client.post("/oauth/token", data=form, auth=("mwc_nobody", "secret"))
    for response in (nobody, unknown):
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"


async def test_send_token_cannot_manage_or_read(client: httpx.AsyncClient, sandbox: str) -> None:
    auth = await bearer(client, "send")
    listed = await client.get("/v4/domains", headers=auth, auth=None)
    assert listed.status_code == 403
    assert listed.json() == {"message": "This token's scope allows sending messages only"}
    new_key = await client.post("/v1/keys", data={"role": "admin"}, headers=auth, auth=None)
    assert new_key.status_code == 403
    assert (await client.get(CLIENTS, headers=auth, auth=None)).status_code == 403
    sent = await client.post(f"/v3/{sandbox}/messages", data=SEND, headers=auth, auth=None)
    assert sent.status_code == 200


async def test_read_token_cannot_send_or_write(client: httpx.AsyncClient, sandbox: str) -> None:
    auth = await bearer(client, "read")
    assert (await client.get("/v4/domains", headers=auth, auth=None)).status_code == 200
    sent = await client.post(f"/v3/{sandbox}/messages", data=SEND, headers=auth, auth=None)
    assert sent.status_code == 403
    assert sent.json() == {"message": "This token's scope does not allow sending messages"}
    created = await client.post("/v4/domains", data={"name": "y.example"}, headers=auth, auth=None)
    assert created.status_code == 403
    assert created.json() == {
        "message": "This token's scope does not allow changes (it needs manage)"
    }


async def test_manage_token_manages(client: httpx.AsyncClient) -> None:
    auth = await bearer(client, "manage")
    created = await client.post("/v4/domains", data={"name": "z.example"}, headers=auth, auth=None)
    assert created.status_code == 200, created.text
    assert (await client.get(CLIENTS, headers=auth, auth=None)).status_code == 200


async def test_domain_bound_token_sends_for_its_domain_only(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    await client.post("/v4/domains", data={"name": "other.example"})
    auth = await bearer(client, "send", domain=sandbox)
    own = await client.post(f"/v3/{sandbox}/messages", data=SEND, headers=auth, auth=None)
    assert own.status_code == 200
    other = await client.post("/v3/other.example/messages", data=SEND, headers=auth, auth=None)
    assert other.status_code == 403
    assert other.json() == {"message": f"This key may only be used for domain {sandbox}"}


async def test_client_creation_is_validated(client: httpx.AsyncClient, sandbox: str) -> None:
    for form, status in [
        ({"scope": "root"}, 400),
        ({}, 400),
        ({"scope": "send", "environment": "staging"}, 400),
        ({"scope": "read", "domain": sandbox}, 400),
        ({"scope": "send", "domain": "nowhere.example"}, 404),
    ]:
        response = await client.post(CLIENTS, data=form)
        assert response.status_code == status, (form, response.text)
        assert response.json()["message"]


async def test_expired_token_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, sandbox: str
) -> None:
    client_id, secret = await new_client(client, "send")
    # The same authority, an hour in the past: its token expired 45 minutes ago.
    past = Authority(runtime.store, issuer="http://testserver", clock=lambda: time.time() - 3600)
    issued = await past.issue(await past.authenticate_client(client_id, secret), None)
    auth = {"Authorization": f"Bearer {issued['access_token']}"}
    response = await client.post(f"/v3/{sandbox}/messages", data=SEND, headers=auth, auth=None)
    assert response.status_code == 401
    assert response.json() == {"message": "Access token expired"}
    introspected = await client.post(
        "/oauth/introspect", data={"token": issued["access_token"]}, auth=(client_id, secret)
    )
    assert introspected.json() == {"active": False}


async def test_revoked_token_is_refused(client: httpx.AsyncClient, sandbox: str) -> None:
    client_id, secret = await new_client(client, "send")
    token = (await get_token(client, client_id, secret)).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert (
        await client.post(f"/v3/{sandbox}/messages", data=SEND, headers=auth, auth=None)
    ).status_code == 200

    other_id, other_secret = await new_client(client, "send")
    foreign = await client.post(
        "/oauth/revoke", data={"token": token}, auth=(other_id, other_secret)
    )
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "unauthorized_client"

    for _ in range(2):  # revoking twice is fine (RFC 7009 2.2)
        revoked = await client.post(
            "/oauth/revoke", data={"token": token}, auth=(client_id, secret)
        )
        assert revoked.status_code == 200
    response = await client.post(f"/v3/{sandbox}/messages", data=SEND, headers=auth, auth=None)
    assert response.status_code == 401
    assert response.json() == {"message": "Access token revoked"}
    introspected = await client.post(
        "/oauth/introspect", data={"token": token}, auth=(client_id, secret)
    )
    assert introspected.json() == {"active": False}
    garbage = await client.post("/oauth/revoke", data={"token": "x.y.z"}, auth=(client_id, secret))
    assert garbage.status_code == 200


async def test_deleting_the_client_refuses_its_tokens(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    client_id, secret = await new_client(client, "read")
    token = (await get_token(client, client_id, secret)).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v4/domains", headers=auth, auth=None)).status_code == 200
    assert (await client.delete(f"{CLIENTS}/{client_id}")).status_code == 200
    assert (await client.get("/v4/domains", headers=auth, auth=None)).status_code == 401
    assert (await client.delete(f"{CLIENTS}/{client_id}")).status_code == 404
    assert (await get_token(client, client_id, secret)).status_code == 401


async def test_introspection(client: httpx.AsyncClient) -> None:
    client_id, secret = await new_client(client, "send read")
    token = (await get_token(client, client_id, secret, scope="read")).json()["access_token"]
    response = await client.post(
        "/oauth/introspect", data={"token": token}, auth=(client_id, secret)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True
    assert body["scope"] == "read"
    assert body["client_id"] == body["sub"] == client_id
    assert body["token_type"] == "Bearer"
    assert body["exp"] > time.time()
    other_id, other_secret = await new_client(client, "read")
    theirs = await client.post(
        "/oauth/introspect", data={"token": token}, auth=(other_id, other_secret)
    )
    assert theirs.json() == {"active": False}
    missing = await client.post("/oauth/introspect", data={}, auth=(client_id, secret))
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_tampered_and_forged_tokens_are_refused(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    client_id, secret = await new_client(client, "send")
    token = (await get_token(client, client_id, secret)).json()["access_token"]
    head, payload, signature = token.split(".")
    header, claims = segments(token)
    forged = [
        # The scope widened, the signature kept.
        f"{head}.{_b64(claims | {'scope': 'manage'})}.{signature}",
        # No signature at all.
        f"{_b64(header | {'alg': 'none'})}.{payload}.",
        # An unknown signing key.
        f"{_b64(header | {'kid': 'nope'})}.{payload}.{signature}",
        # A flipped signature byte.
        f"{head}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}",
        "not-a-token",
        "",
    ]
    for value in forged:
        auth = {"Authorization": f"Bearer {value}"}
        response = await client.get("/v4/domains", headers=auth, auth=None)
        assert response.status_code == 401, value
        assert response.json()["message"]
        assert response.headers["www-authenticate"].startswith("Bearer")
        sent = await client.post(f"/v3/{sandbox}/messages", data=SEND, headers=auth, auth=None)
        assert sent.status_code == 401


async def test_rotation_keeps_old_tokens_valid_until_they_expire(
    client: httpx.AsyncClient, runtime: Runtime, sandbox: str
) -> None:
    client_id, secret = await new_client(client, "send")
    old = (await get_token(client, client_id, secret)).json()["access_token"]
    new_kid = await runtime.services.oauth.rotate_key()
    new = (await get_token(client, client_id, secret)).json()["access_token"]
    old_kid = segments(old)[0]["kid"]
    assert segments(new)[0]["kid"] == new_kid != old_kid
    published = {k["kid"] for k in (await client.get("/oauth/jwks.json")).json()["keys"]}
    assert published == {old_kid, new_kid}
    for token in (old, new):
        auth = {"Authorization": f"Bearer {token}"}
        sent = await client.post(f"/v3/{sandbox}/messages", data=SEND, headers=auth, auth=None)
        assert sent.status_code == 200, sent.text

    # A token lifetime later every token of the old key has expired: it is no longer published,
    # and the next rotation deletes it (the key it retires is published one lifetime more).
    later = Authority(runtime.store, issuer="http://testserver", clock=lambda: time.time() + 901)
    assert {k["kid"] for k in (await later.jwks())["keys"]} == {new_kid}
    newest = await later.rotate_key()
    assert {k["kid"] for k in (await later.jwks())["keys"]} == {new_kid, newest}
    async with runtime.store.read() as conn:
        stored = (await conn.exec_driver_sql("SELECT kid FROM oauth_signing_keys")).all()
    assert {r[0] for r in stored} == {new_kid, newest}


async def test_authlib_client_credentials(runtime: Runtime, sandbox: str) -> None:
    transport = httpx.ASGITransport(app=runtime.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", auth=("api", API_KEY)
    ) as admin:
        client_id, secret = await new_client(admin, "send read")
    # authlib's client is built on httpx2 (the mailgun SDK's HTTP library) when it is installed.
    async with AsyncOAuth2Client(
        client_id=client_id,
        client_secret=secret,
        scope="send",
        token_endpoint_auth_method="client_secret_basic",
        transport=httpx2.ASGITransport(app=runtime.app),
        base_url="https://testserver",
    ) as oauth_client:
        token = await oauth_client.fetch_token(
            "https://testserver/oauth/token", grant_type="client_credentials"
        )
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "send"
        sent = await oauth_client.post(f"/v3/{sandbox}/messages", data=SEND)
        assert sent.status_code == 200, sent.text
        read = await oauth_client.get(f"/v3/{sandbox}/events")
        assert read.status_code == 403  # the token was asked for the send scope only


async def test_token_lifetime_follows_the_setting(
    settings: Settings, store: Store, runtime: Runtime
) -> None:
    # ``runtime`` made the primary key; a second API over the same store has the setting.
    shorter = settings.with_changes(oauth_token_seconds=120)
    runtime = build_runtime(shorter, frozenset({"api"}), store=store)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=runtime.app),
        base_url="http://testserver",
        auth=("api", API_KEY),
    ) as client:
        client_id, secret = await new_client(client, "read")
        body = (await get_token(client, client_id, secret)).json()
    assert body["expires_in"] == 120
    claims = segments(body["access_token"])[1]
    assert claims["exp"] - claims["iat"] == 120


async def test_a_manage_token_is_answered_like_the_admin_key_everywhere(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    """Every GET route of the API (path parameters filled with the sandbox domain) answers a
    `manage` token exactly as it answers the primary admin key."""
    auth = await bearer(client, "manage")
    document = (await client.get("/openapi.json")).json()
    checked = 0
    for path, ops in document["paths"].items():
        if "get" not in ops or "security" not in ops["get"]:
            continue
        params = set(path.replace("}", "{").split("{")[1::2])
        if params - {"domain", "name"}:
            continue
        url = path.replace("{domain}", sandbox).replace("{name}", sandbox)
        by_key = await client.get(url)
        by_token = await client.get(url, headers=auth, auth=None)
        assert by_token.status_code == by_key.status_code, (url, by_token.text)
        assert by_key.status_code not in (401, 403), url
        checked += 1
    assert checked > 20


async def test_a_cached_token_still_expires(store: Store) -> None:
    """Tokens are remembered for a few seconds, but their own expiry is checked on every use."""
    now = [1_000_000.0]
    authority = Authority(store, issuer="http://testserver", lifetime=60, clock=lambda: now[0])
    app, secret = await authority.create_client(scope="read")
    issued = await authority.issue(await authority.authenticate_client(app.client_id, secret), None)
    token = issued["access_token"]
    assert (await authority.principal(token)).role == "basic"
    async with store.engine.connect() as conn:
        found = await conn.execute(schema.oauth_clients.select())
        row = dict(found.one()._mapping)
    # A hit does not look at the database: a client deleted behind the authority's back (not
    # through it, which forgets at once) goes unseen until the cache forgets.
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("DELETE FROM oauth_clients")
    assert (await authority.principal(token)).role == "basic"
    authority.forget()
    with pytest.raises(Unauthorized, match="revoked"):
        await authority.principal(token)
    authority.forget()
    async with store.engine.begin() as conn:
        await conn.execute(schema.oauth_clients.insert(), [row])
    assert (await authority.principal(token)).role == "basic"
    now[0] += 61
    with pytest.raises(Unauthorized, match="Access token expired"):
        await authority.principal(token)


async def test_revocation_reaches_other_processes_at_once(postgres_database: str) -> None:
    """Two API processes, each with its own token cache: revoking a token through one makes
    the other refuse it within moments (PostgreSQL NOTIFY), not after the cache's seconds."""
    here = Store.from_url(postgres_database)
    there = Store.from_url(postgres_database, here.keyring)  # processes share the secret keys
    try:
        await here.migrate()
        async with here.engine.begin() as conn:  # signing keys other tests sealed with theirs
            await conn.exec_driver_sql("DELETE FROM oauth_signing_keys")
        authorities = [Authority(s, issuer="http://testserver") for s in (here, there)]
        for authority in authorities:
            await authority.start()
        app, secret = await authorities[0].create_client(scope="send")
        client = await authorities[0].authenticate_client(app.client_id, secret)
        token = (await authorities[0].issue(client, None))["access_token"]
        for authority in authorities:
            assert (await authority.principal(token)).role == "sending"
        await authorities[0].revoke(client, token)
        with pytest.raises(Unauthorized, match="revoked"):
            await authorities[0].principal(token)

        async def refused() -> bool:
            try:
                await authorities[1].principal(token)
            except Unauthorized:
                return True
            return False

        await wait_until(refused, within=2, interval=0.01)
    finally:
        await here.close()
        await there.close()
