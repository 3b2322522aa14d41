"""The exception tree of mailwright; no I/O.

Exceptions mean our own fault or invalid input. Expected remote outcomes (an SMTP reply, a DNS
timeout) are values, not exceptions. ``api/errors.py`` is the single mapping to HTTP.

* ServiceError
  - InvalidInput          -- bad input from a client (400); ``field`` names the parameter
    + PayloadTooLarge     -- a message over the size limit (413)
  - Unauthorized          -- missing or wrong credentials (401)
  - Forbidden             -- credentials valid but not allowed here (403)
    + SendingLimitReached -- a send over the account's custom monthly message limit (403)
  - NotFound              -- the named resource does not exist (404)
  - Conflict              -- the resource already exists (400 in Mailgun's API)
  - RateLimited           -- over a request limit (429); carries the limit's state for headers
  - LoginThrottled        -- too many failed dashboard logins for one username (429)
  - OAuthError            -- a refused OAuth 2.0 token request: RFC 6749 5.2 ``error`` (400/401)
  - SsoRefused            -- a dashboard single sign-on that must not sign anyone in (401)
    + SsoUnavailable      -- the identity provider could not be reached or read (502)
  - ConfigError           -- a bad setting at start-up (the process stops)
"""

from __future__ import annotations


class ServiceError(Exception):
    """Something went wrong in mailwright."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class InvalidInput(ServiceError):
    """Bad input."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PayloadTooLarge(InvalidInput):
    """Message is too large."""


class Unauthorized(ServiceError):
    """Invalid private key."""


class Forbidden(ServiceError):
    """Forbidden."""


class SendingLimitReached(Forbidden):
    """The account's custom monthly message limit does not allow this send."""


class NotFound(ServiceError):
    """Not found."""


class Conflict(ServiceError):
    """Already exists."""


class RateLimited(ServiceError):
    """Too many requests."""

    def __init__(self, message: str, *, limit: int, reset: int, retry_after: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.reset = reset  # Unix time the window ends
        self.retry_after = retry_after  # seconds


class LoginThrottled(ServiceError):
    """Too many failed logins; try again in a few minutes."""


class OAuthError(ServiceError):
    """The token request was refused."""

    # RFC 6749 5.2: invalid_client is 401 (the client failed to authenticate); the rest 400.
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.status = 401 if error == "invalid_client" else 400


class SsoRefused(ServiceError):
    """The single sign-on was refused."""


class SsoUnavailable(SsoRefused):
    """The identity provider could not be reached."""


class ConfigError(ServiceError):
    """Invalid configuration."""
