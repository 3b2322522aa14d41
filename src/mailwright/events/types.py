"""The closed vocabularies of events: what happened, how bad a failure is, and its log level.

Values are Mailgun's wire strings, so a member can be written to JSON or compared with a query
parameter as it is.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    ACCEPTED = "accepted"  # the API took the message and queued it
    REJECTED = "rejected"  # the API refused the message; nothing was queued
    DELIVERED = "delivered"  # the recipient's server accepted the message
    FAILED = "failed"  # an attempt failed, or the delivery was given up (see Severity)
    OPENED = "opened"  # the recipient loaded the tracking pixel
    CLICKED = "clicked"  # the recipient followed a tracked link
    UNSUBSCRIBED = "unsubscribed"  # the recipient used the unsubscribe link
    COMPLAINED = "complained"  # the recipient reported the message as spam (feedback loop)
    STORED = "stored"  # an inbound message was stored by a route
    LIST_MEMBER_UPLOADED = "list_member_uploaded"  # a member was added to a mailing list
    LIST_MEMBER_UPLOAD_ERROR = "list_member_upload_error"  # adding a list member failed
    LIST_UPLOADED = "list_uploaded"  # a bulk upload of list members finished


class Severity(StrEnum):
    TEMPORARY = "temporary"  # will be retried (soft bounce)
    PERMANENT = "permanent"  # will not be retried (hard bounce, or retries ran out)


class LogLevel(StrEnum):
    INFO = "info"  # normal progress: accepted, delivered, opened, ...
    WARN = "warn"  # a temporary failure
    ERROR = "error"  # a permanent failure or a rejection
