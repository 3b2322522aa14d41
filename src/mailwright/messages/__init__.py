"""Accepting sends: parse Mailgun's form, store once, render each recipient's bytes."""

from mailwright.messages.accept import QUEUED, Accepted, accept, storage_url
from mailwright.messages.form import (
    MAX_MESSAGE_BYTES,
    MAX_RECIPIENTS,
    SendRequest,
    Upload,
    parse_mime_send,
    parse_send,
)
from mailwright.messages.storage import StoredMessage, decode, load, load_many, resend_request
from mailwright.messages.stored import attachment, describe

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_RECIPIENTS",
    "QUEUED",
    "Accepted",
    "SendRequest",
    "StoredMessage",
    "Upload",
    "accept",
    "attachment",
    "decode",
    "describe",
    "load",
    "load_many",
    "parse_mime_send",
    "parse_send",
    "resend_request",
    "storage_url",
]
