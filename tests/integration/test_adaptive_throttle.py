"""Adaptive throttling end to end, on SQLite and PostgreSQL: a loopback MX that answers
"421 4.7.0" to anything above its rate. With adaptive throttling the server slows down to the
rate the receiver takes and still delivers everything, drawing far fewer deferrals than the
same send with adaptive throttling off (which just retries into the limit)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from pathlib import Path

import pytest

from mailwright.store import Store
from tests.integration.test_delivery_mx import mx_settings, sandbox_of, serving
from tests.support.dns import LoopbackDNS
from tests.support.smtp import SmtpSink, tls_materials

ZONE = """
busy.test. 300 IN MX 10 mx.busy.test.
mx.busy.test. 300 IN A 127.0.0.1
"""
MESSAGES = 60
RATE = 5  # the receiver accepts at most this many recipients in any one second


class RateLimitedMx:
    """The sink's RCPT script: 421 4.7.0 above ``RATE`` per sliding second."""

    def __init__(self) -> None:
        self.accepted: deque[float] = deque()
        self.deferred = 0
        self._lock = threading.Lock()

    def __call__(self, rcpt: str) -> tuple[int, str] | None:
        with self._lock:
            now = time.monotonic()
            while self.accepted and self.accepted[0] <= now - 1.0:
                self.accepted.popleft()
            if len(self.accepted) >= RATE:
                self.deferred += 1
                return (421, "4.7.0 Try again later: rate limit exceeded, closing connection")
            self.accepted.append(now)
            return None


async def deliver_all(
    tmp_path: Path, database_url: str, store: Store, *, adaptive: str
) -> tuple[int, list[float]]:
    """Send ``MESSAGES`` one-recipient messages in one batch; the 421s the MX answered and
    the times it accepted each message."""
    limiter = RateLimitedMx()
    with LoopbackDNS(ZONE) as dns, SmtpSink(tls_cert=tls_materials()[1], script=limiter) as sink:
        settings = mx_settings(
            tmp_path / adaptive,
            database_url,
            dns,
            sink.port,
            MAILWRIGHT_ADAPTIVE_THROTTLE=adaptive,
            MAILWRIGHT_ADAPTIVE_CEILING="40/s",
            MAILWRIGHT_ADAPTIVE_FLOOR="1/s",
            MAILWRIGHT_RETRY_SCHEDULE="1s;max=1s;give_up=1h",
        )
        async with serving(settings, store) as client:
            domain = await sandbox_of(client)
            recipients = [f"r{i:02d}@busy.test" for i in range(MESSAGES)]
            sent = await client.post(
                f"/v3/{domain}/messages",
                data={
                    "from": f"app@{domain}",
                    "to": recipients,
                    "subject": "Hello %recipient.n%",
                    "text": "Hi",
                    "recipient-variables": json.dumps({r: {"n": r} for r in recipients}),
                },
            )
            assert sent.status_code == 200, sent.text
            received = await sink.wait_for(MESSAGES, within=90)
    assert sorted(r for m in received for r in m.rcpt_tos) == recipients
    return limiter.deferred, sorted(m.at for m in received)


@pytest.mark.slow
async def test_adaptive_throttle_slows_to_the_receivers_rate_and_delivers_everything(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    deferred, accepted = await deliver_all(tmp_path, database_url, store, adaptive="true")
    assert deferred > 0  # the limit was hit: the throttle had something to adapt to
    blind, _ = await deliver_all(tmp_path, database_url, store, adaptive="false")
    # Measured: about 55 against 220-290; retrying blindly hits the limit four times as often.
    assert deferred * 2 < blind, (deferred, blind)
    # Everything arrives at about the receiver's rate: 60 at 5/s take over ten seconds.
    assert accepted[-1] - accepted[0] >= (MESSAGES / RATE) - 2
