"""Adaptive throttling per destination provider (pure): slow down when a provider's servers
defer us for sending too fast, and speed up again gradually while they accept.

*Provider*: mail to many domains is often received by one company's servers (every Google
Workspace domain has ``*.google.com`` MX hosts); their rate limits apply to all of it, so the
state is kept per provider, found by MX host suffix in ``PROVIDERS`` (rules as data). A site
whose hosts match no provider is its own provider (its site name).

*Policy* (AIMD, as TCP congestion control): a reply that ``is_rate_limited`` cuts the rate to
``rate * decrease`` (from ``ceiling`` when not yet slowed), at least ``floor``; further
rate-limit replies within ``cooldown`` seconds of a cut were already in flight and do not cut
again. Each accepted message adds ``increase / rate`` messages per second, so the rate climbs
by about ``increase`` per second of sending; on reaching ``ceiling`` the provider is no longer
slowed (``allowed_rate`` is None and only the configured site throttle applies).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from mailwright.delivery.classify import is_rate_limited
from mailwright.delivery.replies import Reply


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    mx_suffixes: tuple[str, ...]  # an MX host equal to or ending in ".<suffix>" belongs to it


PROVIDERS: tuple[Provider, ...] = (
    Provider("google", ("google.com", "googlemail.com")),
    Provider("microsoft", ("outlook.com", "hotmail.com", "office365.us")),
    Provider("yahoo", ("yahoodns.net", "yahoo.com", "aol.com")),
    Provider("apple", ("icloud.com", "me.com", "mac.com")),
    Provider("comcast", ("comcast.net",)),
    Provider("gmx", ("gmx.net", "web.de", "1and1.com", "ionos.com")),
    Provider("yandex", ("yandex.net", "yandex.ru")),
    Provider("mailru", ("mail.ru",)),
    Provider("zoho", ("zoho.com", "zoho.eu")),
    Provider("proton", ("protonmail.ch",)),
    Provider("fastmail", ("messagingengine.com",)),
    Provider("mimecast", ("mimecast.com",)),
    Provider("proofpoint", ("pphosted.com", "ppe-hosted.com")),
)


def provider_of(
    hosts: Iterable[str], site: str, providers: tuple[Provider, ...] = PROVIDERS
) -> str:
    """The provider of the first MX host that belongs to one, else ``site``."""
    for host in hosts:
        name = host.lower().rstrip(".")
        for provider in providers:
            if any(name == s or name.endswith("." + s) for s in provider.mx_suffixes):
                return provider.name
    return site


@dataclass(frozen=True, slots=True)
class AdaptiveState:
    rate: float | None = None  # messages per second while slowed; None: not slowed
    cut_at: float = -math.inf  # when the rate was last cut


@dataclass(frozen=True, slots=True)
class AdaptivePolicy:
    ceiling: float  # messages per second: the configured rate, or the adaptive default
    floor: float = 0.1  # never slower than this
    decrease: float = 0.5  # multiplicative decrease on a rate-limit reply
    increase: float = 1.0  # additive increase: messages per second gained per second
    cooldown: float = 1.0  # seconds after a cut in which rate-limit replies cut no further

    def on_reply(self, state: AdaptiveState, reply: Reply, now: float) -> AdaptiveState:
        if reply.is_positive:  # the common case, decided without classifying the reply
            if state.rate is None:
                return state
            rate = state.rate + self.increase / state.rate
            return AdaptiveState() if rate >= self.ceiling else replace(state, rate=rate)
        if is_rate_limited(reply.code, reply.enhanced, reply.text):
            return self._cut(state, now)
        return state

    def _cut(self, state: AdaptiveState, now: float) -> AdaptiveState:
        if now - state.cut_at < self.cooldown:
            return state
        current = self.ceiling if state.rate is None else state.rate
        return AdaptiveState(rate=max(self.floor, current * self.decrease), cut_at=now)


def allowed_rate(state: AdaptiveState) -> float | None:
    """Messages per second the provider may receive now; None: not slowed."""
    return state.rate
