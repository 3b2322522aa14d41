"""SMTP replies our listeners send, as named constants with the code in the name (aiosmtpd's
``statuscodes.py`` habit); pure. Texts that carry a value are format strings."""

from __future__ import annotations

S250_QUEUED = "250 2.0.0 Ok: queued as {message_id}"
S250_SENDER_OK = "250 2.1.0 Sender ok"
S250_RECIPIENT_OK = "250 2.1.5 Recipient ok"
S451_INTERNAL = "451 4.3.0 Internal error; try again later"
S451_STORE_ERROR = "451 4.3.0 Message not accepted because of a local error; try again later"
S452_TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
S454_AUTH_TEMPORARY = "454 4.7.0 Temporary authentication failure; try again later"
S530_AUTH_REQUIRED = "530 5.7.0 Authentication required"
S535_AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
S538_ENCRYPTION_REQUIRED = "538 5.7.11 Encryption required for requested authentication mechanism"
# Postfix's smtpd_forbid_bare_newline reply (code 550, enhanced 5.5.2), with the rule cited.
S550_BARE_NEWLINE = "550 5.5.2 Error: bare <LF> or <CR> received (RFC 5321 2.3.8)"
S550_SENDER_NOT_ALLOWED = "550 5.7.1 {what} {address} is not a sender of domain {domain}"
S550_DOMAIN_GONE = "550 5.7.1 The sending domain {domain} of these credentials no longer exists"
S550_SENDING_LIMIT = "550 5.7.1 {text}"  # the account's custom monthly message limit
S552_TOO_BIG = "552 5.3.4 {text}"
S554_INVALID = "554 5.6.0 {text}"


def one_line(text: str) -> str:
    """A reply text must not break the reply line (RFC 5321 4.2)."""
    return " ".join(text.split())
