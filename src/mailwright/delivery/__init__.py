"""Outbound engine: claim due deliveries, resolve MX, speak SMTP (or capture), settle outcomes."""

from mailwright.delivery.adaptive import AdaptivePolicy, AdaptiveState, allowed_rate, provider_of
from mailwright.delivery.cancel import cancel_queued
from mailwright.delivery.classify import Outcome, classify_reply
from mailwright.delivery.egress_choice import SourceChooser
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
from mailwright.delivery.site_throttle import (
    LocalThrottle,
    ProviderThrottle,
    SharedThrottle,
    SiteThrottle,
)
from mailwright.delivery.transports import (
    CaptureTransport,
    Relay,
    SmtpConfig,
    SmtpTransport,
    Transport,
    TransportStopped,
)
from mailwright.delivery.warmup import WarmupSchedule, allowance, daily_limit, is_warm
from mailwright.delivery.worker import DeliveryWorker, WorkerConfig

__all__ = [
    "AdaptivePolicy",
    "AdaptiveState",
    "CaptureTransport",
    "DeliveryWorker",
    "DestinationHealth",
    "Job",
    "LocalThrottle",
    "MtaSts",
    "MxCache",
    "Outcome",
    "ProviderThrottle",
    "QueueHealth",
    "RcptProber",
    "Relay",
    "Result",
    "RetrySchedule",
    "SharedThrottle",
    "SiteThrottle",
    "SmtpConfig",
    "SmtpTransport",
    "SourceChooser",
    "Transport",
    "TransportStopped",
    "WarmupSchedule",
    "WorkerConfig",
    "allowance",
    "allowed_rate",
    "attempts_of",
    "cancel_queued",
    "classify_reply",
    "daily_limit",
    "deliveries_of",
    "destination_health",
    "is_queue_readable",
    "is_warm",
    "plan",
    "provider_of",
    "queue_health",
    "settled_last_day",
]
