"""SPF (RFC 7208) for one inbound SMTP transaction, evaluated by pyspf over our resolver.

pyspf does the record parsing, macro expansion, the 10-term and 2-void-lookup limits and the
result; only its ``dns`` method is replaced, so every lookup goes through ``ThreadLookups``
instead of dnspython's global resolver. Blocking: run it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import spf

from mailwright.inbound.lookups import LookupFailed, ThreadLookups

SPF_RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")


@dataclass(frozen=True, slots=True)
class SpfResult:
    result: str  # one of SPF_RESULTS
    domain: str  # the domain whose policy was checked: MAIL FROM's, or HELO's for a null sender
    identity: str  # "mailfrom" or "helo" (RFC 8601 smtp.mailfrom / smtp.helo)
    reason: str = ""


class _Query(spf.query):  # type: ignore[misc]
    """pyspf's query with DNS answered by ``ThreadLookups``.

    Keeps pyspf's contract for ``dns``: a list per type (TXT as a list of byte strings per
    record, MX as (preference, host)), answers cached for the one check, and RFC 7208 4.6.4's
    void-lookup limit. CNAMEs are followed by the resolver we ask, not here.
    """

    def __init__(self, lookups: ThreadLookups, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lookups = lookups

    def dns(
        self, name: str, qtype: str, cnames: object = None, ignore_void: bool = False
    ) -> list[Any]:
        name = str(name).rstrip(".").lower()
        if not all(0 < len(label) < 64 for label in name.split(".")):
            return []  # not a valid DNS name: pyspf treats it as no data
        key = (name, qtype)
        if key not in self.cache:
            self.cache[key] = self._lookup(name, qtype)
        result: list[Any] = self.cache[key]
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return result

    def _lookup(self, name: str, qtype: str) -> list[Any]:
        try:
            if qtype == "TXT":
                return [[text.encode("utf-8")] for text in self._lookups.txt(name)]
            if qtype == "A":
                return self._lookups.a(name)
            if qtype == "AAAA":
                return self._lookups.aaaa(name)
            if qtype == "MX":
                return self._lookups.mx(name)
            if qtype == "PTR":
                return self._lookups.ptr(name)
        except LookupFailed as exc:
            raise spf.TempError(f"DNS {exc}") from exc
        return []  # type 99 (SPF) records are obsolete (RFC 7208 3.1); never asked for


def check_spf(
    lookups: ThreadLookups, *, ip: str, helo: str, mail_from: str, now: float
) -> SpfResult:
    """RFC 7208 check_host() for MAIL FROM, or for HELO when the reverse path is null (2.4)."""
    identity = "mailfrom" if mail_from else "helo"
    domain = _domain_of(mail_from) if mail_from else helo.strip().lower()
    try:
        query = _Query(lookups, i=ip, s=mail_from, h=helo)
        query.t = str(int(now))  # the %{t} macro: our clock, not the library's
        result, _code, reason = query.check()
    except spf.TempError as exc:
        return SpfResult("temperror", domain, identity, str(exc))
    except (spf.PermError, spf.AmbiguityWarning, ValueError, UnicodeError) as exc:
        # A malformed client address, sender or record: nothing a retry would change.
        return SpfResult("permerror", domain, identity, str(exc))
    if result not in SPF_RESULTS:
        return SpfResult("permerror", domain, identity, f"unexpected pyspf result {result!r}")
    return SpfResult(result, domain, identity, reason)


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()
