"""SPF records read without a resolver: pick the one record, follow its includes, count lookups.

Pure: the caller fetches the TXT records of every name ``targets`` names (recursively) and passes
them in as a mapping, so the counting is a function of its inputs and tested as a table.

RFC 7208 4.6.4: ``include``, ``a``, ``mx``, ``ptr``, ``exists`` and the ``redirect`` modifier
each cost one DNS lookup, counted across the whole evaluation including every nested record;
more than 10 is a permerror, which receivers treat as "no SPF at all".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_LOOKUPS = 10
_LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
_QUALIFIERS = "+-~?"
_MAX_DEPTH = 20  # far beyond any legitimate chain; stops pathological inputs


def is_spf(value: str) -> bool:
    """RFC 7208 4.5: exactly ``v=spf1`` followed by a space or the end of the record."""
    lowered = value.strip().lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def spf_records(txt: Sequence[str]) -> list[str]:
    return [t.strip() for t in txt if is_spf(t)]


def _terms(record: str) -> list[str]:
    return record.split()[1:]


def _split(term: str) -> tuple[str, str, str | None]:
    """(qualifier, name, argument) of a mechanism, or ("", "redirect", target) for a modifier.

    >>> _split("~include:_spf.example.net"), _split("mx"), _split("redirect=spf.example.net")
    (('~', 'include', '_spf.example.net'), ('', 'mx', None), ('', 'redirect', 'spf.example.net'))
    """
    qualifier = term[0] if term[0] in _QUALIFIERS else ""
    body = term[len(qualifier) :]
    name, sep, arg = body.partition("=")
    if sep and ":" not in name and "/" not in name:
        return "", name.lower(), arg
    name, sep, arg = body.partition(":")
    if not sep:
        name, _, _ = body.partition("/")  # a/24, mx/24: no domain argument
        return qualifier, name.lower(), None
    return qualifier, name.lower(), arg


def _followable(target: str | None) -> str | None:
    """The domain a term points at, unless it is absent or a macro (RFC 7208 7) we cannot expand."""
    if not target or "%" in target:
        return None
    return target.strip().rstrip(".").lower()


def targets(record: str) -> list[str]:
    """Names whose SPF records this one pulls in: each ``include`` and a followed ``redirect``."""
    found: list[str] = []
    has_all = False
    redirect = None
    for term in _terms(record):
        _, name, arg = _split(term)
        if name == "include" and (target := _followable(arg)):
            found.append(target)
        elif name == "all":
            has_all = True
        elif name == "redirect":
            redirect = _followable(arg)
    # RFC 7208 6.1: redirect is ignored when the record has an "all" mechanism.
    if redirect and not has_all:
        found.append(redirect)
    return found


@dataclass(frozen=True, slots=True)
class LookupCount:
    count: int  # DNS lookups a receiver makes evaluating the record
    missing: tuple[str, ...] = ()  # included/redirected names with no single SPF record
    loops: tuple[str, ...] = ()  # names included again inside their own chain

    @property
    def is_over_limit(self) -> bool:
        return self.count > MAX_LOOKUPS


def count_lookups(record: str, published: Mapping[str, Sequence[str]]) -> LookupCount:
    """Lookups of ``record``, following includes and redirects through ``published`` (name ->
    TXT strings there); a name absent from the mapping is treated as having no SPF record.

    >>> count_lookups("v=spf1 mx include:a.test ~all", {"a.test": ["v=spf1 a ip4:192.0.2.1 -all"]})
    LookupCount(count=3, missing=(), loops=())
    """
    walk = _Walk(published)
    walk.visit(record, ())
    return LookupCount(walk.count, tuple(dict.fromkeys(walk.missing)), tuple(walk.loops))


class _Walk:
    def __init__(self, published: Mapping[str, Sequence[str]]) -> None:
        self._published = {k.lower().rstrip("."): v for k, v in published.items()}
        self.count = 0
        self.missing: list[str] = []
        self.loops: list[str] = []

    def visit(self, record: str, chain: tuple[str, ...]) -> None:
        names = [_split(term)[1] for term in _terms(record)]
        self.count += sum(1 for name in names if name in _LOOKUP_MECHANISMS)
        if "redirect" in names and "all" not in names:
            self.count += 1
        if len(chain) >= _MAX_DEPTH:
            return
        for target in targets(record):
            self._follow(target, chain)

    def _follow(self, target: str, chain: tuple[str, ...]) -> None:
        if target in chain:
            self.loops.append(target)
            return
        found = spf_records(self._published.get(target, ()))
        if len(found) != 1:
            self.missing.append(target)
            return
        self.visit(found[0], (*chain, target))


def covers(published: str, expected: str) -> bool:
    """A v=spf1 record passing each of our mechanisms (RFC 7208 4.6.2: ``+`` or no qualifier)."""
    if not is_spf(published):
        return False
    terms = {t.lower().removeprefix("+") for t in _terms(published) if t[0] not in "-~?"}
    ours = {t.lower() for t in _terms(expected) if not t.lower().endswith("all")}
    return ours <= terms


def all_qualifier(record: str) -> str | None:
    """The qualifier of the record's ``all`` mechanism ("+", "-", "~", "?"), None without one."""
    for term in _terms(record):
        qualifier, name, _ = _split(term)
        if name == "all":
            return qualifier or "+"
    return None
