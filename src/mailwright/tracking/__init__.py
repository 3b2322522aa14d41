"""Tracking: open pixels, click redirects and unsubscribes -> events and the unsubscribes list.

The rewriting of each recipient's copy is pure and lives with rendering
(``mailwright.messages.tracking``); this package handles the recipient's requests.
"""

from mailwright.tracking.clients import GEOLOCATION_UNKNOWN, client_info
from mailwright.tracking.service import Tracker, Visit

__all__ = ["GEOLOCATION_UNKNOWN", "Tracker", "Visit", "client_info"]
