"""Accepting sends: parse Mailgun's form, store once, render each recipient's bytes."""

from mailwright.messages import templates
from mailwright.messages.accept import QUEUED, Accepted, accept, storage_url
from mailwright.messages.form import (
    MAX_MESSAGE_BYTES,
    MAX_RECIPIENTS,
    SendRequest,
    Upload,
    parse_mime_send,
    parse_send,
)
from mailwright.messages.monthly_limit import (
    MonthlyLimit,
    MonthlyUsage,
    delete_monthly_limit,
    enable_sending,
    get_monthly_usage,
    set_monthly_limit,
)
from mailwright.messages.return_path import verp_key
from mailwright.messages.storage import (
    StoredMessage,
    decode,
    load,
    load_facts,
    load_many,
    resend_request,
)
from mailwright.messages.stored import attachment, describe
from mailwright.messages.templates import Page as TemplatePage
from mailwright.messages.templates import VersionInput
from mailwright.messages.tracking import (
    CLICK_MODES,
    DomainTracking,
    Token,
    TokenKind,
    Tracking,
    resolve,
    sign,
    verify,
)
from mailwright.messages.tracking_setup import TrackingKey, domain_tracking, tracking_for
from mailwright.messages.verp import ReturnPathMatch, parse_return_path, return_path

__all__ = [
    "CLICK_MODES",
    "MAX_MESSAGE_BYTES",
    "MAX_RECIPIENTS",
    "QUEUED",
    "Accepted",
    "DomainTracking",
    "MonthlyLimit",
    "MonthlyUsage",
    "ReturnPathMatch",
    "SendRequest",
    "StoredMessage",
    "TemplatePage",
    "Token",
    "TokenKind",
    "Tracking",
    "TrackingKey",
    "Upload",
    "VersionInput",
    "accept",
    "attachment",
    "decode",
    "delete_monthly_limit",
    "describe",
    "domain_tracking",
    "enable_sending",
    "get_monthly_usage",
    "load",
    "load_facts",
    "load_many",
    "parse_mime_send",
    "parse_return_path",
    "parse_send",
    "resend_request",
    "resolve",
    "return_path",
    "set_monthly_limit",
    "sign",
    "storage_url",
    "templates",
    "tracking_for",
    "verify",
    "verp_key",
]
