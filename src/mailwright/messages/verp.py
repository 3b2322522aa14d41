"""The envelope sender (VERP return path) of one delivery, and reading it back; pure, no I/O.

Each delivery is sent with its own MAIL FROM, Mailgun's shape::

    bounce+<tag>-<local>=<rcpt-domain>@<sending-domain>
    bounce+1a2.k3mf7qwzt2hd-bob=example.net@mg.example.com

so a bounce or complaint arriving at that address names the delivery it is about, even when
the reporting MTA mangles or drops everything else. ``<tag>`` is ``<id>.<mac>``: the delivery
id in base 36 and the first 12 base32 characters (60 bits) of
``HMAC-SHA256(key, "verp1" NUL id NUL sending-domain NUL casefold(recipient))``, so a forged
address, or a real tag paired with another recipient or domain, is rejected.

Some MTAs lowercase the local part, so everything in it is case-insensitive: base 36, base32
in lower case, ``%XX`` hex escapes, and the MAC covers the case-folded recipient. A recipient
that comes back lowercased is therefore still accepted, lowercased. Characters outside a
plain dot-atom (quotes, spaces, ``%``, non-ASCII, repeated dots) are written as ``%XX`` of
their UTF-8 bytes, and a non-ASCII local part or domain as ``%u`` and its Punycode (RFC 3492,
whose digits are case-insensitive too), so the return path stays ASCII and any recipient
round-trips. When the local part would exceed 64 octets (RFC 5321 4.5.3.1.1), the readable
``-<local>=<domain>`` is left out and only the tag is kept; :func:`parse_return_path` then
returns no recipient.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import string
from dataclasses import dataclass

PREFIX = "bounce+"
MAX_LOCAL_PART = 64  # octets, RFC 5321 4.5.3.1.1
_MAC_CHARS = 12  # base32 characters: 60 bits
_MAX_ID = 2**63 - 1  # deliveries are BIGINT rows
_MAC_CONTEXT = b"verp1"
# atext (RFC 5322 3.2.3) without "%", our escape character; "." is handled separately.
_PLAIN = frozenset(string.ascii_letters + string.digits + "!#$&'*+-/=?^_`{|}~")
_TAG = re.compile(rf"([0-9a-z]{{1,13}})\.([a-z2-7]{{{_MAC_CHARS}}})")
_ESCAPE = re.compile(r"%([0-9a-fA-F]{2})")
_PUNYCODE = "%u"  # never an escape: "u" is no hex digit


@dataclass(frozen=True, slots=True)
class ReturnPathMatch:
    delivery_id: int
    recipient: str | None  # None when the return path was too long to carry it
    domain: str  # the sending domain, lowercased


def return_path(delivery_id: int, recipient: str, domain: str, key: bytes) -> str:
    """The MAIL FROM for one delivery of ``recipient`` sent from ``domain``."""
    if not key:
        raise ValueError("the VERP key is empty")
    if not 0 <= delivery_id <= _MAX_ID:
        raise ValueError(f"delivery id out of range: {delivery_id}")
    local, at, rcpt_domain = recipient.rpartition("@")
    if not at or not local or not rcpt_domain:
        raise ValueError(f"not an address: {recipient!r}")
    sending = _normal_domain(domain)
    readable = f"-{_encode(local, keep_equals=True)}={_encode(rcpt_domain, keep_equals=False)}"
    with_recipient = f"{PREFIX}{_tag(key, delivery_id, sending, recipient)}{readable}"
    if len(with_recipient) <= MAX_LOCAL_PART:
        return f"{with_recipient}@{sending}"
    return f"{PREFIX}{_tag(key, delivery_id, sending, None)}@{sending}"


def parse_return_path(address: str, key: bytes) -> ReturnPathMatch | None:
    """The delivery a return path names; None if it is not ours or its MAC does not check."""
    local, at, domain = _bare(address).rpartition("@")
    if not at or local[: len(PREFIX)].lower() != PREFIX or not key:
        return None
    tag, dash, readable = local[len(PREFIX) :].partition("-")
    tag = tag.lower()
    match = _TAG.fullmatch(tag)
    if match is None:
        return None
    delivery_id = int(match[1], 36)
    recipient = _recipient(readable) if dash else None
    sending = _normal_domain(domain)
    if delivery_id > _MAX_ID or (dash and recipient is None):
        return None
    expected = _tag(key, delivery_id, sending, recipient)
    if not hmac.compare_digest(expected.encode(), tag.encode()):
        return None
    return ReturnPathMatch(delivery_id=delivery_id, recipient=recipient, domain=sending)


def _tag(key: bytes, delivery_id: int, domain: str, recipient: str | None) -> str:
    fields = [_MAC_CONTEXT, str(delivery_id).encode(), domain.encode("utf-8", "surrogatepass")]
    fields.append(
        b"" if recipient is None else recipient.casefold().encode("utf-8", "surrogatepass")
    )
    mac = hmac.new(key, b"\0".join(fields), hashlib.sha256).digest()
    code = base64.b32encode(mac).decode("ascii").lower()[:_MAC_CHARS]
    return f"{_base36(delivery_id)}.{code}"


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
        if number == 0:
            return digits


def _encode(text: str, *, keep_equals: bool) -> str:
    """``text`` escaped; non-ASCII text as ``%u`` + its (escaped) Punycode, which is shorter."""
    if text.isascii():
        return _escape(text, keep_equals=keep_equals)
    return _PUNYCODE + _escape(text.encode("punycode").decode("ascii"), keep_equals=keep_equals)


def _decode(text: str) -> str:
    if text[: len(_PUNYCODE)].lower() == _PUNYCODE:
        return _unescape(text[len(_PUNYCODE) :]).encode("ascii").decode("punycode")
    return _unescape(text)


def _escape(text: str, *, keep_equals: bool) -> str:
    """``text`` as dot-atom characters: unsafe ones, and a dot after a dot, become ``%XX``."""
    out: list[str] = []
    for index, char in enumerate(text):
        lone_dot = char == "." and out and not out[-1].endswith(".") and index < len(text) - 1
        if lone_dot or (char in _PLAIN and (keep_equals or char != "=")):
            out.append(char)
        else:
            out.append("".join(f"%{byte:02x}" for byte in char.encode("utf-8", "surrogatepass")))
    return "".join(out)


def _recipient(readable: str) -> str | None:
    """``<local>=<domain>`` back to ``local@domain``; None when malformed."""
    local, equals, domain = readable.rpartition("=")
    if not equals or not local or not domain:
        return None
    try:
        recipient = f"{_decode(local)}@{_decode(domain)}"
        recipient.encode("utf-8")  # no lone surrogates from a crafted Punycode
    except (ValueError, OverflowError):  # a stray "%", raw non-ASCII, bad UTF-8 or Punycode
        return None
    return recipient


def _unescape(text: str) -> str:
    out = bytearray()
    position = 0
    for match in _ESCAPE.finditer(text):
        out += _literal(text[position : match.start()])
        out.append(int(match[1], 16))
        position = match.end()
    out += _literal(text[position:])
    return out.decode("utf-8")


def _literal(text: str) -> bytes:
    if "%" in text:
        raise ValueError("stray escape character")
    return text.encode("ascii")


def _bare(address: str) -> str:
    """An address without surrounding whitespace or angle brackets."""
    text = address.strip()
    if "<" in text and text.endswith(">"):
        text = text[text.rindex("<") + 1 : -1]
    return text.strip()


def _normal_domain(domain: str) -> str:
    return domain.strip().rstrip(".").lower()
