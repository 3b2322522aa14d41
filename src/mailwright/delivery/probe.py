"""The SMTP side of address validation's mailbox probe: RCPT TO without DATA.

``RcptProber`` implements ``validation.Prober``: it connects to one MX host on the configured
MX port, says MAIL FROM with the null reverse-path (RFC 5321 4.5.5, so no bounce can result),
asks RCPT for each recipient, resets and quits. Any failure to get that far is ``None``.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

from mailwright.delivery.smtp_client import AttemptResult, SmtpSession, Timeouts, TlsPolicy
from mailwright.resolver import DnsLookupFailed, Resolver

# Probes must be quick: a validation call waits for them.
PROBE_TIMEOUTS = Timeouts(connect=5, greeting=10, ehlo=10, starttls=10, mail=10, rcpt=10, quit=2)


@dataclass(frozen=True, slots=True)
class RcptProber:
    resolver: Resolver  # the MX host's address comes from the configured resolver too
    helo_name: str
    port: int
    timeouts: Timeouts = field(default=PROBE_TIMEOUTS)
    ssl_context: ssl.SSLContext | None = None

    async def probe(self, host: str, recipients: Sequence[str]) -> list[int] | None:
        try:
            addresses = await self.resolver.addresses(host)
        except DnsLookupFailed:
            return None
        if not addresses:
            return None
        session = await SmtpSession.open(
            addresses[0],
            self.port,
            helo_name=self.helo_name,
            tls=TlsPolicy(verify=False, ssl_context=self.ssl_context),
            timeouts=self.timeouts,
            server_hostname=host,
        )
        if isinstance(session, AttemptResult):
            return None
        try:
            result = await session.probe("", recipients)
        finally:
            await session.close()
        if result.error is not None or len(result.recipients) != len(recipients):
            return None
        return [outcome.reply.code for outcome in result.recipients]
