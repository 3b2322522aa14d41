"""Probes that look at a role from outside, as a client would."""

from __future__ import annotations

import asyncio
import contextlib
import os

GREETING_TIMEOUT = 5.0


async def smtp_greets(host: str, port: int) -> str | None:
    """None when an SMTP server at ``host:port`` accepts a connection and greets with 220
    (we then say QUIT), else what went wrong."""
    try:
        async with asyncio.timeout(GREETING_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                greeting = await reader.readline()
                if greeting.startswith(b"220"):
                    writer.write(b"QUIT\r\n")
                    await writer.drain()
                    await reader.readline()  # 221: the server hangs up, not us
                    return None
                text = greeting.decode("ascii", "replace").strip()
                return f"greeted with {text or 'nothing'!r}"
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except TimeoutError:
        return f"no greeting within {GREETING_TIMEOUT:g}s"
    except OSError as exc:
        # asyncio's own text repeats the address: the errno's words say it plainer.
        return os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
