"""Jobs and results: what one transport call delivers, and what came of each delivery.

A *job* is one SMTP transaction's worth of work: one message, one recipient domain, recipients
whose bytes are identical (RFC 5321 allows many RCPTs per transaction; batch sends with
recipient-variables, and tracked messages, get one job per recipient). ``plan`` groups claimed
deliveries into jobs; it is pure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from mailwright.messages import StoredMessage
from mailwright.store import DeliveryRow

MAX_RECIPIENTS_PER_JOB = 50


@dataclass(frozen=True, slots=True)
class Job:
    message: StoredMessage
    deliveries: tuple[DeliveryRow, ...]
    personal: bool = False  # each recipient's copy differs (tracking links, unsubscribe URLs)

    @property
    def recipient_domain(self) -> str:
        return self.deliveries[0].recipient_domain

    @property
    def recipients(self) -> list[str]:
        return [d.recipient for d in self.deliveries]

    @property
    def is_personal(self) -> bool:
        """Batch sends and tracked messages render each recipient's own copy."""
        spec = self.message.spec
        return (
            self.personal or spec.get("recipient-variables") is not None or bool(spec.get("lists"))
        )


@dataclass(frozen=True, slots=True)
class Result:
    """One delivery's attempt: the reply that decides it, and how the session went."""

    delivery: DeliveryRow
    code: int | None
    enhanced: str | None
    text: str
    mx_host: str = ""
    tls: bool = False
    certificate_verified: bool = False
    session_seconds: float = 0.0
    transcript: str = ""
    utf8: bool = False
    captured: bytes | None = None  # capture mode: the bytes put into the inbox
    suppressed: str | None = None  # a suppression reason: no attempt was made
    attempted: bool = True
    sending_ip: str | None = None  # the egress source used; None: the system's choice
    # Not attempted for want of warm-up allowance: queued again, due then, no attempt counted.
    held_until: float | None = None


def plan(
    rows: Sequence[DeliveryRow],
    messages: dict[str, StoredMessage],
    personal: Collection[str] = frozenset(),
) -> list[Job]:
    """Group deliveries into jobs: same message and recipient domain, identical bytes.

    Messages whose key is in ``personal`` (tracked ones) get one job per recipient, as batch
    sends do."""
    groups: dict[tuple[str, str], list[DeliveryRow]] = {}
    for row in rows:
        message = messages.get(row.message_key)
        if message is None:
            continue
        is_personal = (
            row.message_key in personal
            or message.spec.get("recipient-variables") is not None
            or bool(message.spec.get("lists"))  # each list member gets its own copy
        )
        key = (row.message_key, row.recipient if is_personal else row.recipient_domain)
        groups.setdefault(key, []).append(row)
    jobs: list[Job] = []
    for (message_key, _), members in groups.items():
        for start in range(0, len(members), MAX_RECIPIENTS_PER_JOB):
            chunk = tuple(members[start : start + MAX_RECIPIENTS_PER_JOB])
            jobs.append(
                Job(
                    message=messages[message_key],
                    deliveries=chunk,
                    personal=message_key in personal,
                )
            )
    return jobs
