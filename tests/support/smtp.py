"""A real SMTP server on loopback that records envelopes: the sink every delivery test uses.

    def later(rcpt: str) -> tuple[int, str] | None:
        return (451, "4.7.1 try later") if rcpt.startswith("tempfail") else None

    with SmtpSink(tls_cert=tls_materials()[1], script=later) as sink:
        ... deliver to ("127.0.0.1", sink.port) ...
        [received] = await sink.wait_for(1)

aiosmtpd's ``Controller`` runs the server in its own thread and event loop, so the sink works the
same from sync and async tests (``with`` and ``async with`` both work). Behaviour is chosen per
sink: STARTTLS or implicit TLS with a trustme certificate, AUTH users, scripted RCPT replies, a
fixed reply after DATA, a slow DATA reply, and a dropped connection after MAIL, RCPT or DATA.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Script = Callable[[str], tuple[int, str] | None]
DropPoint = Literal["MAIL", "RCPT", "DATA"]


@functools.cache
def tls_materials() -> tuple[trustme.CA, trustme.LeafCert, ssl.SSLContext]:
    """A CA, its leaf for localhost/127.0.0.1/mx.example.test, a client context trusting the CA."""
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1", "mx.example.test")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca.configure_trust(client)
    return ca, leaf, client


def server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    return context


@dataclass(frozen=True, slots=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # as aiosmtpd hands it over: dot-unstuffed, CRLF line ends
    tls: bool
    peer: Any
    helo: str | None
    mail_options: tuple[str, ...]
    login: str | None  # the AUTH user, if any
    at: float = 0.0  # time.monotonic() when the sink stored it (before its 250 reply)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        if not self._sink.esmtp:  # an RFC 821 server: the client must fall back to HELO
            return ["502 5.5.1 EHLO not implemented"]
        session.host_name = hostname
        if self._sink.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # Commands already buffered behind MAIL mean the client pipelined them (RFC 2920).
        self._sink._count_transaction(is_pipelined=bool(server._reader._buffer))
        if self._sink.disconnect_after == "MAIL":
            return await _drop(server)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._sink.disconnect_after == "RCPT":
            return await _drop(server)
        scripted = self._sink.script(address) if self._sink.script else None
        if scripted is not None:
            return f"{scripted[0]} {scripted[1]}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._sink.disconnect_after == "DATA":
            return await _drop(server)
        if self._sink.delay:
            await asyncio.sleep(self._sink.delay)
        if self._sink.data_reply is not None:
            return f"{self._sink.data_reply[0]} {self._sink.data_reply[1]}"
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self._sink._store(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=envelope.original_content or b"",
                tls=session.ssl is not None or self._sink.implicit_tls,
                peer=session.peer,
                helo=session.host_name,
                mail_options=tuple(envelope.mail_options),
                login=login,
                at=time.monotonic(),
            )
        )
        return "250 2.0.0 OK queued"

    async def handle_exception(self, error: Exception) -> str:
        """Keep aiosmtpd from logging a traceback; tests can inspect ``sink.errors``."""
        self._sink._record_error(error)
        return "421 4.3.0 sink error"


async def _drop(server: SMTP) -> str:
    """Close the connection without replying; connection_lost cancels this coroutine."""
    server.transport.close()
    await asyncio.Event().wait()  # until connection_lost cancels us
    return "421 unreachable"


class _Controller(Controller):  # type: ignore[misc]
    def __init__(self, sink: SmtpSink, **kwargs: Any) -> None:
        super().__init__(_Handler(sink), **kwargs)
        self._sink = sink

    def factory(self) -> SMTP:
        server = super().factory()
        self._sink._count_session()
        return server

    def _trigger_server(self) -> None:
        # Bound to port 0: learn the real port before aiosmtpd's readiness probe connects to it.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_cert: trustme.LeafCert | None = None,
        require_starttls: bool = False,
        auth_users: dict[str, str] | None = None,
        auth_exclude: Sequence[str] = (),
        implicit_tls: bool = False,
        script: Script | None = None,
        data_reply: tuple[int, str] | None = None,
        delay: float = 0,
        disconnect_after: DropPoint | None = None,
        advertise_size: int | None = None,
        smtputf8: bool = True,
        pipelining: bool = True,
        esmtp: bool = True,
    ) -> None:
        self.host = host
        self.script = script
        self.data_reply = data_reply
        self.delay = delay
        self.disconnect_after = disconnect_after
        self.implicit_tls = implicit_tls
        self.pipelining = pipelining
        self.esmtp = esmtp
        self.errors: list[Exception] = []  # exceptions inside sessions (a client hanging up in TLS)
        self.auth_users = dict(auth_users or {})
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._sessions = 0
        self._transactions = 0
        self._pipelined = 0
        context = server_context(tls_cert) if tls_cert is not None else None
        if implicit_tls and context is None:
            raise ValueError("implicit_tls needs tls_cert")
        self._controller = _Controller(
            self,
            hostname=host,
            port=port,
            server_hostname="mx.example.test",
            ssl_context=context if implicit_tls else None,
            tls_context=None if implicit_tls else context,
            require_starttls=require_starttls,
            data_size_limit=advertise_size,
            enable_SMTPUTF8=smtputf8,
            # Credentials in clear text are fine on loopback when the sink offers no TLS.
            auth_require_tls=context is not None and not implicit_tls,
            authenticator=self._authenticate if auth_users is not None else None,
            auth_exclude_mechanism=auth_exclude,
        )

    @property
    def port(self) -> int:
        port: int = self._controller.port
        return port

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    @property
    def sessions(self) -> int:
        """TCP connections accepted since start."""
        with self._lock:
            return self._sessions

    @property
    def transactions(self) -> int:
        """MAIL commands seen (transactions begun)."""
        with self._lock:
            return self._transactions

    @property
    def pipelined(self) -> int:
        """Transactions whose MAIL arrived with further commands already buffered."""
        with self._lock:
            return self._pipelined

    async def wait_for(self, count: int, within: float = 10) -> list[Received]:
        deadline = time.monotonic() + within
        while len(messages := self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(messages)} of {count} messages within {within}s")
            await asyncio.sleep(0.01)
        return messages

    def start(self) -> SmtpSink:
        self._controller.start()
        with self._lock:
            self._sessions = 0  # aiosmtpd's readiness probe is not a session
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> SmtpSink:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if login in self.auth_users and self.auth_users[login] == password:
                return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)

    def _count_session(self) -> None:
        with self._lock:
            self._sessions += 1

    def _count_transaction(self, *, is_pipelined: bool) -> None:
        with self._lock:
            self._transactions += 1
            self._pipelined += is_pipelined

    def _record_error(self, error: Exception) -> None:
        with self._lock:
            self.errors.append(error)

    def _store(self, received: Received) -> None:
        with self._lock:
            self._messages.append(received)
