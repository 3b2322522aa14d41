"""DKIM (RFC 6376) verification of every signature on an inbound message, by dkimpy.

dkimpy answers only "valid or not"; the RFC 8601 result of each signature comes from what its
key lookup did (recorded by the ``dnsfunc`` we hand it) and from which exception it raised:

- the key record's lookup failed (SERVFAIL, timeout)          -> temperror (RFC 6376 6.1.2)
- no key record, or an unusable one (bad syntax, revoked p=)  -> permerror (RFC 6376 6.1.2, 3.6.1)
- the signature header is malformed or expired                -> neutral (RFC 8601 2.7.1)
- the body hash or the signature does not match               -> fail
- it matches                                                  -> pass

Blocking: run it in a worker thread. The t= and x= checks use dkimpy's own clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dkim
import dkim.util

from mailwright.inbound.lookups import LookupFailed, ThreadLookups

DKIM_RESULTS = ("pass", "fail", "neutral", "temperror", "permerror")

# RFC 6376 6.1: a verifier MAY limit the signatures it checks (each costs a DNS lookup and an
# RSA operation); the topmost ones are the most recently added.
MAX_SIGNATURES = 5
_DKIM_SIGNATURE = re.compile(rb"^dkim-signature$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DkimResult:
    result: str  # one of DKIM_RESULTS
    domain: str  # the d= tag, lower case ("" if unreadable)
    selector: str  # the s= tag
    reason: str = ""


@dataclass(slots=True)
class _KeyLookup:
    """What the last ``dnsfunc`` call saw: the failure, or the record (None when absent)."""

    lookups: ThreadLookups
    failed: str = ""
    record: bytes | None = None

    def __call__(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode("ascii", errors="replace") if isinstance(name, bytes) else name
        self.failed, self.record = "", None
        try:
            records = self.lookups.txt(text.rstrip("."))
        except LookupFailed as exc:
            self.failed = str(exc)
            # dkimpy catches its own DnsTimeoutError and reports the signature as invalid.
            raise dkim.DnsTimeoutError(self.failed) from exc
        # RFC 6376 3.6.2.2: several TXT records under one name give undefined results; use the
        # first, as dkimpy's own resolver does.
        self.record = records[0].encode("utf-8") if records else None
        return self.record


def verify_all(raw: bytes, lookups: ThreadLookups) -> list[DkimResult]:
    """One result per DKIM-Signature header, topmost first, at most ``MAX_SIGNATURES``."""
    try:
        message = dkim.DKIM(raw)
    except dkim.DKIMException:
        return []  # not parseable as a message: nothing can be said to be signed
    headers = [value for name, value in message.headers if _DKIM_SIGNATURE.match(name)]
    return [
        _verify_one(message, index, value, lookups)
        for index, value in enumerate(headers[:MAX_SIGNATURES])
    ]


def _verify_one(message: dkim.DKIM, index: int, value: bytes, lookups: ThreadLookups) -> DkimResult:
    domain, selector = _identity(value)
    key = _KeyLookup(lookups)
    try:
        is_valid = bool(message.verify(idx=index, dnsfunc=key))
    except dkim.KeyFormatError as exc:  # e.g. a key shorter than dkimpy's 1024-bit minimum
        return DkimResult("permerror", domain, selector, str(exc))
    except dkim.ValidationError as exc:
        if str(exc).startswith("body hash mismatch"):
            return DkimResult("fail", domain, selector, "body hash mismatch")
        return DkimResult("neutral", domain, selector, str(exc))
    except (dkim.DKIMException, ValueError, IndexError, KeyError) as exc:
        # dkimpy raises bare Python errors on some malformed tag values
        return DkimResult("neutral", domain, selector, f"{type(exc).__name__}: {exc}")
    if is_valid:
        return DkimResult("pass", domain, selector)
    return _why_invalid(key, domain, selector)


def _why_invalid(key: _KeyLookup, domain: str, selector: str) -> DkimResult:
    if key.failed:
        return DkimResult("temperror", domain, selector, key.failed)
    if key.record is None:
        return DkimResult("permerror", domain, selector, "no key for signature")
    try:
        dkim.evaluate_pk(b"key", key.record)
    except dkim.DKIMException as exc:
        return DkimResult("permerror", domain, selector, f"unusable key: {exc}")
    except ValueError as exc:
        return DkimResult("permerror", domain, selector, f"unusable key: {exc}")
    return DkimResult("fail", domain, selector, "signature did not verify")


def _identity(value: bytes) -> tuple[str, str]:
    try:
        tags = dkim.util.parse_tag_value(value)
    except (dkim.util.InvalidTagValueList, ValueError):
        return "", ""
    domain = tags.get(b"d", b"").decode("ascii", errors="replace").strip().rstrip(".").lower()
    selector = tags.get(b"s", b"").decode("ascii", errors="replace").strip()
    return domain, selector
