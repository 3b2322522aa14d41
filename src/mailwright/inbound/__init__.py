"""Inbound mail: the MX and submission listeners, routes, DSN/ARF parsing and the processor
that runs after a message has been stored."""

from mailwright.inbound.certificate import ensure_self_signed, server_tls_context
from mailwright.inbound.headers import split_controls
from mailwright.inbound.listener import Listener, start_smtp
from mailwright.inbound.senders import is_sender_allowed
from mailwright.inbound.submission import SubmissionConfig, SubmissionHandler, is_loopback

__all__ = [
    "Listener",
    "SubmissionConfig",
    "SubmissionHandler",
    "ensure_self_signed",
    "is_loopback",
    "is_sender_allowed",
    "server_tls_context",
    "split_controls",
    "start_smtp",
]
