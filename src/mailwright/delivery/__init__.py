"""Outbound engine: claim due deliveries, resolve MX, speak SMTP (or capture), settle outcomes."""

from mailwright.delivery.classify import Outcome, classify_reply
from mailwright.delivery.health import (
    DestinationHealth,
    QueueHealth,
    destination_health,
    is_queue_readable,
    queue_health,
    settled_last_day,
)
from mailwright.delivery.history import attempts_of, deliveries_of
from mailwright.delivery.jobs import Job, Result, plan
from mailwright.delivery.mta_sts import MtaSts
from mailwright.delivery.mx import MxCache
from mailwright.delivery.probe import RcptProber
from mailwright.delivery.retry import RetrySchedule
from mailwright.delivery.site_throttle import LocalThrottle, SharedThrottle, SiteThrottle
from mailwright.delivery.transports import (
    CaptureTransport,
    Relay,
    SmtpConfig,
    SmtpTransport,
    Transport,
    TransportStopped,
)
from mailwright.delivery.worker import DeliveryWorker, WorkerConfig

__all__ = [
    "CaptureTransport",
    "DeliveryWorker",
    "DestinationHealth",
    "Job",
    "LocalThrottle",
    "MtaSts",
    "MxCache",
    "Outcome",
    "QueueHealth",
    "RcptProber",
    "Relay",
    "Result",
    "RetrySchedule",
    "SharedThrottle",
    "SiteThrottle",
    "SmtpConfig",
    "SmtpTransport",
    "Transport",
    "TransportStopped",
    "WorkerConfig",
    "attempts_of",
    "classify_reply",
    "deliveries_of",
    "destination_health",
    "is_queue_readable",
    "plan",
    "queue_health",
    "settled_last_day",
]
