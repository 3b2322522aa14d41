"""Start and stop an aiosmtpd server on the running event loop.

aiosmtpd's ``Controller`` runs its server in a thread with a loop of its own; our handlers
share the application's loop, store and caches, so the server is created here with
``loop.create_server`` and one ``SMTP`` protocol per connection. The submission and the
inbound (MX) listeners both start through ``start_smtp``.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP

from mailwright.logs import get_logger

log = get_logger(__name__)


@dataclass(eq=False)
class Listener:
    """A listening SMTP server; ``stop`` closes it and every open session."""

    name: str
    server: asyncio.Server
    _sessions: weakref.WeakSet[SMTP] = field(default_factory=weakref.WeakSet)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    async def stop(self) -> None:
        self.server.close()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await self.server.wait_closed()
        log.info("smtp_stopped", listener=self.name)


async def start_smtp(
    handler: Any,
    host: str,
    port: int,
    *,
    tls_context: ssl.SSLContext | None,
    ident: str,
    hostname: str,
    name: str = "smtp",
    **smtp_kwargs: Any,
) -> Listener:
    """Listen on ``host:port`` (port 0: any free port, see ``Listener.address``).

    ``smtp_kwargs`` go to aiosmtpd's ``SMTP`` (``data_size_limit``, ``auth_required``, ...);
    ``hostname`` is the name in the greeting and EHLO reply (given, so no DNS look-up).
    """
    loop = asyncio.get_running_loop()
    sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory() -> SMTP:
        session = SMTP(
            handler,
            hostname=hostname,
            ident=ident,
            tls_context=tls_context,
            loop=loop,
            **smtp_kwargs,
        )
        sessions.add(session)
        return session

    server = await loop.create_server(factory, host=host, port=port)
    listener = Listener(name=name, server=server, _sessions=sessions)
    bound_host, bound_port = listener.address
    log.info("smtp_listening", listener=name, host=bound_host, port=bound_port)
    return listener
