"""Sending domains: create (with a fresh DKIM key), look up, list, delete, verify DNS."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailwright.domains.dkim import generate_key, new_selector, txt_value
from mailwright.domains.doctor import Diagnosis, DkimExpectation, DoctorPlan, diagnose
from mailwright.domains.records import DnsRecord, receiving_records, sending_records
from mailwright.domains.rotation import (
    activate_verified,
    effective_state,
    initial_key_values,
    list_keys,
)
from mailwright.domains.verify import check_records
from mailwright.errors import Conflict, InvalidInput, NotFound
from mailwright.resolver import Resolver
from mailwright.store import DomainRow, Store, dkim_keys, queries
from mailwright.store.sealed import dkim_place

# RFC 1035 labels (after IDNA), at least two labels.
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
SPAM_ACTIONS = ("disabled", "block", "tag")
SANDBOX_SUFFIX = ".mailwright.test"


@dataclass(frozen=True, slots=True)
class DnsPlan:
    """Where the records we ask owners to publish point.

    ``spf`` is our public host (an IP becomes an ``ip4:``/``ip6:`` mechanism); CNAME and MX
    records must name a host, never an address (RFC 1034 3.6.2, RFC 5321 5.1), so ``target``
    is the public host name, or this machine's name when the public URL uses an IP literal.
    """

    spf: str
    target: str
    egress: tuple[tuple[str, str], ...] = ()  # (address, HELO name) we send from, for rDNS
    is_receiving: bool = True  # an MX listener runs: the domain's MX should name ``target``

    @classmethod
    def for_host(
        cls, host: str, *, egress: tuple[tuple[str, str], ...] = (), is_receiving: bool = True
    ) -> DnsPlan:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            target = host
        else:
            target = socket.gethostname().lower()
        return cls(spf=host, target=target, egress=egress, is_receiving=is_receiving)

    def sending(self, row: DomainRow) -> list[DnsRecord]:
        return sending_records(
            row.name,
            selector=row.dkim_selector,
            public_b64=row.dkim_public_key,
            spf_include=self.spf,
            tracking_target=self.target,
            web_prefix=row.web_prefix,
            ed25519=_ed25519(row),
        )

    def receiving(self, row: DomainRow) -> list[DnsRecord]:
        return receiving_records(row.name, mx_hosts=[self.target])


def _ed25519(row: DomainRow) -> tuple[str, str] | None:
    if row.dkim_ed25519_selector and row.dkim_ed25519_public_key:
        return row.dkim_ed25519_selector, row.dkim_ed25519_public_key
    return None


def normalise_name(name: str) -> str:
    try:
        ascii_name = name.strip().rstrip(".").encode("idna").decode().lower()
    except UnicodeError:
        ascii_name = ""
    if not DOMAIN_RE.match(ascii_name):
        raise InvalidInput(f"'{name}' is not a valid domain name", field="name")
    return ascii_name


def _options(form: dict[str, str]) -> dict[str, Any]:
    spam_action = form.get("spam_action", "disabled")
    if spam_action not in SPAM_ACTIONS:
        raise InvalidInput("spam_action must be disabled, block or tag", field="spam_action")
    size = form.get("dkim_key_size", "2048")
    if size not in ("1024", "2048"):
        raise InvalidInput("dkim_key_size must be 1024 or 2048", field="dkim_key_size")
    scheme = form.get("web_scheme", "http")
    if scheme not in ("http", "https"):
        raise InvalidInput("web_scheme must be http or https", field="web_scheme")
    prefix = form.get("web_prefix", "email")
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", prefix):
        raise InvalidInput("web_prefix must be a DNS label", field="web_prefix")
    selector = form.get("dkim_selector") or ""
    if selector and not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", selector):
        raise InvalidInput("dkim_selector must be a DNS label", field="dkim_selector")
    return {
        "spam_action": spam_action,
        "dkim_key_size": int(size),
        "web_scheme": scheme,
        "web_prefix": prefix,
        "dkim_selector": selector,
        "wildcard": form.get("wildcard", "false").lower() in ("true", "yes"),
    }


async def create_domain(
    store: Store, name: str, form: dict[str, str], *, now: float, type_: str = "custom"
) -> DomainRow:
    """Create a domain with a new DKIM key pair (RSA, 2048 bits unless asked otherwise)."""
    ascii_name = normalise_name(name)
    options = _options(form)
    async with store.read() as conn:
        if await queries.get_domain(conn, ascii_name) is not None:
            raise Conflict(f"Domain {ascii_name} already exists")
    selector = options.pop("dkim_selector") or new_selector(_utc(now))
    key = await asyncio.to_thread(generate_key, selector, options["dkim_key_size"])
    domain_id = secrets.token_hex(12)
    values = options | {
        "id": domain_id,
        "name": ascii_name,
        "type": type_,
        "state": "active" if type_ == "sandbox" else "unverified",
        "created_at": now,
        "require_tls": False,
        "skip_verification": False,
        "dkim_selector": key.selector,
        "dkim_private_key": store.keyring.seal(
            key.private_pem, dkim_place(domain_id, key.selector)
        ),
        "dkim_public_key": key.public_b64,
        "is_disabled": False,
    }

    async def insert(conn: AsyncConnection) -> DomainRow | None:
        if await queries.get_domain(conn, ascii_name) is not None:
            raise Conflict(f"Domain {ascii_name} already exists")
        await queries.insert_domain(conn, values)
        await dkim_keys.insert_key(
            conn, initial_key_values(domain_id, key, options["dkim_key_size"], now, store.keyring)
        )
        return await queries.get_domain(conn, ascii_name)

    row = await store.write(insert)
    assert row is not None
    return row


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


async def get_domain(store: Store, name: str) -> DomainRow:
    async with store.read() as conn:
        row = await queries.get_domain(conn, name)
    if row is None:
        raise NotFound(f"Domain not found: {name}")
    return row


class DomainCache:
    """Domains by name, remembered a few seconds to keep a query off every send."""

    def __init__(self, store: Store, clock: Callable[[], float], *, seconds: float = 5.0) -> None:
        self._store = store
        self._clock = clock
        self._seconds = seconds
        self._known: dict[str, tuple[float, DomainRow]] = {}
        self._loading: dict[str, asyncio.Future[DomainRow]] = {}

    async def get(self, name: str) -> DomainRow:
        key = name.lower()
        hit = self._known.get(key)
        now = self._clock()
        if hit is not None and hit[0] > now:
            return hit[1]
        # One query per name however many callers miss at once (a claimed batch of
        # deliveries all ask as the entry expires).
        loading = self._loading.get(key)
        if loading is not None:
            return await asyncio.shield(loading)
        loading = asyncio.get_running_loop().create_future()
        self._loading[key] = loading
        try:
            row = await get_domain(self._store, key)
        except asyncio.CancelledError:
            loading.cancel()
            raise
        except Exception as exc:
            loading.set_exception(exc)
            loading.exception()  # retrieved: callers that were not waiting don't warn
            raise
        else:
            loading.set_result(row)
        finally:
            del self._loading[key]
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[key] = (now + self._seconds, row)
        return row

    def forget(self, name: str | None = None) -> None:
        if name is None:
            self._known.clear()
        else:
            self._known.pop(name.lower(), None)


async def list_domains(
    store: Store, *, limit: int = 100, skip: int = 0, state: str | None = None
) -> tuple[int, list[DomainRow]]:
    async with store.read() as conn:
        return await queries.list_domains(conn, limit=limit, skip=skip, state=state)


def _flag(form: dict[str, str], name: str, current: bool) -> bool:
    value = form.get(name)
    if value is None:
        return current
    lowered = value.lower()
    if lowered not in ("true", "false", "yes", "no"):
        raise InvalidInput(f"'{name}' must be true or false", field=name)
    return lowered in ("true", "yes")


async def update_connection(store: Store, name: str, form: dict[str, str]) -> DomainRow:
    """Mailgun's domain connection settings: ``require_tls`` and ``skip_verification``."""
    row = await get_domain(store, name)
    values = {
        "require_tls": _flag(form, "require_tls", row.require_tls),
        "skip_verification": _flag(form, "skip_verification", row.skip_verification),
    }

    async def update(conn: AsyncConnection) -> DomainRow | None:
        await queries.update_domain(conn, row.name, values)
        return await queries.get_domain(conn, row.name)

    updated = await store.write(update)
    assert updated is not None
    return updated


