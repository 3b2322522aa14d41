"""Check a domain's DNS records against what is actually published.

Each distinct (type, name) is looked up once, all concurrently; judging what was found is pure
(``judge``). A record is ``valid`` when the published data matches, ``invalid`` when it is absent
or different, and ``unknown`` when the lookup itself failed, so a DNS outage never flips a
verified domain to invalid.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeAlias

from mailwright.domains import spf
from mailwright.domains.records import DnsRecord
from mailwright.resolver import DnsLookupFailed, Resolver

Found: TypeAlias = tuple[str, ...] | None  # None: the lookup failed

_WHITESPACE = re.compile(r"\s+")


async def check_records(resolver: Resolver, records: Sequence[DnsRecord]) -> list[DnsRecord]:
    keys = list(dict.fromkeys((r.record_type, _norm_name(r.name)) for r in records))
    found = await asyncio.gather(*(_lookup(resolver, kind, name) for kind, name in keys))
    by_key = dict(zip(keys, found, strict=True))
    return [judge(r, by_key[(r.record_type, _norm_name(r.name))]) for r in records]


async def _lookup(resolver: Resolver, kind: str, name: str) -> Found:
    lookups: dict[str, Callable[[str], Awaitable[list[str]]]] = {
        "TXT": resolver.txt,
        "CNAME": resolver.cname,
        "MX": lambda n: _mx_hosts(resolver, n),
    }
    try:
        return tuple(await lookups[kind](name))
    except DnsLookupFailed:
        return None


async def _mx_hosts(resolver: Resolver, name: str) -> list[str]:
    return [host for _, host in await resolver.mx(name)]


def judge(record: DnsRecord, found: Found) -> DnsRecord:
    """A copy of ``record`` with ``valid`` and ``cached`` set from what the lookup found."""
    if found is None:
        return dataclasses.replace(record, valid="unknown", cached=())
    is_valid = any(_matches(record, published) for published in found)
    return dataclasses.replace(record, valid="valid" if is_valid else "invalid", cached=found)


def _matches(record: DnsRecord, published: str) -> bool:
    if record.record_type in ("CNAME", "MX"):
        return _norm_name(published) == _norm_name(record.value)
    if spf.is_spf(record.value):
        return spf.covers(published, record.value)
    if "p" in _dkim_tags(record.value):
        return _dkim_tags(published).get("p") == _dkim_tags(record.value)["p"]
    return _squash(published) == _squash(record.value)


def _dkim_tags(value: str) -> dict[str, str]:
    """RFC 6376 3.2 tag=value list; whitespace inside values is ignored (3.6.1 FWS in p=)."""
    tags: dict[str, str] = {}
    for part in value.split(";"):
        tag, sep, tag_value = part.partition("=")
        if sep:
            tags[tag.strip().lower()] = _squash(tag_value)
    return tags


def _squash(value: str) -> str:
    return _WHITESPACE.sub("", value)


def _norm_name(name: str) -> str:
    return name.strip().rstrip(".").lower()
