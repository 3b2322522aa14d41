"""Rows as frozen, keyword-only records, built through one constructor each (``from_row``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NewType, Self

from sqlalchemy import Row

MessageKey = NewType("MessageKey", str)
DeliveryId = NewType("DeliveryId", int)


class _Record:
    @classmethod
    def from_row(cls, row: Row[Any]) -> Self:
        mapping = row._mapping
        return cls(**{f.name: mapping[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainRow(_Record):
    id: str
    name: str
    type: str
    state: str
    created_at: float
    spam_action: str
    wildcard: bool
    require_tls: bool
    skip_verification: bool
    web_scheme: str
    web_prefix: str
    dkim_selector: str
    dkim_key_size: int
    dkim_private_key: str
    dkim_public_key: str
    dkim_ed25519_selector: str | None
    dkim_ed25519_private_key: str | None
    dkim_ed25519_public_key: str | None
    is_disabled: bool
    track_opens: bool
    track_opens_at_top: bool
    track_clicks: str  # yes | no | htmlonly
    track_unsubscribes: bool
    unsubscribe_html_footer: str
    unsubscribe_text_footer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DkimKeyRow(_Record):
    id: int
    domain_id: str
    selector: str
    algorithm: str  # rsa | ed25519
    key_size: int | None
    private_key: str
    public_key: str
    state: str  # pending | active | retiring | retired
    created_at: float
    activated_at: float | None
    retire_at: float | None
    grace_seconds: float
    is_activated_on_publish: bool = False  # made by a rotation: activated once published


@dataclass(frozen=True, slots=True, kw_only=True)
class DkimRotationRow(_Record):
    domain_id: str
    is_enabled: bool
    interval_seconds: float
    updated_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BlocklistRow(_Record):
    target: str
    zone: str
    kind: str  # ip | domain
    status: str  # listed | clean | error
    codes: str
    reason: str
    checked_at: float
    listed_since: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRow(_Record):
    id: str
    secret_hash: str
    description: str
    kind: str
    role: str
    domain_name: str | None
    is_primary: bool
    created_at: float
    updated_at: float
    expires_at: float | None
    is_disabled: bool
    requestor: str | None
    user_name: str | None
    secret_hint: str
    allowed_ips: str | None
    last_used_at: float | None
    environment: str = "live"  # live | test


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageRow(_Record):
    id: MessageKey
    domain: str
    message_id: str
    sender: str
    subject: str
    spec: str
    recipients: str
    size: int
    method: str
    is_test_mode: bool
    created_at: float
    expires_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryRow(_Record):
    id: DeliveryId
    message_key: MessageKey
    domain: str
    recipient: str
    recipient_index: int
    recipient_domain: str
    status: str
    due_at: float
    attempts: int
    created_at: float
    member: str | None = None  # JSON {"list", "name", "vars"} of a mailing-list delivery


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxRow(_Record):
    id: str
    delivery_id: int
    message_key: str
    domain: str
    recipient: str
    sender: str
    subject: str
    message_id: str
    created_at: float
    expires_at: float
