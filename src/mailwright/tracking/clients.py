"""Who fetched a tracking URL: Mailgun's ``client-info`` from the User-Agent (parsed by
``ua-parser``) and ``geolocation``; pure apart from the parser's rule tables.

Mailgun's values: ``client-type`` is ``browser``, ``mobile browser``, ``email client``,
``library``, ``robot`` or ``unknown``; ``device-type`` is ``desktop``, ``mobile``, ``tablet``
or ``unknown``. No geolocation database ships with mailwright, so every place is ``Unknown``.
"""

from __future__ import annotations

import functools
from typing import Any

import ua_parser

UNKNOWN = "unknown"
GEOLOCATION_UNKNOWN = {"country": "Unknown", "region": "Unknown", "city": "Unknown"}

# ua-parser families of mail programs and of the image proxies webmails fetch pixels through.
_EMAIL_CLIENTS = frozenset(
    {
        "Outlook",
        "Thunderbird",
        "Apple Mail",
        "Airmail",
        "Postbox",
        "Lotus Notes",
        "Windows Live Mail",
        "Evolution",
        "Sparrow",
        "Mailbird",
        "eM Client",
        "GmailImageProxy",
        "YahooMailProxy",
        "Superhuman",
        "Spark",
    }
)
_LIBRARIES = frozenset(
    {"curl", "Wget", "Python Requests", "Python-urllib", "Java", "Go-http-client", "okhttp"}
)
_LIBRARY_PREFIXES = ("python-", "go-http-client", "java/", "okhttp", "axios", "node-fetch")
_ROBOT_WORDS = ("bot", "crawler", "spider", "slurp", "preview", "scanner")
_DESKTOP_OS = frozenset(
    {"Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Debian", "Chrome OS", "FreeBSD"}
)
_MOBILE_OS = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS"})
_TABLETS = ("ipad", "tablet", "kindle", "nexus 7", "nexus 9", "nexus 10", "sm-t", "tab")


def _family(value: Any) -> str | None:
    family = getattr(value, "family", None)
    return None if family in (None, "", "Other") else str(family)


def client_info(user_agent: str) -> dict[str, str]:
    """Mailgun's ``client-info`` object for one User-Agent string."""
    return dict(_client_info(user_agent))


@functools.lru_cache(maxsize=4096)  # parsing costs about a millisecond; agents repeat a lot
def _client_info(user_agent: str) -> dict[str, str]:
    parsed = ua_parser.parse(user_agent) if user_agent else None
    name = _family(parsed.user_agent) if parsed else None
    os = _family(parsed.os) if parsed else None
    device = _family(parsed.device) if parsed else None
    device_type = _device_type(os, device, user_agent)
    return {
        "client-name": name or UNKNOWN,
        "client-os": os or UNKNOWN,
        "client-type": _client_type(name, device, device_type, user_agent),
        "device-type": device_type,
        "user-agent": user_agent,
    }


def _client_type(name: str | None, device: str | None, device_type: str, agent: str) -> str:
    lowered = agent.lower()
    if device == "Spider" or any(word in lowered for word in _ROBOT_WORDS):
        return "robot"
    if name in _EMAIL_CLIENTS:
        return "email client"
    if name in _LIBRARIES or lowered.startswith(_LIBRARY_PREFIXES):
        return "library"
    if name is None:
        return UNKNOWN
    return "mobile browser" if device_type in ("mobile", "tablet") else "browser"


def _device_type(os: str | None, device: str | None, agent: str) -> str:
    if device is not None and any(word in device.lower() for word in _TABLETS):
        return "tablet"
    if os == "Android" and "mobile" not in agent.lower():
        return "tablet"  # Android tablets leave "Mobile" out (Chrome's documented rule)
    if os in _MOBILE_OS:
        return "mobile"
    if os in _DESKTOP_OS:
        return "desktop"
    if device is not None and device != "Spider":
        return "mobile"
    return UNKNOWN
