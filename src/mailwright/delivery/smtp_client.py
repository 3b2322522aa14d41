"""The outbound SMTP client: one connection (`SmtpSession`) carrying one or more transactions.

It is written on asyncio streams so that the envelope can be pipelined (RFC 2920) and the dialogue
kept as a transcript. Remote outcomes are values, never exceptions: `SmtpSession.open` and
`SmtpSession.send` return an `AttemptResult` (postal's ``SendResult``), and every socket, TLS,
timeout and protocol error is translated into a synthesized `Reply` in one place, `_guard`
(httpx's ``map_httpcore_exceptions``).

A session follows RFC 5321 with these extensions: PIPELINING, SIZE (RFC 1870), 8BITMIME
(RFC 6152), SMTPUTF8 (RFC 6531), STARTTLS (RFC 3207) and AUTH PLAIN/LOGIN (RFC 4954).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import functools
import ipaddress
import re
import ssl
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

from mailwright.delivery.replies import (
    S220_READY,
    S235_AUTH_SUCCESS,
    S250_OK,
    S334_AUTH_CONTINUE,
    S354_START_INPUT,
    S421_AUTH_NEEDS_TLS,
    S421_AUTH_UNAVAILABLE,
    S421_BAD_CONNECTION,
    S421_ENCRYPTION_NEEDED,
    S421_NO_ANSWER,
    S421_PROTOCOL_ERROR,
    S421_SERVICE_UNAVAILABLE,
    S421_TLS_FAILURE,
    S552_MESSAGE_TOO_BIG,
    S553_UTF8_UNSUPPORTED,
    Reply,
    parse_reply,
)

__all__ = [
    "AttemptResult",
    "RecipientOutcome",
    "Reply",
    "SmtpSession",
    "Timeouts",
    "TlsPolicy",
    "stuff_data",
]

_CRLF = b"\r\n"
_DATA_BLOCK = 64 * 1024  # bytes written per drain, each bounded by Timeouts.data_block
_LINE_LIMIT = 64 * 1024  # longest reply line we buffer (RFC 5321 4.5.3.1.5 asks for 512)
_MAX_REPLY_LINES = 1000
_BARE_EOL = re.compile(rb"\r\n|\r|\n")
_CONNECT = "connect"
_HANDSHAKE = "TLS handshake"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed per phase; the defaults are RFC 5321 4.5.3.2's minimums."""

    connect: float = 30
    greeting: float = 300
    ehlo: float = 300  # also AUTH
    starttls: float = 60  # the STARTTLS reply and the handshake, each
    mail: float = 300
    rcpt: float = 300
    data_init: float = 120
    data_block: float = 180  # each 64 KiB block of message data
    data_end: float = 600
    quit: float = 10


@dataclass(frozen=True, slots=True)
class TlsPolicy:
    require_tls: bool = False  # fail the attempt when TLS cannot be established
    # Verify the chain and the host name. Without require_tls a failed verification falls back to
    # an unverified session (opportunistic TLS, RFC 7435), and a failed handshake to plain text.
    verify: bool = True
    implicit_tls: bool = False  # TLS from the first byte (smtps, RFC 8314), for relays
    ssl_context: ssl.SSLContext | None = None  # the verifying context; default: system CAs


@dataclass(frozen=True, slots=True)
class RecipientOutcome:
    recipient: str
    reply: Reply  # the RCPT reply when RCPT failed, else the reply that ended the transaction


@dataclass(frozen=True, slots=True)
class AttemptResult:
    host: str
    port: int
    connected: bool
    tls: bool
    certificate_verified: bool
    utf8: bool  # the transaction used SMTPUTF8
    session_seconds: float  # since the connection attempt began
    # Why the transaction as a whole failed; it applies to every recipient without an outcome.
    error: Reply | None
    recipients: tuple[RecipientOutcome, ...]
    transcript: str  # "C: "/"S: " lines since the previous result; AUTH and message data elided

    def reply_for(self, recipient: str) -> Reply | None:
        for outcome in self.recipients:
            if outcome.recipient == recipient:
                return outcome.reply
        return self.error


