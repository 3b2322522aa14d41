"""Describe a rendered message as Mailgun's stored-message JSON (GET on the storage URL); pure."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage, Message
from typing import Any

_TOP_HEADERS = ("Content-Type", "From", "Subject", "To", "Message-Id", "Date")


def _parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, _class=EmailMessage, policy=email_policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _files(message: EmailMessage) -> list[EmailMessage]:
    """Attachment and inline file parts, in message order: their index is the URL's index."""
    body_ids = {id(part) for part in (message.get_body(("plain",)), message.get_body(("html",)))}
    return [part for part in message.walk() if _is_file(part) and id(part) not in body_ids]


def attachment(raw: bytes, index: int) -> tuple[str, bytes] | None:
    """(content type, bytes) of the ``index``-th file of a message, as ``describe`` numbers them."""
    files = _files(_parse(raw))
    if not 0 <= index < len(files):
        return None
    payload = files[index].get_payload(decode=True)
    return files[index].get_content_type(), payload if isinstance(payload, bytes) else b""


def describe(
    raw: bytes,
    *,
    recipients: list[str],
    sender: str,
    attachment_url: Callable[[int], str],
) -> dict[str, Any]:
    message = _parse(raw)
    plain = _body_text(message, "plain")
    html = _body_text(message, "html")
    files = _files(message)
    attachments: list[dict[str, Any]] = []
    content_ids: dict[str, str] = {}
    for index, part in enumerate(files):
        url = attachment_url(index)
        payload = part.get_payload(decode=True)
        attachments.append(
            {
                "url": url,
                "content-type": part.get_content_type(),
                "name": part.get_filename() or "",
                "size": len(payload) if isinstance(payload, bytes) else 0,
            }
        )
        content_id = part.get("Content-ID")
        if content_id:
            content_ids[str(content_id).strip()] = url
    described: dict[str, Any] = {
        name: str(message[name]) for name in _TOP_HEADERS if message[name] is not None
    }
    described |= {
        "recipients": ",".join(recipients),
        "sender": sender,
        "from": str(message.get("From", "")),
        "subject": str(message.get("Subject", "")),
        "body-plain": plain,
        # Quoted-reply and signature stripping is a later issue: stripped = full body for now.
        "stripped-text": plain,
        "stripped-signature": "",
        "body-html": html,
        "stripped-html": html,
        "attachments": attachments,
        "content-id-map": content_ids,
        "message-headers": [[name, str(value)] for name, value in message.items()],
    }
    variables = message.get("X-Mailgun-Variables")
    if variables is not None:
        described["X-Mailgun-Variables"] = str(variables)
    return described


def _body_text(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    if part is None:
        return ""
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    return content if isinstance(content, str) else ""


def _is_file(part: Message) -> bool:
    if part.is_multipart():
        return False
    return part.get_content_disposition() in ("attachment", "inline") or bool(part.get_filename())
