"""The SMTP smuggling defence of our listeners (CVE-2023-51764 and kin); pure.

RFC 5321 2.3.8 allows CR and LF in DATA only as the pair CRLF. aiosmtpd 1.4.6 reads DATA
line by line up to CRLF and ends it only at a ``<CRLF>.<CRLF>`` it sees at the start of a
line, so ``<LF>.<LF>``, ``<LF>.<CRLF>`` and ``<CR>.<CRLF>`` never end a message here: they stay
inside it, bare CR or LF included. Storing or relaying such a message would carry the
smuggled "second message" on to a server that does treat them as an end of data. The MX
listener (anyone on the internet) refuses any message with a bare CR or LF, as Postfix's
``smtpd_forbid_bare_newline = reject`` does; the submission listener (authenticated or trusted
clients, which Postfix exempts by default) normalises them to CRLF instead (``to_crlf``), so a
client that writes LF-only mail keeps working and the smuggled end of data stays a line inside
one message (which our SMTP client dot-stuffs on the way out).
"""

from __future__ import annotations

_CRLF = b"\r\n"


def has_bare_newline(data: bytes) -> bool:
    """True when ``data`` holds a CR not followed by LF or an LF not preceded by CR.

    >>> has_bare_newline(b"a\\r\\nb\\r\\n"), has_bare_newline(b"a\\n.\\r\\n")
    (False, True)
    """
    pairs = data.count(_CRLF)
    return data.count(b"\r") != pairs or data.count(b"\n") != pairs


def to_crlf(data: bytes) -> bytes:
    """Every bare CR or LF as CRLF (RFC 5321 2.3.8 line ends)."""
    return data.replace(_CRLF, b"\n").replace(b"\r", b"\n").replace(b"\n", _CRLF)
