"""The ``mailwright`` command as a user runs it: help, migrate, domains, keys, bad settings."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from mailwright.store import Store
from tests.e2e.conftest import StartServer, base_environment, free_port, run_cli

pytestmark = pytest.mark.e2e

DKIM_LINE = re.compile(r"^(\S+)\._domainkey\.example\.org\tTXT\t(k=rsa; )?p=[A-Za-z0-9+/=]{200,}$")


def ok(*args: str, env: dict[str, str]) -> str:
    result = run_cli(*args, env=env)
    assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
    return result.stdout


def one_error_line(*args: str, env: dict[str, str]) -> str:
    """Run a command that must fail; answer its single stderr line."""
    result = run_cli(*args, env=env, timeout=20)
    assert result.returncode != 0, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_help_describes_the_commands(tmp_path: Path) -> None:
    env = base_environment(tmp_path)
    top = ok("--help", env=env)
    for command in ("serve", "migrate", "domains", "keys", "oauth", "secrets"):
        assert command in top
    serve = ok("serve", "--help", env=env)
    for flag in ("--role", "--http-addr", "--data-dir", "--database-url", "--api-key"):
        assert flag in serve
    assert "MAILWRIGHT_HTTP_ADDR" in serve


def test_migrate_creates_the_schema_and_is_repeatable(tmp_path: Path) -> None:
    env = base_environment(tmp_path / "data")
    (tmp_path / "data").mkdir()
    assert ok("migrate", env=env).strip()
    assert list((tmp_path / "data").iterdir()), "migrate wrote nothing into the data dir"
    ok("migrate", env=env)
    assert ok("domains", "list", env=env).strip() == ""


def _records(output: str) -> list[str]:
    return [line for line in output.splitlines() if line and not line.startswith("#")]


def test_domains_add_list_records(tmp_path: Path) -> None:
    env = base_environment(tmp_path)
    added = _records(ok("domains", "add", "example.org", env=env))
    assert any(re.fullmatch(r"example\.org\tTXT\tv=spf1 .*", line) for line in added), added
    assert any(DKIM_LINE.match(line) for line in added), added
    assert any(re.fullmatch(r"example\.org\tMX \d+\t\S+", line) for line in added), added
    assert any(re.fullmatch(r"\S+\.example\.org\tCNAME\t\S+", line) for line in added), added

    listed = ok("domains", "list", env=env).splitlines()
    assert [line.split("\t")[0] for line in listed] == ["example.org"]

    assert _records(ok("domains", "records", "example.org", env=env)) == added
    error = one_error_line("domains", "records", "nope.example", env=env)
    assert "nope.example" in error


def test_created_key_authenticates_against_the_server(
    tmp_path: Path, start_server: StartServer
) -> None:
    server = start_server(data_dir=tmp_path / "shared")
    key = ok("keys", "create", env=server.env).strip()
    assert re.fullmatch(r"\S{20,}", key), key
    assert key != server.api_key
    with server.http(key) as http:
        response = http.get("/v4/domains")
    assert response.status_code == 200, response.text
    assert [d["name"] for d in response.json()["items"]] == [server.sandbox]
    with server.http("not-a-key") as http:
        assert http.get("/v4/domains").status_code == 401


def test_domain_sending_key_sends_but_cannot_manage(
    tmp_path: Path, start_server: StartServer
) -> None:
    server = start_server(data_dir=tmp_path / "shared")
    key = ok("keys", "create", "--domain", server.sandbox, env=server.env).strip()
    with server.http(key) as http:
        sent = http.post(
            f"/v3/{server.sandbox}/messages",
            data={"from": f"k@{server.sandbox}", "to": "r@example.com", "text": "hi"},
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["id"]
        forbidden = http.get("/v4/domains")
        assert forbidden.status_code == 403, forbidden.text
        assert "message" in forbidden.json()


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    env = base_environment(
        tmp_path, MAILWRIGHT_BOGUS="1", MAILWRIGHT_HTTP_ADDR=f"127.0.0.1:{free_port()}"
    )
    assert "MAILWRIGHT_BOGUS" in one_error_line("serve", env=env)


def test_bad_http_addr_is_refused(tmp_path: Path) -> None:
    env = base_environment(tmp_path, MAILWRIGHT_HTTP_ADDR="nope")
    assert "MAILWRIGHT_HTTP_ADDR" in one_error_line("serve", env=env)


def _kid(token: str) -> str:
    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


def test_oauth_rotate_key_keeps_issued_tokens_valid(
    tmp_path: Path, start_server: StartServer
) -> None:
    server = start_server(data_dir=tmp_path / "shared")
    with server.http() as http:
        created = http.post("/mailwright/v1/oauth/clients", data={"scope": "read"}).json()
        client = (created["client"]["client_id"], created["client"]["client_secret"])
        form = {"grant_type": "client_credentials"}
        old = http.post("/oauth/token", data=form, auth=client).json()["access_token"]
        printed = ok("oauth", "rotate-key", env=server.env)
        new = http.post("/oauth/token", data=form, auth=client).json()["access_token"]
        assert _kid(new) in printed
        assert _kid(old) != _kid(new)
        for token in (old, new):
            bearer = {"Authorization": f"Bearer {token}"}
            response = http.get("/v4/domains", headers=bearer, auth=None)
            assert response.status_code == 200, response.text
        forged = {"Authorization": f"Bearer {old[:-6]}AAAAAA"}
        assert http.get("/v4/domains", headers=forged, auth=None).status_code == 401


def test_test_environment_key_from_the_cli(tmp_path: Path, start_server: StartServer) -> None:
    server = start_server(data_dir=tmp_path / "shared")
    key = ok("keys", "create", "--environment", "test", env=server.env).strip()
    with server.http() as http:
        listed = http.get("/v1/keys").json()["items"]
    assert {k["environment"] for k in listed} == {"live", "test"}
    with server.http(key) as http:
        refused = http.post("/v1/keys", data={"role": "admin"})
    assert refused.status_code == 403, refused.text
    assert "test" in one_error_line("keys", "create", "--environment", "staging", env=server.env)


def test_secrets_rotate_moves_every_secret_to_the_new_key(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    env = base_environment(tmp_path, MAILWRIGHT_DATABASE_URL=database_url)
    old, new = (ok("secrets", "generate-key", env=env).strip() for _ in range(2))
    assert re.fullmatch(r"k[0-9a-f]{8}:[A-Za-z0-9+/]{43}=", old), old
    old_id, new_id = old.split(":")[0], new.split(":")[0]

    def keys(value: str) -> dict[str, str]:
        return env | {"MAILWRIGHT_SECRET_KEYS": value}

    ok("domains", "add", "example.org", env=keys(old))
    assert f"domains.dkim_private_key\t{old_id} 1" in ok("secrets", "status", env=keys(old))

    rotated = ok("secrets", "rotate", env=keys(f"{new},{old}"))
    assert "domains.dkim_private_key\tsealed 0\trewrapped 1\talready current 0" in rotated
    assert "dkim_keys.private_key\tsealed 0\trewrapped 1\talready current 0" in rotated
    assert f"sealed with key {new_id}" in rotated
    again = ok("secrets", "rotate", env=keys(f"{new},{old}"))  # idempotent
    assert "domains.dkim_private_key\tsealed 0\trewrapped 0\talready current 1" in again

    # The old key can go; a process still on it alone is told which key it lacks.
    status = ok("secrets", "status", env=keys(new))
    assert f"domains.dkim_private_key\t{new_id} 1" in status
    assert old_id not in status
    error = one_error_line("secrets", "status", env=keys(old))
    assert repr(new_id) in error
    assert "MAILWRIGHT_SECRET_KEYS" in error


def test_without_secret_keys_a_private_key_file_is_made_in_the_data_dir(tmp_path: Path) -> None:
    env = base_environment(tmp_path / "data")
    ok("domains", "add", "example.org", env=env)
    key_file = tmp_path / "data" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_id = key_file.read_text().split(":")[0]
    assert f"domains.dkim_private_key\t{key_id} 1" in ok("secrets", "status", env=env)
    error = one_error_line("secrets", "status", env=env | {"MAILWRIGHT_SECRET_KEYS": "k1:c2Vr"})
    assert "MAILWRIGHT_SECRET_KEYS" in error
    assert "c2Vr" not in error  # a key, even a bad one, is not repeated
