"""Webhooks: Mailgun's domain and account webhooks APIs, the signing key, and the outbox
worker that signs and POSTs each event (``events.record`` writes the outbox rows)."""

from mailwright.webhooks.account import (
    create_account_webhook,
    delete_account_webhooks,
    get_account_webhook,
    list_account_webhooks,
    parse_description,
    parse_ids,
    update_account_webhook,
)
from mailwright.webhooks.keys import regenerate_signing_key, signing_key
from mailwright.webhooks.policy import Decision, Verdict, decide
from mailwright.webhooks.sender import Destination, HttpPoster, Poster, PostResult, vet
from mailwright.webhooks.service import (
    KINDS,
    assign_url,
    delete_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
    outbox_backlog,
    parse_kind,
    parse_kinds,
    parse_urls,
    put_webhook,
    remove_urls,
    send_test,
)
from mailwright.webhooks.signing import Signature, sign, verify
from mailwright.webhooks.urls import parse_url
from mailwright.webhooks.worker import SenderConfig, WebhookWorker

__all__ = [
    "KINDS",
    "Decision",
    "Destination",
    "HttpPoster",
    "PostResult",
    "Poster",
    "SenderConfig",
    "Signature",
    "Verdict",
    "WebhookWorker",
    "assign_url",
    "create_account_webhook",
    "decide",
    "delete_account_webhooks",
    "delete_webhook",
    "get_account_webhook",
    "get_webhook",
    "list_account_webhooks",
    "list_deliveries",
    "list_webhooks",
    "outbox_backlog",
    "parse_description",
    "parse_ids",
    "parse_kind",
    "parse_kinds",
    "parse_url",
    "parse_urls",
    "put_webhook",
    "regenerate_signing_key",
    "remove_urls",
    "send_test",
    "sign",
    "signing_key",
    "update_account_webhook",
    "verify",
    "vet",
]