class _Failure(Exception):
    """Internal: the attempt stops with ``reply``; ``is_broken`` when the connection is unusable."""

    def __init__(self, reply: Reply, *, is_broken: bool, phase: str = "") -> None:
        super().__init__(str(reply))
        self.reply = reply
        self.is_broken = is_broken
        self.phase = phase


class _MalformedReply(Exception):
    """The server's bytes are not an SMTP reply."""


# Checked in order, so subclasses come before their bases (SSLError and TimeoutError are OSErrors).
_TRANSLATIONS: tuple[tuple[type[BaseException], Reply, str], ...] = (
    (TimeoutError, S421_BAD_CONNECTION, "timed out"),
    (ssl.SSLCertVerificationError, S421_TLS_FAILURE, "certificate verification failed"),
    (ssl.SSLError, S421_TLS_FAILURE, "TLS error"),
    (ConnectionRefusedError, S421_NO_ANSWER, "connection refused"),
    (asyncio.IncompleteReadError, S421_BAD_CONNECTION, "connection closed by the server"),
    (_MalformedReply, S421_PROTOCOL_ERROR, "malformed reply"),
    (OSError, S421_BAD_CONNECTION, "network error"),
)


def _translate(exc: BaseException, phase: str) -> Reply | None:
    for kind, reply, what in _TRANSLATIONS:
        if isinstance(exc, kind):
            # RFC 3463: a connection attempt that fails in any way is X.4.1, later failures X.4.2.
            base = S421_NO_ANSWER if phase == _CONNECT and reply is S421_BAD_CONNECTION else reply
            detail = str(exc) if isinstance(exc, OSError | _MalformedReply) else ""
            return base.with_detail(f"{what} during {phase}" + (f" ({detail})" if detail else ""))
    return None


@contextlib.asynccontextmanager
async def _guard(phase: str, seconds: float) -> AsyncIterator[None]:
    """Bound one I/O step by ``seconds`` and turn socket, TLS and protocol errors into replies."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except Exception as exc:
        reply = _translate(exc, phase)
        if reply is None:
            raise
        raise _Failure(reply, is_broken=True, phase=phase) from exc


def stuff_data(data: bytes) -> tuple[bytes, ...]:
    """The message as sent after DATA, in pieces: CRLF line ends, dot-stuffed, ended by CRLF.CRLF.

    RFC 5321 4.5.2 (a leading dot is doubled) and 2.3.8 (bare CR and LF become CRLF). The message
    is copied once at most, or twice when its line ends need normalising:

    >>> stuff_data(b".hi\\n.there")
    (b'.', b'.hi\\r\\n..there', b'\\r\\n.\\r\\n')
    """
    if not data.count(b"\n") == data.count(_CRLF) == data.count(b"\r"):
        data = _BARE_EOL.sub(_CRLF, data)
    stuffed = data.replace(b"\r\n.", b"\r\n..")
    head = b"." if stuffed.startswith(b".") else b""
    tail = b".\r\n" if not stuffed or stuffed.endswith(_CRLF) else b"\r\n.\r\n"
    return tuple(part for part in (head, stuffed, tail) if part)


def _blocks(parts: Sequence[bytes]) -> Iterator[memoryview]:
    for part in parts:
        view = memoryview(part)
        for start in range(0, len(view), _DATA_BLOCK):
            yield view[start : start + _DATA_BLOCK]


def _parse_extensions(reply: Reply) -> dict[str, str]:
    """EHLO keywords (upper case) to their parameters; the first line is the server's name."""
    extensions: dict[str, str] = {}
    for line in reply.text.split("\n")[1:]:
        keyword, _, params = line.strip().partition(" ")
        if keyword:
            extensions[keyword.upper()] = params.strip()
    return extensions


