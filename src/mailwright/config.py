"""The one Settings object: read from the environment (then ``--flags``), validated at start-up.

This is the only module that reads ``os.environ``. Every field states its default and meaning in
``FIELDS``; an unknown ``MAILWRIGHT_*`` variable or a bad value raises ``ConfigError`` naming it.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mailwright.auth import RequestLimit
from mailwright.delivery.retry import RetrySchedule
from mailwright.delivery.throttle import ThrottleSpec, parse_rate
from mailwright.delivery.warmup import DEFAULT_SCHEDULE, WarmupSchedule
from mailwright.errors import ConfigError
from mailwright.store.sealing import parse_keys

PREFIX = "MAILWRIGHT_"
# Mailgun's documented webhook retries: 5 min, 10 min, 15 min, 1 h, 2 h, 4 h; 8 hours in all.
WEBHOOK_RETRY_DEFAULT = "5m,10m,15m,1h,2h,4h;max=4h;give_up=8h"


class Secret:
    """A string that keeps itself out of reprs and logs (starlette's ``Secret``)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _addr(value: str) -> tuple[str, int] | None:
    if value == "":
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port")
    return host.strip("[]"), int(port)


def _required_addr(value: str) -> tuple[str, int]:
    parsed = _addr(value)
    if parsed is None:
        raise ValueError("expected host:port")
    return parsed


def _database_url(value: str) -> str:
    scheme = value.split(":", 1)[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise ValueError("expected sqlite:///path or postgresql://user@host:port/db")
    return value


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an absolute http(s) URL")
    return value.rstrip("/")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in allowed:
            raise ValueError("expected one of " + ", ".join(allowed))
        return value

    return parse


def _relay_url(value: str) -> Secret | None:
    if value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("expected smtp://user:pass@host:port or smtps://...")
    return Secret(value)


def _secret_keys(value: str) -> Secret | None:
    if value == "":
        return None
    parse_keys(value)  # raises ValueError naming the bad entry
    return Secret(value)


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(v.strip()) for v in value.split(",") if v.strip())
    except ValueError as exc:
        raise ValueError(f"expected comma-separated networks such as 10.0.0.0/8 ({exc})") from None


@dataclass(frozen=True, slots=True)
class EgressSource:
    """One source address outbound SMTP connections may bind to, and the name it says in EHLO
    (its reverse DNS should match)."""

    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    helo: str


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def _egress_sources(value: str) -> tuple[EgressSource, ...]:
    sources: list[EgressSource] = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        address, _, helo = item.partition("=")
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            raise ValueError(
                f"expected ADDRESS=HELO_NAME items such as 192.0.2.10=mta1.example.com, "
                f"not {item!r}"
            ) from None
        name = helo.strip().lower().rstrip(".")
        if not _HOSTNAME.match(name):
            raise ValueError(f"{item!r} needs a HELO host name after '=' (ADDRESS=HELO_NAME)")
        if any(s.address == ip for s in sources):
            raise ValueError(f"address {ip} is listed twice")
        sources.append(EgressSource(ip, name))
    return tuple(sources)


def _zones(value: str) -> tuple[str, ...]:
    zones = tuple(dict.fromkeys(z.strip().lower().rstrip(".") for z in value.split(",")))
    zones = tuple(z for z in zones if z)
    for zone in zones:
        if not _HOSTNAME.match(zone) or "." not in zone:
            raise ValueError(f"expected DNS zone names such as zen.spamhaus.org, not {zone!r}")
    return zones


def _port(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError("expected a TCP port number")
    return int(value)


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("expected a positive number")
    return number


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError("expected a positive integer")
    return int(value)


def _token_seconds(value: str) -> int:
    """An OAuth access token's lifetime: a minute to a day (RFC 9068 tokens are short-lived)."""
    if not value.isdigit() or not 60 <= int(value) <= 86400:
        raise ValueError("expected seconds between 60 and 86400")
    return int(value)


def _oidc_issuer(value: str) -> str:
    """An OpenID Connect issuer: HTTPS (Discovery 4.1), or plain HTTP on loopback only."""
    if value == "":
        return ""
    parts = urlsplit(value)
    is_loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.query or parts.fragment or not parts.hostname or len(value) > 255:
        raise ValueError("expected the issuer URL, such as https://login.example.com/realm")
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback):
        raise ValueError("expected an https:// issuer URL (http:// only on loopback)")
    return value  # as the provider spells it (Auth0's ends in "/"): ID tokens must match it


def _oidc_scopes(value: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(value.split()))
    if "openid" not in scopes:
        raise ValueError("expected space-separated scopes including openid")
    return scopes


def _oidc_claim(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", value):
        raise ValueError("expected a claim name such as email or preferred_username")
    return value


def _count(value: str) -> int:
    if not value.isdigit():
        raise ValueError("expected a whole number, 0 or more")
    return int(value)


def _request_limit(value: str) -> RequestLimit | None:
    if value == "":
        return None
    count, period = parse_rate(value)
    if count != int(count):
        raise ValueError("expected a whole number of requests, e.g. 300/min")
    return RequestLimit(limit=int(count), period=period)


def _optional_bool(value: str) -> bool | None:
    return None if value == "" else _bool(value)


@dataclass(frozen=True, slots=True)
class Setting:
    name: str  # field name; the variable is MAILWRIGHT_<NAME upper>
    default: str  # raw default, parsed like any other value ("" = unset)
    parse: Callable[[str], Any]
    help: str
    is_secret: bool = False  # a bad value is not repeated in the error

    @property
    def env(self) -> str:
        return PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


DNSBL_ZONES_DEFAULT = "zen.spamhaus.org,bl.spamcop.net,b.barracudacentral.org"
DNSBL_DOMAIN_ZONES_DEFAULT = "dbl.spamhaus.org"

FIELDS: tuple[Setting, ...] = (
    Setting("data_dir", "./var", Path, "SQLite file, blobs, generated keys"),
    Setting(
        "database_url",
        "",
        lambda v: _database_url(v) if v else "",
        "sqlite:///path or postgresql://user@host:port/db (default: SQLite in the data dir)",
    ),
    Setting("http_addr", "127.0.0.1:8080", _required_addr, "host:port of the HTTP API"),
    Setting("smtp_addr", "127.0.0.1:2525", _addr, "inbound (MX) SMTP listener; empty disables"),
    Setting("submission_addr", "127.0.0.1:5870", _addr, "SMTP submission; empty disables"),
    Setting(
        "submission_trusted_networks",
        "",
        _networks,
        "networks (CIDR, comma-separated) that may submit without AUTH, as Postfix's mynetworks",
    ),
    Setting(
        "tls_cert_file",
        "",
        lambda v: Path(v) if v else None,
        "PEM certificate chain the SMTP listeners offer with STARTTLS "
        "(default: a self-signed certificate generated once into the data dir)",
    ),
    Setting(
        "tls_key_file",
        "",
        lambda v: Path(v) if v else None,
        "PEM private key of MAILWRIGHT_TLS_CERT_FILE",
    ),
    Setting(
        "http_tls_cert_file",
        "",
        lambda v: Path(v) if v else None,
        "PEM certificate chain: the HTTP listener serves HTTPS with it (default: plain HTTP, "
        "for a reverse proxy or loopback)",
    ),
    Setting(
        "http_tls_key_file",
        "",
        lambda v: Path(v) if v else None,
        "PEM private key of MAILWRIGHT_HTTP_TLS_CERT_FILE",
    ),
    Setting(
        "trusted_proxies",
        "",
        _networks,
        "reverse proxies (CIDR, comma-separated) whose X-Forwarded-For names the client "
        "(default: none; the connection's address is the client)",
    ),
    Setting(
        "api_key",
        "",
        lambda v: Secret(v) if v else None,
        "the primary private API key",
        is_secret=True,
    ),
    Setting(
        "secret_keys",
        "",
        _secret_keys,
        "keys that encrypt stored secrets (DKIM keys...): id:base64-32-bytes, comma-separated, "
        "the first current (default: one generated into the data dir's secret.key)",
        is_secret=True,
    ),
    Setting(
        "public_url",
        "",
        lambda v: _public_url(v) if v else "",
        "absolute base URL used in links (default http://<HTTP_ADDR>)",
    ),
    Setting("delivery", "capture", _choice("capture", "mx", "relay"), "capture, mx or relay"),
    Setting(
        "relay_url",
        "",
        _relay_url,
        "smarthost for relay: smtp://user:pass@host:port",
        is_secret=True,
    ),
    Setting(
        "egress_sources",
        "",
        _egress_sources,
        "source addresses outbound SMTP may bind to, with their HELO names: "
        "ADDRESS=HELO_NAME, comma-separated (default: the system's choice, HELO from the host)",
    ),
    Setting("dns_server", "", _addr, "host:port of the DNS resolver (default: system)"),
    Setting("mx_port", "25", _port, "TCP port used to connect to MX hosts"),
    Setting("tls_verify", "", _optional_bool, "verify MX/relay certificates"),
    Setting("allow_private_urls", "false", _bool, "let webhook/route URLs reach private ranges"),
    Setting(
        "validation_smtp_probe",
        "false",
        _bool,
        "address validation asks the MX (RCPT TO, no DATA) whether the mailbox exists",
    ),
    Setting(
        "log_format",
        "",
        lambda v: _choice("console", "json")(v) if v else "",
        "console or json (default: console on a TTY)",
    ),
    Setting(
        "destination_concurrency",
        "10",
        _positive_int,
        "SMTP connections at once per destination site (MX host set), per worker process",
    ),
    Setting(
        "destination_rate",
        "",
        lambda v: ThrottleSpec.parse(v) if v else None,
        "messages per destination site, e.g. 600/min (default: unlimited); on PostgreSQL "
        "for all worker processes together",
    ),
    Setting(
        "adaptive_throttle",
        "true",
        _bool,
        "slow down per destination provider (Google, Microsoft, ...) when its servers defer "
        "us for sending too fast (421/4.7.x), and recover gradually",
    ),
    Setting(
        "adaptive_ceiling",
        "50/s",
        ThrottleSpec.parse,
        "the rate a slowed provider recovers to, and the first cut starts from "
        "(MAILWRIGHT_DESTINATION_RATE when lower)",
    ),
    Setting(
        "adaptive_floor",
        "6/min",
        ThrottleSpec.parse,
        "the slowest rate adaptive throttling cuts a provider to",
    ),
    Setting(
        "warmup_schedule",
        "",
        lambda v: WarmupSchedule.parse(v) if v else DEFAULT_SCHEDULE,
        "messages per day an egress address in warm-up may send on each day: COUNTxDAYS, "
        "comma-separated, then ';hourly=P%' for the most of a day's count in any hour, e.g. "
        "200x2,500x2,1000x3;hourly=25% (default: about six weeks from 200 a day)",
    ),
    Setting(
        "rate_limit_key",
        "",
        _request_limit,
        "HTTP requests per API key, e.g. 300/min, counted in fixed windows shared by every "
        "API process through the database; over it: 429 (default: unlimited)",
    ),
    Setting(
        "rate_limit_domain",
        "",
        _request_limit,
        "HTTP requests per domain (the one in the path, or a domain key's), e.g. 600/min; "
        "over it: 429 (default: unlimited)",
    ),
    Setting(
        "oauth_token_seconds",
        "900",
        _token_seconds,
        "lifetime of OAuth 2.0 access tokens from POST /oauth/token, and how long a rotated "
        "signing key keeps verifying",
    ),
    Setting(
        "oidc_issuer",
        "",
        _oidc_issuer,
        "OpenID Connect issuer URL for dashboard single sign-on; setting it shows "
        "'Sign in with SSO' on the login page (default: no SSO)",
    ),
    Setting("oidc_client_id", "", str, "the dashboard's client ID at the OIDC provider"),
    Setting(
        "oidc_client_secret",
        "",
        lambda v: Secret(v) if v else None,
        "the dashboard's client secret at the OIDC provider (empty: a public client, PKCE only)",
    ),
    Setting(
        "oidc_scopes",
        "openid email profile",
        _oidc_scopes,
        "space-separated scopes requested from the OIDC provider (must include openid)",
    ),
    Setting(
        "oidc_user_claim",
        "email",
        _oidc_claim,
        "the ID token claim naming the local username an SSO identity is linked to on its first "
        "sign-in (email counts only when email_verified); later sign-ins map by issuer and sub",
    ),
    Setting(
        "oidc_create_users",
        "false",
        _bool,
        "create a dashboard user (no usable password, no TOTP) on the first SSO sign-in of an "
        "unknown user (default: only existing users may sign in with SSO)",
    ),
    Setting(
        "retry_schedule",
        "",
        lambda v: RetrySchedule.parse(v) if v else RetrySchedule(),
        "retry delays for temporary failures, e.g. '10m,10m,15m,30m,1h,2h,4h;max=4h;give_up=5d'",
    ),
    Setting(
        "webhook_retry_schedule",
        WEBHOOK_RETRY_DEFAULT,
        RetrySchedule.parse,
        "webhook retry delays after failed POSTs (Mailgun's: 5m,10m,15m,1h,2h,4h for 8h in all)",
    ),
    Setting(
        "worker_processes",
        "1",
        _count,
        "delivery worker processes serve starts beside the HTTP server (0: in the same process)",
    ),
    Setting(
        "claim_lease",
        "",
        lambda v: _positive_float(v) if v else None,
        "seconds a worker's claim on deliveries and webhook events lasts unrenewed: how long "
        "work held by a crashed worker waits (default 900 for deliveries, 120 for webhooks)",
    ),
    Setting(
        "dnsbl_zones",
        DNSBL_ZONES_DEFAULT,
        _zones,
        "DNS blocklists the worker checks the egress addresses against, comma-separated "
        "(empty: none); off in capture mode",
    ),
    Setting(
        "dnsbl_domain_zones",
        DNSBL_DOMAIN_ZONES_DEFAULT,
        _zones,
        "domain blocklists the worker checks the sending domains against, comma-separated "
        "(empty: none); off in capture mode",
    ),
    Setting(
        "dnsbl_interval",
        "3600",
        _positive_float,
        "seconds between two blocklist checks",
    ),
    Setting(
        "retention_hours",
        "72",
        _positive_float,
        "how long stored messages, captured mail and events are kept",
    ),
    Setting(
        "node_name",
        "",
        lambda v: v.strip()[:253],
        "this process's name in the uptime history (default: the host name); give each "
        "process of the same role on one host a name of its own",
    ),
    Setting(
        "uptime_interval",
        "30",
        _positive_float,
        "seconds between two health checks each running role records for the uptime history",
    ),
    Setting(
        "uptime_retention_days",
        "30",
        _positive_float,
        "how long health checks and per-endpoint request counts are kept",
    ),
)
BY_ENV = {s.env: s for s in FIELDS}
BY_NAME = {s.name: s for s in FIELDS}


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("./var")
    database_url: str = ""
    http_addr: tuple[str, int] = ("127.0.0.1", 8080)
    smtp_addr: tuple[str, int] | None = ("127.0.0.1", 2525)
    submission_addr: tuple[str, int] | None = ("127.0.0.1", 5870)
    submission_trusted_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    http_tls_cert_file: Path | None = None
    http_tls_key_file: Path | None = None
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    api_key: Secret | None = None
    secret_keys: Secret | None = None
    public_url: str = ""
    delivery: str = "capture"
    relay_url: Secret | None = None
    egress_sources: tuple[EgressSource, ...] = ()
    dns_server: tuple[str, int] | None = None
    mx_port: int = 25
    tls_verify: bool | None = None
    allow_private_urls: bool = False
    validation_smtp_probe: bool = False
    log_format: str = ""
    destination_concurrency: int = 10
    destination_rate: ThrottleSpec | None = None
    adaptive_throttle: bool = True
    adaptive_ceiling: ThrottleSpec = field(default_factory=lambda: ThrottleSpec.parse("50/s"))
    adaptive_floor: ThrottleSpec = field(default_factory=lambda: ThrottleSpec.parse("6/min"))
    warmup_schedule: WarmupSchedule = DEFAULT_SCHEDULE
    rate_limit_key: RequestLimit | None = None
    rate_limit_domain: RequestLimit | None = None
    oauth_token_seconds: int = 900
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: Secret | None = None
    oidc_scopes: tuple[str, ...] = ("openid", "email", "profile")
    oidc_user_claim: str = "email"
    oidc_create_users: bool = False
    retry_schedule: RetrySchedule = field(default_factory=RetrySchedule)
    webhook_retry_schedule: RetrySchedule = field(
        default_factory=lambda: RetrySchedule.parse(WEBHOOK_RETRY_DEFAULT)
    )
    worker_processes: int = 1
    claim_lease: float | None = None
    dnsbl_zones: tuple[str, ...] = tuple(DNSBL_ZONES_DEFAULT.split(","))
    dnsbl_domain_zones: tuple[str, ...] = tuple(DNSBL_DOMAIN_ZONES_DEFAULT.split(","))
    dnsbl_interval: float = 3600.0
    retention_hours: float = 72.0
    node_name: str = ""
    uptime_interval: float = 30.0
    uptime_retention_days: float = 30.0

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'mailwright.db'}"

    @property
    def secret_key_file(self) -> Path:
        """Where the generated key lives when ``MAILWRIGHT_SECRET_KEYS`` is not set."""
        return self.data_dir / "secret.key"

    @property
    def effective_node_name(self) -> str:
        return self.node_name or socket.gethostname()

    @property
    def effective_public_url(self) -> str:
        host, port = self.http_addr
        scheme = "https" if self.http_tls_cert_file else "http"
        return self.public_url or f"{scheme}://{host}:{port}"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, str] | None = None
    ) -> Settings:
        """Environment first, then ``overrides`` (field name -> raw value, from ``--flags``)."""
        env = os.environ if environ is None else environ
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in BY_ENV)
        if unknown:
            valid = ", ".join(s.env for s in FIELDS)
            raise ConfigError(f"unknown setting {unknown[0]}; valid settings are: {valid}")
        raw = {s.name: env.get(s.env, s.default) for s in FIELDS}
        raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
        values: dict[str, Any] = {}
        for setting in FIELDS:
            try:
                values[setting.name] = setting.parse(raw[setting.name])
            except ValueError as exc:
                source = setting.flag if setting.name in (overrides or {}) else setting.env
                shown = "(hidden)" if setting.is_secret else repr(raw[setting.name])
                raise ConfigError(f"bad value for {source}: {shown} ({exc})") from None
        if (values["http_tls_cert_file"] is None) != (values["http_tls_key_file"] is None):
            raise ConfigError(
                "MAILWRIGHT_HTTP_TLS_CERT_FILE and MAILWRIGHT_HTTP_TLS_KEY_FILE go together: "
                "set both or neither"
            )
        if values["oidc_issuer"] and not values["oidc_client_id"]:
            raise ConfigError("MAILWRIGHT_OIDC_ISSUER needs MAILWRIGHT_OIDC_CLIENT_ID too")
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)
