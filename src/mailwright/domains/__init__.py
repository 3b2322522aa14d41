"""Sending domains: DNS records to publish, DKIM keys and signing, verification checks."""

from mailwright.domains.autorotation import DkimRotator, RotationRound
from mailwright.domains.blocklists import (
    BlocklistConfig,
    BlocklistMonitor,
    blocklist_json,
    check_blocklists,
    current_listings,
    list_blocklists,
)
from mailwright.domains.diagnosis import CheckResult
from mailwright.domains.dkim import DkimKey, generate_key, sign, txt_value
from mailwright.domains.doctor import Diagnosis
from mailwright.domains.quotas import SendingQuota, get_quota, set_quota
from mailwright.domains.records import DnsRecord
from mailwright.domains.rotation import (
    activate_key,
    key_json,
    list_keys,
    retire_expired,
    rotate_key,
    sign_message,
)
from mailwright.domains.service import (
    DnsPlan,
    DomainCache,
    connection_json,
    create_domain,
    delete_domain,
    doctor_domain,
    domain_json,
    ensure_sandbox,
    get_domain,
    list_domains,
    normalise_name,
    tracking_json,
    update_connection,
    update_tracking,
    verify_domain,
)

__all__ = [
    "BlocklistConfig",
    "BlocklistMonitor",
    "CheckResult",
    "Diagnosis",
    "DkimKey",
    "DkimRotator",
    "DnsPlan",
    "DnsRecord",
    "DomainCache",
    "RotationRound",
    "SendingQuota",
    "activate_key",
    "blocklist_json",
    "check_blocklists",
    "connection_json",
    "create_domain",
    "current_listings",
    "delete_domain",
    "doctor_domain",
    "domain_json",
    "ensure_sandbox",
    "generate_key",
    "get_domain",
    "get_quota",
    "key_json",
    "list_blocklists",
    "list_domains",
    "list_keys",
    "normalise_name",
    "retire_expired",
    "rotate_key",
    "set_quota",
    "sign",
    "sign_message",
    "tracking_json",
    "txt_value",
    "update_connection",
    "update_tracking",
    "verify_domain",
]
