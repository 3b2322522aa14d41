"""mailwright: a self-hosted email platform that speaks Mailgun's API."""

__version__ = "0.1.0"
