"""Mailgun's client-info from User-Agent strings (ua-parser underneath)."""

from __future__ import annotations

import pytest

from mailwright.tracking import GEOLOCATION_UNKNOWN, client_info

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
THUNDERBIRD = "Mozilla/5.0 (X11; Linux x86_64; rv:102.0) Gecko/20100101 Thunderbird/102.0"
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.4266; Pro)"
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.0 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)
APPLE_MAIL = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)


@pytest.mark.parametrize(
    ("agent", "name", "os", "client_type", "device_type"),
    [
        (IPHONE, "Mobile Safari", "iOS", "mobile browser", "mobile"),
        (CHROME, "Chrome", "Windows", "browser", "desktop"),
        (THUNDERBIRD, "Thunderbird", "Linux", "email client", "desktop"),
        (OUTLOOK, "Outlook", "Windows", "email client", "desktop"),
        (IPAD, "Mobile Safari", "iOS", "mobile browser", "tablet"),
        (ANDROID_TABLET, "Chrome", "Android", "mobile browser", "tablet"),
        (APPLE_MAIL, "Apple Mail", "Mac OS X", "email client", "desktop"),
        ("curl/8.4.0", "curl", "unknown", "library", "unknown"),
        ("python-httpx/0.28.1", "unknown", "unknown", "library", "unknown"),
        (
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
            "Googlebot",
            "unknown",
            "robot",
            "unknown",
        ),
        ("", "unknown", "unknown", "unknown", "unknown"),
    ],
)
def test_client_info(agent, name, os, client_type, device_type):
    assert client_info(agent) == {
        "client-name": name,
        "client-os": os,
        "client-type": client_type,
        "device-type": device_type,
        "user-agent": agent,
    }


def test_results_are_not_shared_between_callers():
    first = client_info(CHROME)
    first["client-name"] = "changed"
    assert client_info(CHROME)["client-name"] == "Chrome"


def test_geolocation_is_unknown_without_a_database():
    assert GEOLOCATION_UNKNOWN == {"country": "Unknown", "region": "Unknown", "city": "Unknown"}
