"""SMTP replies: the `Reply` value, its parser, and the named replies used by our client and server.

A constant's name carries its code (aiosmtpd's ``S250_OK`` convention). Replies whose code starts
with 421 and which are never seen on the wire are *synthesized* by the client: they describe a
socket, TLS or timeout failure in the same shape as a server's reply, so that classification has a
single input (KumoMTA's ``rfc5321::Response``). Enhanced codes follow RFC 3463 and its registry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)")
_CODE = re.compile(r"[2-5]\d\d")


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    enhanced: str | None  # "5.1.1" (RFC 2034/3463), or None when the server sent none
    text: str  # the lines of a multi-line reply joined with "\n", enhanced code removed

    @property
    def is_positive(self) -> bool:
        return self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return self.code >= 500

    def __str__(self) -> str:
        prefix = f"{self.code} {self.enhanced}" if self.enhanced else str(self.code)
        return f"{prefix} {self.text}".rstrip()

    def lines(self) -> list[str]:
        """The reply as a server sends it: "250-first", ..., "250 last" (without CRLF)."""
        texts = self.text.split("\n")
        enhanced = f"{self.enhanced} " if self.enhanced else ""
        return [
            f"{self.code}{'-' if i < len(texts) - 1 else ' '}{enhanced}{text}".rstrip()
            for i, text in enumerate(texts)
        ]

    def with_detail(self, detail: str) -> Reply:
        return Reply(self.code, self.enhanced, f"{self.text}: {detail}")


def parse_reply(lines: Sequence[str]) -> Reply:
    """Parse the lines of one reply (without CRLF); raises ValueError when they are not SMTP.

    The enhanced code is read from the first line and accepted only when its class matches the
    reply's (RFC 3463 section 2); the same prefix is then removed from every line, as servers that
    send one repeat it on each line:

    >>> parse_reply(["550-5.1.1 No such user", "550 5.1.1 Try again"])
    Reply(code=550, enhanced='5.1.1', text='No such user\\nTry again')
    """
    if not lines:
        raise ValueError("empty reply")
    code = _reply_code(lines[0])
    if any(_reply_code(line) != code for line in lines[1:]):
        raise ValueError(f"inconsistent codes in reply {lines!r}")
    texts = [line[4:] for line in lines]
    enhanced = _ENHANCED.match(texts[0])
    if enhanced is None or enhanced.group(1) != str(code)[0]:
        return Reply(code, None, "\n".join(texts))
    value = f"{enhanced.group(1)}.{enhanced.group(2)}.{enhanced.group(3)}"
    return Reply(code, value, "\n".join(_strip_enhanced(text, value) for text in texts))


def _reply_code(line: str) -> int:
    if not _CODE.fullmatch(line[:3]) or line[3:4] not in ("", " ", "-"):
        raise ValueError(f"not an SMTP reply line: {line[:80]!r}")
    return int(line[:3])


def _strip_enhanced(text: str, value: str) -> str:
    match = _ENHANCED.match(text)
    if match is None or f"{match.group(1)}.{match.group(2)}.{match.group(3)}" != value:
        return text
    return text[match.end() :]


# Replies seen in a normal dialogue (RFC 5321 4.2.2).
S220_READY = Reply(220, None, "Service ready")
S221_BYE = Reply(221, "2.0.0", "Bye")
S235_AUTH_SUCCESS = Reply(235, "2.7.0", "Authentication successful")
S250_OK = Reply(250, "2.0.0", "OK")
S334_AUTH_CONTINUE = Reply(334, None, "")
S354_START_INPUT = Reply(354, None, "End data with <CR><LF>.<CR><LF>")
S421_SERVICE_UNAVAILABLE = Reply(421, "4.3.2", "Service not available, closing channel")
S450_MAILBOX_UNAVAILABLE = Reply(450, "4.2.0", "Mailbox unavailable")
S451_LOCAL_ERROR = Reply(451, "4.3.0", "Local error in processing")
S452_INSUFFICIENT_STORAGE = Reply(452, "4.3.1", "Insufficient system storage")
S454_TLS_UNAVAILABLE = Reply(454, "4.7.0", "TLS not available")
S500_SYNTAX_ERROR = Reply(500, "5.5.2", "Syntax error, command unrecognized")
S501_ARGUMENT_ERROR = Reply(501, "5.5.4", "Syntax error in parameters or arguments")
S502_NOT_IMPLEMENTED = Reply(502, "5.5.1", "Command not implemented")
S503_BAD_SEQUENCE = Reply(503, "5.5.1", "Bad sequence of commands")
S530_STARTTLS_FIRST = Reply(530, "5.7.0", "Must issue a STARTTLS command first")
S535_AUTH_INVALID = Reply(535, "5.7.8", "Authentication credentials invalid")
S550_MAILBOX_UNAVAILABLE = Reply(550, "5.1.1", "Mailbox unavailable")
S554_TRANSACTION_FAILED = Reply(554, "5.0.0", "Transaction failed")

# Synthesized by the client. Transport failures are transient (421): the next MX or a later
# attempt may succeed, and the retry schedule decides when to give up.
# RFC 3463 X.4.1 "No answer from host": the connection attempt was refused or not answered.
S421_NO_ANSWER = Reply(421, "4.4.1", "No answer from host")
# RFC 3463 X.4.2 "Bad connection": connected, but the transaction could not complete.
S421_BAD_CONNECTION = Reply(421, "4.4.2", "Bad connection")
# RFC 3463 X.5.0: the server's bytes were not an SMTP reply.
S421_PROTOCOL_ERROR = Reply(421, "4.5.0", "Protocol error")
# RFC 3463 X.7.5 "Cryptographic failure": the TLS handshake or certificate check failed.
S421_TLS_FAILURE = Reply(421, "4.7.5", "Cryptographic failure")
# X.7.10 "Encryption needed" (RFC 5248 registry, used by RFC 8689 REQUIRETLS): TLS was required
# but the server did not offer STARTTLS or refused it. Transient per attempt, as Postfix's
# "encrypt" level defers: RFC 8689 4.2.1 has the client try the other MXs before giving up.
S421_ENCRYPTION_NEEDED = Reply(421, "4.7.10", "Encryption needed")
# RFC 4954 X.7.11 (sent by servers as 538): we refuse to send credentials in clear text to a
# non-loopback peer. Transient: it is our configuration to fix, not the recipient's fault.
S421_AUTH_NEEDS_TLS = Reply(421, "4.7.11", "Encryption required for authentication")
# AUTH was configured but the server offers no mechanism we speak (PLAIN, LOGIN).
S421_AUTH_UNAVAILABLE = Reply(421, "4.7.0", "No supported AUTH mechanism offered")
# RFC 1870 section 6: the message exceeds the server's advertised SIZE; refused before MAIL.
S552_MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
# RFC 6531 3.4: the message needs SMTPUTF8 and the server does not offer it.
S553_UTF8_UNSUPPORTED = Reply(
    553, "5.6.7", "Non-ASCII addresses not permitted for that sender/recipient"
)
