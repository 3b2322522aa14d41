"""Secrets never reach the log output: by field name, and inside any text."""

from __future__ import annotations

import base64
import json

import pytest
import structlog

from mailwright.logs import configure, get_logger
from tests.support.logs import captured_logs

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "-----END PRIVATE KEY-----\n"
)
RSA_PEM = PEM.replace("PRIVATE KEY", "RSA PRIVATE KEY")
JWT = "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJtd2NfMSJ9.c2lnbmF0dXJlLWJ5dGVz"


def test_secret_fields_are_masked_by_name() -> None:
    with captured_logs() as out:
        get_logger("t").info(
            "event",
            api_key="key-1",
            password="pw-2",
            authorization="Basic abc",
            relay_url="smtp://u:p@h",
            secret_keys="k1:c2Vrcml0",
            login="alice@example.com",
        )
    record = json.loads(out.getvalue())
    masked = ("api_key", "password", "authorization", "relay_url", "secret_keys")
    assert {record[k] for k in masked} == {"**********"}
    assert record["login"] == "alice@example.com"  # not a secret: operators need it


def test_secrets_inside_text_are_masked() -> None:
    basic = base64.b64encode(b"api:key-0123456789abcdef").decode()
    text = (
        f"relay smtps://relayuser:relay-secret@smtp.example.com:465 said no; "
        f"header Authorization: Basic {basic}; key {PEM} and {RSA_PEM}; "
        f"authorization: bearer {JWT}"
    )
    with captured_logs() as out:
        get_logger("t").warning("failed", detail=text, url="https://example.com/path")
    logged = out.getvalue()
    for secret in ("relay-secret", basic, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", JWT[:20]):
        assert secret not in logged
    record = json.loads(logged)
    assert "smtps://relayuser:**********@smtp.example.com:465" in record["detail"]
    assert "[private key]" in record["detail"]
    assert record["url"] == "https://example.com/path"


def test_exception_text_is_masked_too() -> None:
    with captured_logs() as out:
        try:
            raise ConnectionError("cannot reach smtp://relayuser:hunter2-relay@10.0.0.1:25")
        except ConnectionError:
            get_logger("t").exception("relay_failed")
    record = json.loads(out.getvalue())
    assert "ConnectionError" in record["exception"]  # the traceback is logged...
    assert "hunter2-relay" not in out.getvalue()  # ...without the password


def test_json_lines_take_any_value(capfd: pytest.CaptureFixture[str]) -> None:
    """The production renderer (orjson) falls back to json for what orjson refuses."""
    configure("json")
    try:
        get_logger("t").info("big", n=2**70, keys={1: "a"}, thing=object(), password="pw")
        get_logger("t").info("small", n=1)
    finally:
        structlog.reset_defaults()
    big, small = (json.loads(line) for line in capfd.readouterr().err.splitlines())
    assert (big["event"], big["n"], big["keys"], big["password"]) == (
        "big",
        2**70,
        {"1": "a"},
        "**********",
    )
    assert big["thing"].startswith("<object object")
    assert (small["event"], small["n"], small["level"]) == ("small", 1, "info")
