"""The SMTP smuggling defence of our listeners (CVE-2023-51764 and kin); pure.

RFC 5321 2.3.8 allows CR and LF in DATA only as the pair CRLF. aiosmtpd 1.4.6 reads DATA
line by line up to CRLF and ends it only at a ``<CRLF>.<CRLF>`` it sees at the start of a
line, so ``<LF>.<LF>``, ``<LF>.<CRLF>`` and ``<CR>.<CRLF>`` never end a message here: they stay
inside it, bare CR or LF included. Storing or relaying such a message would carry the
smuggled "second message" on to a server that does treat them as an end of data, so both
listeners refuse any message with a bare CR or LF, as Postfix's
``smtpd_forbid_bare_newline = reject`` does.
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
