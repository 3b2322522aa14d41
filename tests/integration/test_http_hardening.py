"""HTTP hardening: bodies over the size limit are refused early, and the listener serves HTTPS
when a certificate is configured."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from mailwright.api import MAX_BODY_BYTES
from mailwright.app import Runtime
from mailwright.cli import http_config
from mailwright.config import Settings
from mailwright.errors import ConfigError
from tests.conftest import API_KEY
from tests.e2e.conftest import free_port
from tests.support.smtp import tls_materials

MIB = 1024 * 1024


async def test_declared_oversize_body_is_refused_without_reading_it(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(30):
            sent += 1
            yield b"x" * MIB

    response = await client.post(
        f"/v3/{sandbox}/messages",
        content=body(),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "content-length": str(30 * MIB),
        },
    )
    assert response.status_code == 413
    assert "too large" in response.json()["message"]
    assert sent <= 1  # answered from the headers


async def test_undeclared_oversize_body_is_refused_once_past_the_limit(
    client: httpx.AsyncClient, sandbox: str
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:  # no length: sent chunked
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="message"; filename="m.eml"\r\n\r\n'
        for _ in range(40):
            sent += 1
            yield b"x" * MIB

    response = await client.post(
        f"/v3/{sandbox}/messages.mime",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert "too large" in response.json()["message"]
    assert sent <= MAX_BODY_BYTES // MIB + 2  # stopped soon after the limit, not at 40 MiB


async def test_body_at_the_limit_is_read(client: httpx.AsyncClient, sandbox: str) -> None:
    """A 25 MB message in a form is under the limit: it reaches the handler (which answers
    about the form itself, not the size)."""
    attachment = b"a" * (25 * 1000 * 1000)
    response = await client.post(
        f"/v3/{sandbox}/messages",
        data={"from": "me@example.com", "to": "a@example.com", "text": "x"},
        files={"attachment": ("big.bin", attachment)},
    )
    assert response.status_code != 413, response.text


@contextlib.asynccontextmanager
async def serving_http(runtime: Runtime, settings: Settings) -> AsyncIterator[None]:
    server = uvicorn.Server(http_config(runtime.app, settings))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "uvicorn stopped while starting"
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task


async def test_listener_serves_https_with_the_configured_certificate(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    _, leaf, trusting = tls_materials()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    port = free_port()
    https = settings.with_changes(
        http_addr=("127.0.0.1", port),
        http_tls_cert_file=cert,
        http_tls_key_file=key,
        public_url="",
    )
    assert https.effective_public_url == f"https://127.0.0.1:{port}"
    async with serving_http(runtime, https):
        async with httpx.AsyncClient(verify=trusting) as secure:
            response = await secure.get(f"https://127.0.0.1:{port}/healthz")
            assert response.json() == {"status": "ok"}
            # uvicorn's own X-Forwarded-For handling (trusting loopback) is off: without
            # MAILWRIGHT_TRUSTED_PROXIES a client cannot claim another address.
            created = await secure.post(
                f"https://127.0.0.1:{port}/v1/keys",
                data={"role": "admin", "allowed_ips": "203.0.113.0/24"},
                auth=("api", API_KEY),
            )
            limited = ("api", created.json()["key"]["secret"])
            claimed = await secure.get(
                f"https://127.0.0.1:{port}/v4/domains",
                auth=limited,
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
            assert claimed.status_code == 401
        async with httpx.AsyncClient() as plain:
            with pytest.raises(httpx.TransportError):
                await plain.get(f"http://127.0.0.1:{port}/healthz")


def test_tls_certificate_and_key_go_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HTTP_TLS_CERT_FILE and MAILWRIGHT_HTTP_TLS_KEY_FILE"):
        Settings.from_env(environ={"MAILWRIGHT_HTTP_TLS_CERT_FILE": str(tmp_path / "c.pem")})