def connection_json(row: DomainRow) -> dict[str, Any]:
    return {"require_tls": row.require_tls, "skip_verification": row.skip_verification}


TRACKING_KINDS = ("open", "click", "unsubscribe")
_ACTIVE = {"yes": True, "true": True, "no": False, "false": False}
_CLICK_ACTIVE = {"yes": "yes", "true": "yes", "no": "no", "false": "no", "htmlonly": "htmlonly"}
MAX_FOOTER = 10_000


def _tracking_values(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """The domain columns one ``PUT /v3/domains/{name}/tracking/{kind}`` form changes."""
    values: dict[str, Any] = {}
    active = form.get("active")
    if active is not None:
        table: dict[str, Any] = _CLICK_ACTIVE if kind == "click" else _ACTIVE
        decoded = table.get(active.strip().lower())
        if decoded is None:
            allowed = "yes, no, true, false" + (", htmlonly" if kind == "click" else "")
            raise InvalidInput(f"'active' must be one of {allowed}", field="active")
        column = {"open": "track_opens", "click": "track_clicks"}.get(kind, "track_unsubscribes")
        values[column] = decoded
    if kind == "open" and form.get("place_at_the_top") is not None:
        values["track_opens_at_top"] = _flag(form, "place_at_the_top", False)
    if kind == "unsubscribe":
        for name in ("html_footer", "text_footer"):
            footer = form.get(name)
            if footer is not None:
                if len(footer) > MAX_FOOTER:
                    raise InvalidInput(
                        f"'{name}' must be at most {MAX_FOOTER} characters", field=name
                    )
                values[f"unsubscribe_{name}"] = footer
    return values


async def update_tracking(store: Store, name: str, kind: str, form: dict[str, str]) -> DomainRow:
    """Mailgun's ``PUT /v3/domains/{name}/tracking/{open|click|unsubscribe}``."""
    if kind not in TRACKING_KINDS:
        raise NotFound("Not found")
    row = await get_domain(store, name)
    values = _tracking_values(kind, form)
    if not values:
        return row

    async def update(conn: AsyncConnection) -> DomainRow | None:
        await queries.update_domain(conn, row.name, values)
        return await queries.get_domain(conn, row.name)

    updated = await store.write(update)
    assert updated is not None
    return updated


def tracking_json(row: DomainRow, kind: str) -> dict[str, Any]:
    """One part of Mailgun's ``tracking`` object: ``open``, ``click`` or ``unsubscribe``."""
    if kind == "open":
        return {"active": row.track_opens, "place_at_the_top": row.track_opens_at_top}
    if kind == "click":
        clicks = row.track_clicks
        return {"active": "htmlonly" if clicks == "htmlonly" else clicks == "yes"}
    return {
        "active": row.track_unsubscribes,
        "html_footer": row.unsubscribe_html_footer,
        "text_footer": row.unsubscribe_text_footer,
    }


async def delete_domain(store: Store, name: str) -> None:
    async def remove(conn: AsyncConnection) -> bool:
        return await queries.delete_domain(conn, name)

    if not await store.write(remove):
        raise NotFound(f"Domain not found: {name}")


async def verify_domain(
    store: Store, resolver: Resolver, plan: DnsPlan, name: str, *, now: float
) -> tuple[DomainRow, list[DnsRecord], list[DnsRecord]]:
    """Look the records up for real; the domain is active once SPF and DKIM are published.
    A pending (rotated) DKIM key whose record is published becomes the active one first."""
    row = await get_domain(store, name)
    activated, _ = await activate_verified(store, resolver, row, now=now)
    if activated:
        row = await get_domain(store, name)
    sending, receiving = await asyncio.gather(
        check_records(resolver, plan.sending(row)), check_records(resolver, plan.receiving(row))
    )
    authenticated = all(r.valid == "valid" for r in sending if r.record_type == "TXT")
    state = "active" if authenticated or row.type == "sandbox" else "unverified"
    if state != row.state:

        async def update(conn: AsyncConnection) -> DomainRow | None:
            await queries.update_domain(conn, row.name, {"state": state})
            return await queries.get_domain(conn, row.name)

        updated = await store.write(update)
        assert updated is not None
        row = updated
    return row, sending, receiving


async def doctor_domain(
    store: Store, resolver: Resolver, plan: DnsPlan, name: str, *, now: float
) -> Diagnosis:
    """Every check a receiver makes of the domain's DNS, each with a plain-language fix."""
    row, rows = await list_keys(store, name)
    states = {k.id: effective_state(k, now) for k in rows}
    keys = [
        DkimExpectation(k.selector, txt_value(k.public_key, k.algorithm), states[k.id])
        for k in rows
        if states[k.id] in ("active", "pending", "retiring")
    ]
    doctor_plan = DoctorPlan(plan.spf, plan.target, plan.is_receiving, plan.egress)
    return await diagnose(resolver, row.name, doctor_plan, keys)


async def ensure_sandbox(store: Store, *, now: float) -> DomainRow | None:
    """First start creates one sandbox domain; returns it when it was just created."""
    async with store.read() as conn:
        if await queries.count_domains(conn, type_="sandbox"):
            return None
    name = f"sandbox{secrets.token_hex(16)}{SANDBOX_SUFFIX}"
    return await create_domain(store, name, {}, now=now, type_="sandbox")


def domain_json(row: DomainRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "state": row.state,
        "type": row.type,
        "created_at": formatdate(row.created_at, usegmt=True),
        "smtp_login": f"postmaster@{row.name}",
        "spam_action": row.spam_action,
        "wildcard": row.wildcard,
        "require_tls": row.require_tls,
        "skip_verification": row.skip_verification,
        "web_scheme": row.web_scheme,
        "web_prefix": row.web_prefix,
        "is_disabled": row.is_disabled,
    }