def _size_limit(extensions: dict[str, str]) -> int | None:
    """RFC 1870: "SIZE n" is the fixed maximum; "SIZE" or "SIZE 0" means no fixed maximum."""
    value = extensions.get("SIZE", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def _check_address(address: str) -> None:
    if any(char in address for char in "\r\n\0<>"):
        raise ValueError(f"address {address!r} cannot be sent in an SMTP path")


@functools.cache
def _verifying_context() -> ssl.SSLContext:
    return ssl.create_default_context()


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _Transcript:
    """The dialogue since the last `take`; credentials and message data never enter it."""

    __slots__ = ("_lines",)

    def __init__(self) -> None:
        self._lines: list[str] = []

    def note(self, text: str) -> None:
        self._lines.append(f"* {text}")

    def client(self, line: str) -> None:
        self._lines.append(f"C: {line}")

    def server(self, line: str) -> None:
        self._lines.append(f"S: {line}")

    def take(self) -> str:
        text = "\n".join(self._lines)
        self._lines.clear()
        return text


class _Channel:
    """One TCP or TLS stream; every read and write goes through `_guard`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transcript: _Transcript
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._transcript = transcript
        self.is_open = True
        self.is_closing = False  # the server said 421: it is closing the channel

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        context: ssl.SSLContext | None,
        server_hostname: str,
        local_addr: str | None,
        seconds: float,
        transcript: _Transcript,
    ) -> _Channel:
        transcript.note(f"connecting to {host}:{port}" + (" with TLS" if context else ""))
        async with _guard(_CONNECT, seconds):
            reader, writer = await asyncio.open_connection(
                host,
                port,
                ssl=context,
                server_hostname=server_hostname if context else None,
                local_addr=(local_addr, 0) if local_addr else None,
                limit=_LINE_LIMIT,
            )
        return cls(reader, writer, transcript)

    @property
    def is_tls(self) -> bool:
        return self._writer.get_extra_info("ssl_object") is not None

    @property
    def is_loopback(self) -> bool:
        peer = self._writer.get_extra_info("peername")
        try:
            return ipaddress.ip_address(peer[0]).is_loopback
        except (TypeError, ValueError, IndexError):
            return False

    async def read_reply(self, phase: str, seconds: float) -> Reply:
        async with _guard(phase, seconds):
            reply = await self._read_reply()
        if reply.code == S421_SERVICE_UNAVAILABLE.code:
            # RFC 5321 3.8: 421 may answer any command and the server then closes the channel.
            self.is_closing = True
            raise _Failure(reply, is_broken=True, phase=phase)
        return reply

    async def _read_reply(self) -> Reply:
        lines: list[str] = []
        while len(lines) < _MAX_REPLY_LINES:
            try:
                raw = await self._reader.readline()
            except ValueError as exc:  # a line longer than _LINE_LIMIT
                raise _MalformedReply("reply line too long") from exc
            if not raw.endswith(b"\n"):
                raise asyncio.IncompleteReadError(raw, None)
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            self._transcript.server(line)
            lines.append(line)
            if line[3:4] != "-":
                try:
                    return parse_reply(lines)
                except ValueError as exc:
                    raise _MalformedReply(str(exc)) from exc
        raise _MalformedReply(f"reply longer than {_MAX_REPLY_LINES} lines")

    async def write(
        self, lines: Sequence[str], phase: str, seconds: float, *, shown: Sequence[str] = ()
    ) -> None:
        for line in shown or lines:
            self._transcript.client(line)
        async with _guard(phase, seconds):
            self._writer.write(b"".join(line.encode() + _CRLF for line in lines))
            await self._writer.drain()

    async def command(self, line: str, phase: str, seconds: float, *, shown: str = "") -> Reply:
        await self.write([line], phase, seconds, shown=[shown] if shown else ())
        return await self.read_reply(phase, seconds)

    async def write_data(self, parts: Sequence[bytes], seconds: float) -> None:
        self._transcript.client(f"<{sum(map(len, parts))} bytes of message data>")
        for block in _blocks(parts):
            async with _guard("message data", seconds):
                self._writer.write(block)
                await self._writer.drain()

    async def start_tls(
        self, context: ssl.SSLContext, server_hostname: str, seconds: float
    ) -> None:
        async with _guard(_HANDSHAKE, seconds):
            await self._writer.start_tls(context, server_hostname=server_hostname)

    def describe_tls(self) -> str:
        ssl_object = self._writer.get_extra_info("ssl_object")
        return f"{ssl_object.version()} {ssl_object.cipher()[0]}" if ssl_object else "none"

    def abort(self) -> None:
        if self.is_open:
            self.is_open = False
            self._writer.transport.abort()

    async def quit(self, seconds: float) -> None:
        """QUIT politely when the server still listens, then close; failures are not reported."""
        if not self.is_open:
            return
        with contextlib.suppress(_Failure):
            if not self.is_closing:
                await self.command("QUIT", "QUIT", seconds)
            self.is_open = False
            self._writer.close()
            async with _guard("close", seconds):
                await self._writer.wait_closed()
        self.abort()


class _TlsMode(enum.Enum):
    VERIFIED = "verified"  # STARTTLS (or implicit TLS) with a verifying context
    UNVERIFIED = "unverified"  # TLS, certificate not checked
    PLAIN = "plain"  # no STARTTLS even when offered


@dataclass(slots=True)
class _Dial:
    """Internal: the steps that open a session, and what they learned for the failure report."""

    host: str
    port: int
    helo_name: str
    policy: TlsPolicy
    timeouts: Timeouts
    auth: tuple[str, str] | None
    local_addr: str | None
    server_hostname: str
    started: float = field(default_factory=time.monotonic)
    transcript: _Transcript = field(default_factory=_Transcript)
    connected: bool = False
    tls: bool = False
    verified: bool = False

    async def establish(self, mode: _TlsMode) -> SmtpSession:
        channel = await _Channel.connect(
            self.host,
            self.port,
            context=self.context(mode) if self.policy.implicit_tls else None,
            server_hostname=self.server_hostname,
            local_addr=self.local_addr,
            seconds=self.timeouts.connect,
            transcript=self.transcript,
        )
        self.connected, self.tls = True, channel.is_tls
        self.verified = channel.is_tls and mode is _TlsMode.VERIFIED
        try:
            extensions = await self.greet(channel)
            extensions = await self.secure(channel, extensions, mode)
            if self.auth is not None:
                await self.authenticate(channel, extensions, *self.auth)
        except asyncio.CancelledError:
            channel.abort()
            raise
        except _Failure as failure:
            if failure.is_broken:
                channel.abort()
            else:
                await channel.quit(self.timeouts.quit)
            raise
        return SmtpSession(channel, self, extensions, certificate_verified=self.verified)

    def context(self, mode: _TlsMode) -> ssl.SSLContext:
        if mode is _TlsMode.VERIFIED:
            return self.policy.ssl_context or _verifying_context()
        return _unverified_context()

    def fallback(self, mode: _TlsMode, failure: _Failure) -> _TlsMode | None:
        """The next, weaker mode after a failed TLS handshake, for opportunistic TLS only."""
        cause = failure.__cause__
        if self.policy.require_tls or failure.phase not in (_CONNECT, _HANDSHAKE):
            return None
        if mode is _TlsMode.VERIFIED and isinstance(cause, ssl.SSLCertVerificationError):
            return _TlsMode.UNVERIFIED
        if mode is not _TlsMode.PLAIN and isinstance(cause, ssl.SSLError):
            return None if self.policy.implicit_tls else _TlsMode.PLAIN
        return None

    def failed(self, failure: _Failure) -> AttemptResult:
        return AttemptResult(
            host=self.host,
            port=self.port,
            connected=self.connected,
            tls=self.tls,
            certificate_verified=self.verified,
            utf8=False,
            session_seconds=time.monotonic() - self.started,
            error=failure.reply,
            recipients=(),
            transcript=self.transcript.take(),
        )

    async def greet(self, channel: _Channel) -> dict[str, str]:
        greeting = await channel.read_reply("greeting", self.timeouts.greeting)
        if greeting.code != S220_READY.code:
            raise _Failure(greeting, is_broken=False)
        return await self.hello(channel)

    async def hello(self, channel: _Channel) -> dict[str, str]:
        reply = await channel.command(f"EHLO {self.helo_name}", "EHLO", self.timeouts.ehlo)
        if reply.code == S250_OK.code:
            return _parse_extensions(reply)
        if reply.is_permanent:  # RFC 5321 3.2: an old server; fall back to HELO
            reply = await channel.command(f"HELO {self.helo_name}", "HELO", self.timeouts.ehlo)
            if reply.code == S250_OK.code:
                return {}
        raise _Failure(reply, is_broken=False)

    async def secure(
        self, channel: _Channel, extensions: dict[str, str], mode: _TlsMode
    ) -> dict[str, str]:
        if channel.is_tls or mode is _TlsMode.PLAIN:
            return extensions
        if "STARTTLS" not in extensions:
            return self.without_tls(extensions, "STARTTLS not offered")
        reply = await channel.command("STARTTLS", "STARTTLS", self.timeouts.starttls)
        if reply.code != S220_READY.code:  # RFC 3207 4: the client decides whether to go on
            return self.without_tls(extensions, f"STARTTLS refused: {reply}")
        await channel.start_tls(self.context(mode), self.server_hostname, self.timeouts.starttls)
        self.tls, self.verified = True, mode is _TlsMode.VERIFIED
        self.transcript.note(f"TLS established ({channel.describe_tls()}, {mode.value})")
        return await self.hello(channel)  # RFC 3207 4.2: forget what was learned before TLS

    def without_tls(self, extensions: dict[str, str], why: str) -> dict[str, str]:
        if self.policy.require_tls:
            raise _Failure(S421_ENCRYPTION_NEEDED.with_detail(why), is_broken=False)
        self.transcript.note(f"continuing without TLS: {why}")
        return extensions

    async def authenticate(
        self, channel: _Channel, extensions: dict[str, str], user: str, password: str
    ) -> None:
        if not (channel.is_tls or channel.is_loopback):
            raise _Failure(S421_AUTH_NEEDS_TLS, is_broken=False)
        mechanisms = extensions.get("AUTH", "").upper().split()
        if "PLAIN" in mechanisms:
            token = _b64(f"\0{user}\0{password}")
            reply = await channel.command(
                f"AUTH PLAIN {token}", "AUTH", self.timeouts.ehlo, shown="AUTH PLAIN <redacted>"
            )
        elif "LOGIN" in mechanisms:
            reply = await self.login(channel, user, password)
        else:
            raise _Failure(S421_AUTH_UNAVAILABLE, is_broken=False)
        if reply.code != S235_AUTH_SUCCESS.code:
            raise _Failure(reply, is_broken=False)

    async def login(self, channel: _Channel, user: str, password: str) -> Reply:
        reply = await channel.command("AUTH LOGIN", "AUTH", self.timeouts.ehlo)
        for secret in (user, password):
            if reply.code != S334_AUTH_CONTINUE.code:
                return reply
            reply = await channel.command(
                _b64(secret), "AUTH", self.timeouts.ehlo, shown="<redacted>"
            )
        return reply


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


@dataclass(slots=True)
class _Progress:
    """Internal: the replies of one transaction so far."""

    recipients: tuple[str, ...]
    mail: Reply | None = None
    rcpt: list[Reply] = field(default_factory=list)
    data: Reply | None = None  # the reply to DATA itself
    final: Reply | None = None  # the reply after the message data
    error: Reply | None = None
    is_reset: bool = False  # RSET already ended the transaction

    @property
    def is_envelope_accepted(self) -> bool:
        mail_ok = self.mail is not None and self.mail.is_positive
        return mail_ok and any(reply.is_positive for reply in self.rcpt)

    def outcomes(self) -> tuple[RecipientOutcome, ...]:
        if self.mail is None or not self.mail.is_positive:
            return ()  # the error applies to everyone
        ending = self.final or self.error
        outcomes = []
        for index, recipient in enumerate(self.recipients):
            own = self.rcpt[index] if index < len(self.rcpt) else None
            reply = own if own is not None and not own.is_positive else ending
            if reply is not None:
                outcomes.append(RecipientOutcome(recipient, reply))
        return tuple(outcomes)


class SmtpSession:
    """One connection to one server, reused for several transactions (postal's state.rb)."""

    def __init__(
        self,
        channel: _Channel,
        dial: _Dial,
        extensions: dict[str, str],
        *,
        certificate_verified: bool,
    ) -> None:
        self._channel = channel
        self._dial = dial
        self._extensions = extensions
        self._certificate_verified = certificate_verified
        self._needs_rset = False

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        helo_name: str,
        tls: TlsPolicy,
        timeouts: Timeouts,
        auth: tuple[str, str] | None = None,
        local_addr: str | None = None,
        server_hostname: str | None = None,
    ) -> SmtpSession | AttemptResult:
        """Connect, greet, secure and authenticate; an `AttemptResult` says why that failed.

        Opportunistic TLS tries a verified session, then an unverified one when the certificate
        does not verify, then plain text when the handshake itself fails; each on a new connection.
        """
        dial = _Dial(
            host, port, helo_name, tls, timeouts, auth, local_addr, server_hostname or host
        )
        mode = _TlsMode.VERIFIED if tls.verify else _TlsMode.UNVERIFIED
        while True:
            try:
                return await dial.establish(mode)
            except _Failure as failure:
                weaker = dial.fallback(mode, failure)
                if weaker is None:
                    return dial.failed(failure)
                dial.transcript.note(f"{failure.reply.text}; retrying with TLS {weaker.value}")
                mode = weaker

    @property
    def is_usable(self) -> bool:
        return self._channel.is_open and not self._channel.is_closing

    @property
    def extensions(self) -> dict[str, str]:
        return dict(self._extensions)

    async def send(
        self,
        sender: str,
        recipients: Sequence[str],
        data: bytes,
        *,
        size_hint: int | None = None,
        smtputf8: bool = False,
    ) -> AttemptResult:
        """One transaction for recipients who receive identical bytes."""
        if not recipients:
            raise ValueError("a transaction needs at least one recipient")
        for address in (sender, *recipients):
            _check_address(address)
        is_utf8 = smtputf8 or not all(address.isascii() for address in (sender, *recipients))
        refusal = self._refusal(size_hint or len(data), is_utf8)
        if refusal is not None:
            return self._result(refusal, (), is_utf8=False)
        progress = _Progress(tuple(recipients))
        mail = self._mail_command(sender, size_hint or len(data), data, is_utf8)
        try:
            await self._transact(progress, mail, data)
        except asyncio.CancelledError:
            self._channel.abort()  # the server's view of the transaction is unknown now
            raise
        except _Failure as failure:
            progress.error = failure.reply
            if failure.is_broken:
                self._channel.abort()
        self._needs_rset = not progress.is_reset
        return self._result(progress.error, progress.outcomes(), is_utf8=is_utf8)

    async def probe(self, sender: str, recipients: Sequence[str]) -> AttemptResult:
        """MAIL and one RCPT per recipient, then RSET: no DATA, so nothing is delivered.
        Each recipient's outcome carries its RCPT reply (address validation's mailbox probe).
        """
        for address in (sender, *recipients):
            _check_address(address)
        is_utf8 = not all(address.isascii() for address in (sender, *recipients))
        refusal = self._refusal(0, is_utf8)
        if refusal is not None:
            return self._result(refusal, (), is_utf8=False)
        timeouts = self._dial.timeouts
        mail = self._mail_command(sender, 0, b"", is_utf8).replace(" SIZE=0", "")
        outcomes: list[RecipientOutcome] = []
        error: Reply | None = None
        try:
            error = await self._channel.command(mail, "MAIL FROM", timeouts.mail)
            if error.is_positive:
                error = None
                for recipient in recipients:
                    reply = await self._channel.command(
                        f"RCPT TO:<{recipient}>", "RCPT TO", timeouts.rcpt
                    )
                    outcomes.append(RecipientOutcome(recipient, reply))
            await self._expect_rset(await self._channel.command("RSET", "RSET", timeouts.mail))
        except _Failure as failure:
            error = failure.reply
            if failure.is_broken:
                self._channel.abort()
        return self._result(error, tuple(outcomes), is_utf8=is_utf8)

    async def close(self) -> None:
        await self._channel.quit(self._dial.timeouts.quit)

    def _refusal(self, size: int, is_utf8: bool) -> Reply | None:
        if not self.is_usable:
            return S421_BAD_CONNECTION.with_detail("the session is closed")
        limit = _size_limit(self._extensions)
        if limit is not None and size > limit:
            return S552_MESSAGE_TOO_BIG.with_detail(f"{size} bytes, the server accepts {limit}")
        if is_utf8 and "SMTPUTF8" not in self._extensions:
            return S553_UTF8_UNSUPPORTED.with_detail("the server does not offer SMTPUTF8")
        return None

    def _mail_command(self, sender: str, size: int, data: bytes, is_utf8: bool) -> str:
        words = [f"MAIL FROM:<{sender}>"]
        if "SIZE" in self._extensions:
            words.append(f"SIZE={size}")
        if "8BITMIME" in self._extensions and not data.isascii():
            words.append("BODY=8BITMIME")
        if is_utf8:
            words.append("SMTPUTF8")
        return " ".join(words)

    async def _transact(self, progress: _Progress, mail: str, data: bytes) -> None:
        if "PIPELINING" in self._extensions:
            await self._envelope_pipelined(progress, mail)
        else:
            await self._envelope_stepwise(progress, mail)
        if progress.data is None:
            return
        if not progress.is_envelope_accepted:
            if progress.data.code == S354_START_INPUT.code:
                # RFC 2920 3.1: DATA was accepted though no recipient was; send an empty message.
                await self._channel.write(["."], "end of data", self._dial.timeouts.data_end)
                await self._channel.read_reply("end of data", self._dial.timeouts.data_end)
            return
        if progress.data.code != S354_START_INPUT.code:
            progress.error = progress.data
            return
        await self._channel.write_data(stuff_data(data), self._dial.timeouts.data_block)
        progress.final = await self._channel.read_reply("end of data", self._dial.timeouts.data_end)
        if not progress.final.is_positive:
            progress.error = progress.final

    async def _envelope_pipelined(self, progress: _Progress, mail: str) -> None:
        """RFC 2920: RSET, MAIL, every RCPT and DATA in one write, then their replies in order."""
        timeouts = self._dial.timeouts
        rcpts = [f"RCPT TO:<{recipient}>" for recipient in progress.recipients]
        rset = ["RSET"] if self._needs_rset else []
        await self._channel.write([*rset, mail, *rcpts, "DATA"], "MAIL FROM", timeouts.mail)
        if rset:
            await self._expect_rset(await self._channel.read_reply("RSET", timeouts.mail))
        progress.mail = await self._channel.read_reply("MAIL FROM", timeouts.mail)
        if not progress.mail.is_positive:
            progress.error = progress.mail
        for _ in rcpts:
            progress.rcpt.append(await self._channel.read_reply("RCPT TO", timeouts.rcpt))
        progress.data = await self._channel.read_reply("DATA", timeouts.data_init)

    async def _envelope_stepwise(self, progress: _Progress, mail: str) -> None:
        timeouts = self._dial.timeouts
        if self._needs_rset:
            await self._expect_rset(await self._channel.command("RSET", "RSET", timeouts.mail))
        progress.mail = await self._channel.command(mail, "MAIL FROM", timeouts.mail)
        if not progress.mail.is_positive:
            progress.error = progress.mail
            return
        for recipient in progress.recipients:
            command = f"RCPT TO:<{recipient}>"
            progress.rcpt.append(await self._channel.command(command, "RCPT TO", timeouts.rcpt))
        if progress.is_envelope_accepted:
            progress.data = await self._channel.command("DATA", "DATA", timeouts.data_init)
        else:
            await self._expect_rset(await self._channel.command("RSET", "RSET", timeouts.mail))
            progress.is_reset = True

    async def _expect_rset(self, reply: Reply) -> None:
        if reply.code != S250_OK.code:  # a server that cannot reset is not worth keeping
            raise _Failure(reply, is_broken=True, phase="RSET")

    def _result(
        self, error: Reply | None, outcomes: tuple[RecipientOutcome, ...], *, is_utf8: bool
    ) -> AttemptResult:
        return AttemptResult(
            host=self._dial.host,
            port=self._dial.port,
            connected=True,
            tls=self._channel.is_tls,
            certificate_verified=self._certificate_verified,
            utf8=is_utf8,
            session_seconds=time.monotonic() - self._dial.started,
            error=error,
            recipients=outcomes,
            transcript=self._dial.transcript.take(),
        )
