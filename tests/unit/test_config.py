"""Settings: defaults, parsing, and one clear error for unknown or bad variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailwright.auth import RequestLimit
from mailwright.config import Settings
from mailwright.errors import ConfigError


def test_defaults_are_the_embedded_setup() -> None:
    settings = Settings.from_env(environ={})
    assert settings.data_dir == Path("./var")
    assert settings.http_addr == ("127.0.0.1", 8080)
    assert settings.smtp_addr == ("127.0.0.1", 2525)
    assert settings.submission_addr == ("127.0.0.1", 5870)
    assert settings.delivery == "capture"
    assert settings.mx_port == 25
    assert settings.effective_database_url == "sqlite:///var/mailwright.db"
    assert settings.effective_public_url == "http://127.0.0.1:8080"


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        environ={
            "MAILWRIGHT_HTTP_ADDR": "0.0.0.0:9000",
            "MAILWRIGHT_SMTP_ADDR": "",
            "MAILWRIGHT_DNS_SERVER": "127.0.0.1:5353",
            "MAILWRIGHT_API_KEY": "s3cret",
            "MAILWRIGHT_PUBLIC_URL": "https://mail.example.com/",
            "MAILWRIGHT_ALLOW_PRIVATE_URLS": "yes",
            "MAILWRIGHT_DATABASE_URL": "postgresql://u@db:5432/mw",
        }
    )
    assert settings.http_addr == ("0.0.0.0", 9000)
    assert settings.smtp_addr is None
    assert settings.dns_server == ("127.0.0.1", 5353)
    assert str(settings.api_key) == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.effective_public_url == "https://mail.example.com"
    assert settings.allow_private_urls is True
    assert settings.effective_database_url == "postgresql://u@db:5432/mw"


def test_flags_override_the_environment() -> None:
    settings = Settings.from_env(
        environ={"MAILWRIGHT_HTTP_ADDR": "127.0.0.1:1"}, overrides={"http_addr": "127.0.0.1:2"}
    )
    assert settings.http_addr == ("127.0.0.1", 2)


def test_unknown_variable_is_named_with_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(environ={"MAILWRIGHT_HTTP_ADRR": "x"})
    assert "MAILWRIGHT_HTTP_ADRR" in err.value.message
    assert "MAILWRIGHT_HTTP_ADDR" in err.value.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAILWRIGHT_HTTP_ADDR", "nope"),
        ("MAILWRIGHT_HTTP_ADDR", "127.0.0.1:99999"),
        ("MAILWRIGHT_DELIVERY", "carrier-pigeon"),
        ("MAILWRIGHT_MX_PORT", "-1"),
        ("MAILWRIGHT_DATABASE_URL", "mysql://x"),
        ("MAILWRIGHT_RELAY_URL", "http://relay"),
        ("MAILWRIGHT_SECRET_KEYS", "k1:c2hvcnQ="),
        ("MAILWRIGHT_SECRET_KEYS", "no-colon"),
        ("MAILWRIGHT_PUBLIC_URL", "example.com"),
        ("MAILWRIGHT_ALLOW_PRIVATE_URLS", "perhaps"),
        ("MAILWRIGHT_LOG_FORMAT", "xml"),
        ("MAILWRIGHT_RETENTION_HOURS", "0"),
        ("MAILWRIGHT_RETENTION_HOURS", "abc"),
        ("MAILWRIGHT_RATE_LIMIT_KEY", "300"),
        ("MAILWRIGHT_RATE_LIMIT_KEY", "2.5/min"),
        ("MAILWRIGHT_RATE_LIMIT_DOMAIN", "0/min"),
        ("MAILWRIGHT_CLAIM_LEASE", "0"),
        ("MAILWRIGHT_OAUTH_TOKEN_SECONDS", "59"),
        ("MAILWRIGHT_OAUTH_TOKEN_SECONDS", "86401"),
        ("MAILWRIGHT_OAUTH_TOKEN_SECONDS", "15m"),
        ("MAILWRIGHT_EGRESS_SOURCES", "mta1.example.com"),
        ("MAILWRIGHT_EGRESS_SOURCES", "127.0.0.2"),
        ("MAILWRIGHT_EGRESS_SOURCES", "127.0.0.2=bad_name!"),
        ("MAILWRIGHT_EGRESS_SOURCES", "127.0.0.2=a.example,127.0.0.2=b.example"),
    ],
)
def test_bad_values_are_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(environ={name: value})
    assert name in err.value.message
    assert "\n" not in err.value.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAILWRIGHT_RELAY_URL", "http://user:sekrit@relay"),
        ("MAILWRIGHT_SECRET_KEYS", "k1:sekrit"),
        ("MAILWRIGHT_SECRET_KEYS", "k1:" + "c2Vrcml0" * 8),  # base64, 48 bytes
    ],
)
def test_a_bad_secret_is_not_repeated(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(environ={name: value})
    assert name in err.value.message
    assert "sekrit" not in err.value.message
    assert "c2Vrcml0" not in err.value.message


def test_secret_keys_are_kept_out_of_reprs() -> None:
    entry = "k1:" + "A" * 43 + "="
    settings = Settings.from_env(environ={"MAILWRIGHT_SECRET_KEYS": entry})
    assert str(settings.secret_keys) == entry
    assert "AAAA" not in repr(settings)


def test_a_bad_flag_is_named_as_a_flag() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(environ={}, overrides={"http_addr": "nope"})
    assert "--http-addr" in err.value.message


def test_delivery_tuning_settings() -> None:
    settings = Settings.from_env(
        environ={
            "MAILWRIGHT_DESTINATION_CONCURRENCY": "3",
            "MAILWRIGHT_DESTINATION_RATE": "600/min",
            "MAILWRIGHT_RETRY_SCHEDULE": "1m,5m;max=1h;give_up=1d",
        }
    )
    assert settings.destination_concurrency == 3
    assert settings.destination_rate is not None
    assert settings.destination_rate.per_second == 10
    assert str(settings.retry_schedule).startswith("1m,5m")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAILWRIGHT_DESTINATION_CONCURRENCY", "0"),
        ("MAILWRIGHT_DESTINATION_RATE", "lots"),
        ("MAILWRIGHT_RETRY_SCHEDULE", "soon"),
    ],
)
def test_bad_delivery_tuning_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(environ={name: value})
    assert name in err.value.message


def test_request_limits_are_off_by_default_and_parse_as_rates() -> None:
    assert Settings.from_env(environ={}).rate_limit_key is None
    assert Settings.from_env(environ={}).rate_limit_domain is None
    settings = Settings.from_env(
        environ={"MAILWRIGHT_RATE_LIMIT_KEY": "300/min", "MAILWRIGHT_RATE_LIMIT_DOMAIN": "5000/h"}
    )
    assert settings.rate_limit_key == RequestLimit(limit=300, period=60.0)
    assert settings.rate_limit_domain == RequestLimit(limit=5000, period=3600.0)


def test_egress_sources_pair_addresses_with_helo_names() -> None:
    settings = Settings.from_env(
        environ={"MAILWRIGHT_EGRESS_SOURCES": "127.0.0.2=MTA1.Example.com., ::1=mta6.example.com"}
    )
    assert [(str(s.address), s.helo) for s in settings.egress_sources] == [
        ("127.0.0.2", "mta1.example.com"),
        ("::1", "mta6.example.com"),
    ]
    assert Settings.from_env(environ={}).egress_sources == ()


def test_blocklist_zones_default_to_well_known_lists_and_can_be_emptied() -> None:
    defaults = Settings.from_env(environ={})
    assert defaults.dnsbl_zones == ("zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org")
    assert defaults.dnsbl_domain_zones == ("dbl.spamhaus.org",)
    assert defaults.dnsbl_interval == 3600.0
    assert (defaults.dnsbl_zones, defaults.dnsbl_domain_zones) == (
        Settings().dnsbl_zones,
        Settings().dnsbl_domain_zones,
    )
    custom = Settings.from_env(
        environ={
            "MAILWRIGHT_DNSBL_ZONES": " BL.Example.test. , bl.example.test,dnsbl.test ",
            "MAILWRIGHT_DNSBL_DOMAIN_ZONES": "",
            "MAILWRIGHT_DNSBL_INTERVAL": "60",
        }
    )
    assert custom.dnsbl_zones == ("bl.example.test", "dnsbl.test")
    assert custom.dnsbl_domain_zones == ()
    assert custom.dnsbl_interval == 60.0


@pytest.mark.parametrize("value", ["not a zone", "localhost", "bl.example.test,-bad.test"])
def test_bad_blocklist_zones_are_named(value: str) -> None:
    with pytest.raises(ConfigError, match="MAILWRIGHT_DNSBL_ZONES"):
        Settings.from_env(environ={"MAILWRIGHT_DNSBL_ZONES": value})


def test_oauth_token_lifetime() -> None:
    assert Settings.from_env(environ={}).oauth_token_seconds == 900
    settings = Settings.from_env(environ={"MAILWRIGHT_OAUTH_TOKEN_SECONDS": "120"})
    assert settings.oauth_token_seconds == 120


def test_oidc_is_off_by_default_and_parsed_when_set() -> None:
    assert Settings.from_env(environ={}).oidc_issuer == ""
    settings = Settings.from_env(
        environ={
            "MAILWRIGHT_OIDC_ISSUER": "https://login.example.com/realms/staff/",
            "MAILWRIGHT_OIDC_CLIENT_ID": "mailwright",
            "MAILWRIGHT_OIDC_CLIENT_SECRET": "hush",
            "MAILWRIGHT_OIDC_SCOPES": "openid email",
            "MAILWRIGHT_OIDC_USER_CLAIM": "preferred_username",
            "MAILWRIGHT_OIDC_CREATE_USERS": "true",
        }
    )
    assert settings.oidc_issuer == "https://login.example.com/realms/staff/"
    assert settings.oidc_scopes == ("openid", "email")
    assert settings.oidc_user_claim == "preferred_username"
    assert settings.oidc_create_users
    assert "hush" not in repr(settings)
    loopback = {"MAILWRIGHT_OIDC_ISSUER": "http://127.0.0.1:9000", "MAILWRIGHT_OIDC_CLIENT_ID": "x"}
    assert Settings.from_env(environ=loopback).oidc_issuer == "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAILWRIGHT_OIDC_ISSUER", "http://login.example.com"),
        ("MAILWRIGHT_OIDC_ISSUER", "https://login.example.com/?realm=x"),
        ("MAILWRIGHT_OIDC_SCOPES", "email profile"),
        ("MAILWRIGHT_OIDC_USER_CLAIM", "no spaces"),
    ],
)
def test_bad_oidc_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(environ={"MAILWRIGHT_OIDC_CLIENT_ID": "x", name: value})


def test_an_oidc_issuer_needs_a_client_id() -> None:
    with pytest.raises(ConfigError, match="MAILWRIGHT_OIDC_CLIENT_ID"):
        Settings.from_env(environ={"MAILWRIGHT_OIDC_ISSUER": "https://login.example.com"})
