"""A real OpenID Connect provider on loopback: ``oidc-provider-mock`` (authlib on Flask, in a
thread), behind a WSGI recorder that keeps the authorization and token requests it received, so
tests can check what our client sent (the PKCE verifier, the client's authentication).

The provider signs ID tokens with its own RSA key and serves discovery and JWKS; its
authorization form takes the ``sub`` to sign in as (POST ``sub=...``, or ``action=deny``).
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import make_server

# From inside the provider package, while it serves (authlib 1.9 deprecates what it calls).
PROVIDER_WARNINGS = ("ignore:get_jwt_config:DeprecationWarning",)


@dataclass
class Recorded:
    """One request the provider received: path, query and form fields, and the headers."""

    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class Provider:
    issuer: str
    requests: list[Recorded] = field(default_factory=list)

    def received(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]


def _recorder(app: Callable[..., Any], provider: Provider) -> Callable[..., Any]:
    def record(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        is_form = environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
        headers = {k[5:].lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        provider.requests.append(
            Recorded(
                path=environ["PATH_INFO"],
                query=parse_qs(environ.get("QUERY_STRING", "")),
                form=parse_qs(body.decode()) if is_form else {},
                headers=headers,
            )
        )
        result: Iterable[bytes] = app(environ, start_response)
        return result

    return record


@contextmanager
def run_provider(users: dict[str, dict[str, object]]) -> Iterator[Provider]:
    """The provider on ``localhost`` (its issuer names the Host it is reached by), with
    ``users`` (sub -> claims) predefined."""
    with warnings.catch_warnings():
        import authlib.deprecate  # noqa: F401  (its import adds an "always" filter; ours goes first)

        warnings.filterwarnings("ignore", "authlib.jose module is deprecated", DeprecationWarning)
        import oidc_provider_mock

    app = oidc_provider_mock.app(
        require_nonce=True,
        user_claims=[oidc_provider_mock.User(sub=s, claims=c) for s, c in users.items()],
    )
    server = make_server("localhost", 0, app, threaded=True)
    provider = Provider(issuer=f"http://localhost:{server.server_port}")
    server.app = _recorder(server.app, provider)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()
