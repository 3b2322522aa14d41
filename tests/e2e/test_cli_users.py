"""``mailwright users``: logins made on the command line work for the dashboard, on both stores."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest

from mailwright.auth import Users
from mailwright.auth.oidc import Identity
from mailwright.store import Keyring, Store
from mailwright.store.sealing import generate_entry
from tests.e2e.conftest import base_environment, run_cli

pytestmark = pytest.mark.e2e

PASSWORD = "a long enough password"
SECRET_LINE = re.compile(r"^totp secret \(shown once[^)]*\): ([A-Z2-7]{32})$", re.MULTILINE)
URI_LINE = re.compile(r"^totp uri: (otpauth://\S+)$", re.MULTILINE)


@pytest.fixture
def env(tmp_path: Path, database_url: str, store: Store) -> dict[str, str]:
    """The CLI's environment on the same (emptied) database as ``store``, sealing secrets with
    the same key (the TOTP secrets the CLI writes, ``store`` reads)."""
    keys = generate_entry()
    store.keyring = Keyring.parse(keys)
    return base_environment(
        tmp_path, MAILWRIGHT_DATABASE_URL=database_url, MAILWRIGHT_SECRET_KEYS=keys
    )


def ok(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    result = run_cli(*args, env=env, stdin=stdin)
    assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
    return result.stdout


def one_error_line(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    result = run_cli(*args, env=env, stdin=stdin)
    assert result.returncode != 0, (args, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


async def test_created_user_logs_in_with_password_and_totp(
    env: dict[str, str], store: Store
) -> None:
    output = ok("users", "create", "alice", "--password-stdin", env=env, stdin=PASSWORD + "\n")
    secret_match = SECRET_LINE.search(output)
    uri_match = URI_LINE.search(output)
    assert secret_match is not None, output
    assert uri_match is not None, output
    secret = secret_match.group(1)
    assert pyotp.parse_uri(uri_match.group(1)).secret == secret

    users = Users(store)
    user = await users.check_password("alice", PASSWORD)
    assert user is not None
    assert user.has_totp
    token, session = await users.start_session(user)
    assert not session.is_verified
    assert await users.verify_totp(token, pyotp.TOTP(secret).now())
    verified = await users.session(token)
    assert verified is not None
    assert verified.is_verified


async def test_users_commands(env: dict[str, str], store: Store) -> None:
    output = ok("users", "create", "bob", "--no-totp", "--password-stdin", env=env, stdin=PASSWORD)
    assert "otpauth" not in output
    assert ok("users", "list", env=env).split("\t")[:2] == ["bob", "no-totp"]

    ok("users", "passwd", "bob", "--password-stdin", env=env, stdin="another password\n")
    users = Users(store)
    assert await users.check_password("bob", PASSWORD) is None
    assert await users.check_password("bob", "another password") is not None

    reset = ok("users", "reset-totp", "bob", env=env)
    secret_match = SECRET_LINE.search(reset)
    assert secret_match is not None, reset
    assert ok("users", "list", env=env).split("\t")[:2] == ["bob", "totp"]

    ok("users", "delete", "bob", env=env)
    assert ok("users", "list", env=env) == ""
    assert "bob" in one_error_line("users", "delete", "bob", env=env)


async def test_list_shows_sso_links(env: dict[str, str], store: Store) -> None:
    users = Users(store)
    for name in ("ada@example.com", "bob", "cy@example.com"):
        await users.create(name, PASSWORD, totp=False)
    for issuer, subject, email in [
        ("https://id.example.com", "sub-ada", "ada@example.com"),
        ("https://other.example.org/realm", "ada 2", "ada@example.com"),
        ("https://id.example.com", "sub-cy", "cy@example.com"),
    ]:
        claims = {"email": email, "email_verified": True}
        await users.sso_user(Identity(issuer, subject, claims), claim="email", create=False)

    rows = [line.split("\t") for line in ok("users", "list", env=env).splitlines()]
    assert [(r[0], r[1], r[3:]) for r in rows] == [
        (
            "ada@example.com",
            "no-totp",
            ["https://id.example.com", "sub-ada", "https://other.example.org/realm", "ada 2"],
        ),
        ("bob", "no-totp", []),
        ("cy@example.com", "no-totp", ["https://id.example.com", "sub-cy"]),
    ]
    assert all(len(r) in (3, 5, 7) for r in rows)

    assert await users.delete("ada@example.com")
    assert [line.split("\t")[3:] for line in ok("users", "list", env=env).splitlines()] == [
        [],
        ["https://id.example.com", "sub-cy"],
    ]


def test_bad_input_is_one_clear_line(env: dict[str, str]) -> None:
    create = ("users", "create", "alice", "--password-stdin")
    assert "password" in one_error_line(*create, env=env, stdin="short\n")
    assert "password" in one_error_line(*create, env=env, stdin="\n")
    assert "username" in one_error_line(
        "users", "create", "no spaces", "--password-stdin", env=env, stdin=PASSWORD
    )
    assert "--password-stdin" in one_error_line("users", "create", "alice", env=env)
    ok(*create, env=env, stdin=PASSWORD)
    assert "exists" in one_error_line(*create, env=env, stdin=PASSWORD)
    assert "nobody" in one_error_line("users", "reset-totp", "nobody", env=env)
    assert "nobody" in one_error_line(
        "users", "passwd", "nobody", "--password-stdin", env=env, stdin=PASSWORD
    )
