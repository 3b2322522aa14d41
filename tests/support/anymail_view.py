"""django-anymail's real Mailgun tracking webhook view, called on the exact bytes we POSTed."""

from __future__ import annotations

import base64

import django
from django.conf import settings

BASIC_AUTH = "hookuser:hooksecret"


def _configure(signing_key: str) -> None:
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="test-only",
            ALLOWED_HOSTS=["*"],
            INSTALLED_APPS=["anymail"],
            ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": signing_key, "WEBHOOK_SECRET": BASIC_AUTH},
            USE_TZ=True,
        )
        django.setup()
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": signing_key, "WEBHOOK_SECRET": BASIC_AUTH}


def anymail_status(signing_key: str, body: bytes) -> tuple[int, list[object]]:
    """The status anymail's MailgunTrackingWebhookView answers for ``body``, and the
    normalised events it sent to its ``tracking`` signal."""
    _configure(signing_key)
    from anymail.signals import tracking
    from anymail.webhooks.mailgun import MailgunTrackingWebhookView
    from django.core.exceptions import SuspiciousOperation
    from django.test import RequestFactory

    seen: list[object] = []

    def receiver(sender: object, event: object, esp_name: str, **kwargs: object) -> None:
        seen.append(event)

    tracking.connect(receiver, weak=False)
    try:
        request = RequestFactory().post(
            "/anymail/mailgun/tracking/",
            data=body,
            content_type="application/json",
            HTTP_AUTHORIZATION="Basic " + base64.b64encode(BASIC_AUTH.encode()).decode(),
        )
        try:
            response = MailgunTrackingWebhookView.as_view()(request)
        except SuspiciousOperation:
            # AnymailWebhookValidationFailure is one; Django's request handler answers it 400.
            return 400, seen
    finally:
        tracking.disconnect(receiver)
    return response.status_code, seen


def anymail_inbound(
    signing_key: str, body: bytes, content_type: str, path: str = "/anymail/mailgun/inbound/"
) -> tuple[int, list[object]]:
    """The status anymail's MailgunInboundWebhookView answers for a route forward POST of
    ``body`` (``content_type`` carries the multipart boundary), and the inbound events it sent
    to its ``inbound`` signal."""
    _configure(signing_key)
    from anymail.signals import inbound
    from anymail.webhooks.mailgun import MailgunInboundWebhookView
    from django.core.exceptions import SuspiciousOperation
    from django.test import RequestFactory

    seen: list[object] = []

    def receiver(sender: object, event: object, esp_name: str, **kwargs: object) -> None:
        seen.append(event)

    inbound.connect(receiver, weak=False)
    try:
        request = RequestFactory().post(
            path,
            data=body,
            content_type=content_type,
            HTTP_AUTHORIZATION="Basic " + base64.b64encode(BASIC_AUTH.encode()).decode(),
        )
        try:
            response = MailgunInboundWebhookView.as_view()(request)
        except SuspiciousOperation:
            return 400, seen
    finally:
        inbound.disconnect(receiver)
    return response.status_code, seen


def anymail_connection(base_url: str, api_key: str) -> object:
    """django-anymail's Mailgun email backend, pointed at ``base_url`` as its users point it
    (``MAILGUN_API_URL`` with ``/v3``; anymail appends ``{domain}/messages``)."""
    _configure("unused-signing-key")
    from django.core.mail import get_connection

    return get_connection(
        "anymail.backends.mailgun.EmailBackend", api_key=api_key, api_url=f"{base_url}/v3"
    )
