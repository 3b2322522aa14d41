"""What an SMTP reply means for a delivery: its outcome, bounce class and Mailgun reason (pure).

KumoMTA's ``bounce-classify`` habit: a closed list of bounce classes and an ordered table of
rules, the first matching rule wins. The outcome starts from the reply's class: the enhanced
code's class digit when there is one (RFC 3463 section 2: it refines the basic code), else the
basic code's first digit; 2xx is delivered, 4xx temporary, 5xx permanent. Rules that say
otherwise carry the reason in a comment.

Mailgun reasons (``reason`` on ``failed`` events): ``bounce`` is a hard bounce of the recipient
(its address then joins the bounces list), ``espblock`` a block or rate limit by the receiving
provider against us, ``generic`` everything else. Only failures that are the recipient's own
(unknown, disabled, or a domain that takes no mail) are ``bounce``: a block of our IP or an
oversized message says nothing about the address and must not suppress it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase


class Outcome(StrEnum):
    DELIVERED = "delivered"  # 2xx: the receiver took responsibility
    TEMPORARY = "temporary"  # try again later, per the retry schedule
    PERMANENT = "permanent"  # do not try again


class BounceClass(StrEnum):
    """KumoMTA's ``PreDefinedBounceClass`` list, the classes we can tell apart."""

    INVALID_RECIPIENT = "InvalidRecipient"  # the mailbox does not exist
    INACTIVE_MAILBOX = "InactiveMailbox"  # it exists but is disabled or expired
    BAD_DOMAIN = "BadDomain"  # the domain takes no mail (null MX, no such domain)
    DNS_FAILURE = "DNSFailure"  # the lookup itself failed
    QUOTA_ISSUES = "QuotaIssues"  # mailbox full, receiving too fast
    TOO_LARGE = "TooLarge"  # over the receiver's size limit
    SPAM_BLOCK = "SpamBlock"  # our IP or domain is on a blocklist or has poor reputation
    SPAM_CONTENT = "SpamContent"  # this message looked like spam
    VIRUS_RELATED = "VirusRelated"  # malware or a dangerous attachment
    AUTHENTICATION_FAILED = "AuthenticationFailed"  # SPF, DKIM, DMARC or PTR requirements
    POLICY_RELATED = "PolicyRelated"  # any other refusal by local policy
    RELAY_DENIED = "RelayDenied"  # the server is not the recipient's MX
    INVALID_SENDER = "InvalidSender"  # the envelope sender was refused
    CONTENT_RELATED = "ContentRelated"  # malformed or refused content, not spam
    PROTOCOL_ERRORS = "ProtocolErrors"  # syntax or sequence errors
    BAD_CONFIGURATION = "BadConfiguration"  # TLS or AUTH could not be agreed
    BAD_CONNECTION = "BadConnection"  # the connection broke
    NO_ANSWER_FROM_HOST = "NoAnswerFromHost"  # the connection was refused or timed out
    ROUTING_ERRORS = "RoutingErrors"  # no route to the destination
    MESSAGE_EXPIRED = "MessageExpired"  # delivery time expired
    TRANSIENT_FAILURE = "TransientFailure"  # try again later: greylisting, busy, rate limited
    UNCATEGORIZED = "Uncategorized"  # no rule matched


class Reason(StrEnum):
    """Mailgun's ``reason`` values that classification produces."""

    NONE = ""  # delivered
    BOUNCE = "bounce"
    ESPBLOCK = "espblock"
    GENERIC = "generic"


_BOUNCE = frozenset(
    {BounceClass.INVALID_RECIPIENT, BounceClass.INACTIVE_MAILBOX, BounceClass.BAD_DOMAIN}
)
_ESPBLOCK = frozenset(
    {
        BounceClass.SPAM_BLOCK,
        BounceClass.SPAM_CONTENT,
        BounceClass.AUTHENTICATION_FAILED,
        BounceClass.POLICY_RELATED,
    }
)


def reply_class(code: int | None) -> str:
    """RFC 5321 4.2.1: the reply's first digit, as ``2xx``, ``4xx`` or ``5xx``; ``none`` when
    no reply came (the connection failed) or it made no sense."""
    if code is None or not 200 <= code <= 599:
        return "none"
    return f"{code // 100}xx"


@dataclass(frozen=True, slots=True)
class Classification:
    outcome: Outcome
    bounce_class: BounceClass | None  # None when delivered
    reason: str  # Mailgun's reason: "bounce", "espblock", "generic"; "" when delivered


@dataclass(frozen=True, slots=True)
class Rule:
    """Matches when every given criterion does; criteria left empty match anything."""

    bounce_class: BounceClass
    enhanced: tuple[str, ...] = ()  # fnmatch patterns on "5.1.1"; "?" stands for the class
    text: str | None = None  # regex, searched case-insensitively in the reply text
    codes: tuple[int, ...] = ()  # basic reply codes
    outcome: Outcome | None = None  # None: the reply's own class decides
    reason: Reason | None = None  # None: from the bounce class and outcome

    def matches(self, code: int | None, enhanced: str | None, text: str) -> bool:
        if self.codes and code not in self.codes:
            return False
        if self.enhanced and not (
            enhanced is not None and any(fnmatchcase(enhanced, p) for p in self.enhanced)
        ):
            return False
        return self.text is None or re.search(self.text, text, re.IGNORECASE) is not None


_SPAM = r"spam|unsolicited|junk|bulk mail"
_BLOCKLIST = (
    r"block ?list|black ?list|spamhaus|barracuda|spamcop|\brbl\b|dnsbl|reputation|banned"
    r"|blocked using|on our block"
)
_AUTH = r"authenticat|\bspf\b|\bdkim\b|\bdmarc\b|\bptr\b|reverse (?:dns|hostname)|rdns"
_RATE = (
    r"rate limit|rate-limit|too many (?:connections|messages|sessions)|unexpected volume"
    r"|temporarily deferred|server busy|try again later|unusual rate"
)
_UNKNOWN_USER = (
    r"user unknown|unknown user|no such (?:user|mailbox|recipient)|does not exist"
    r"|doesn't have an? .*account|mailbox (?:not found|unavailable|does not exist)"
    r"|recipient not found|invalid recipient|unknown recipient|recipient address rejected"
    r"|address rejected|no mailbox here|not our customer"
)
_INACTIVE = r"disabled|inactive|deactivated|suspended|expired account|account (?:is )?closed"
_QUOTA = (
    r"mailbox (?:is )?full|over ?quota|quota exceeded|exceeded (?:storage|its quota)"
    r"|insufficient (?:system )?storage|out of storage|storage allocation"
)

_C = BounceClass
_T, _P = Outcome.TEMPORARY, Outcome.PERMANENT

# Order matters: the first matching rule wins. Specific texts that contradict the code come first,
# then enhanced codes (RFC 3463, the IANA registry of RFC 5248), then texts for servers that send
# no enhanced code.
RULES: tuple[Rule, ...] = (
    # RFC 5321 4.5.3.1.10: "too many recipients" is a temporary condition even as 552 (RFC 821
    # listed it wrongly); RFC 3463 X.5.3. The remaining recipients go in a later transaction.
    Rule(_C.TRANSIENT_FAILURE, enhanced=("?.5.3",), outcome=_T),
    Rule(_C.TRANSIENT_FAILURE, codes=(452, 552), text=r"too many recipients", outcome=_T),
    # Greylisting (RFC 6647) answers 4xx, often 4.7.1: temporary, and no block against us.
    Rule(_C.TRANSIENT_FAILURE, text=r"greylist|graylist|try again in \d+ (?:sec|min)"),
    # Yahoo TSS09 "[...] will be permanently deferred; Retrying will NOT succeed": the block is
    # final although the code is 421, and retrying for days only hurts our reputation.
    Rule(_C.SPAM_BLOCK, text=r"retrying will not succeed", outcome=_P, reason=Reason.ESPBLOCK),
    # Gmail 552-5.2.2 "out of storage space and inactive" (p=OverQuotaPerm): abandoned mailbox.
    Rule(_C.INACTIVE_MAILBOX, enhanced=("?.2.2",), text=r"inactive", outcome=_P),
    # RFC 7505 3: a null MX answers "556 5.1.10"; the domain takes no mail at all.
    Rule(_C.BAD_DOMAIN, text=r"null mx"),
    # Exchange Online directory-based edge blocking rejects unknown users with 5.4.1.
    Rule(_C.INVALID_RECIPIENT, enhanced=("?.4.1",), text=r"recipient address rejected"),
    # Exchange Online: the recipient (often a group) takes mail only from authenticated senders.
    Rule(_C.POLICY_RELATED, text=r"RESOLVER\.RST\.", reason=Reason.GENERIC),
    # RFC 3463 X.1.x, addressing.
    Rule(_C.INVALID_RECIPIENT, enhanced=("?.1.1", "?.1.3", "?.1.6", "?.1.10")),
    Rule(_C.BAD_DOMAIN, enhanced=("?.1.2",)),
    Rule(_C.INVALID_SENDER, enhanced=("?.1.7", "?.1.8")),
    # RFC 3463 X.2.x, mailbox status. A 4.2.x is a mailbox that cannot take mail right now
    # (Gmail 450-4.2.1 "receiving mail at a rate that prevents additional messages").
    Rule(_C.QUOTA_ISSUES, enhanced=("4.2.*",)),
    Rule(_C.INACTIVE_MAILBOX, enhanced=("5.2.1",)),
    # RFC 3463 X.2.2 "mailbox full" is "useful for both permanent and persistent transient
    # errors". We retry: a full mailbox is often emptied within the 5-day retry window (Gmail
    # itself sends 452-4.2.2 OverQuotaTemp), and the schedule still gives up in the end.
    Rule(_C.QUOTA_ISSUES, enhanced=("?.2.2",), outcome=_T),
    # RFC 3463 X.2.3 "message length exceeds administrative limit", X.3.4 "too big for system".
    Rule(_C.TOO_LARGE, enhanced=("?.2.3", "?.3.4")),
    # RFC 3463 X.4.x, network and routing; our client synthesizes 4.4.1, 4.4.2 and 4.4.3.
    Rule(_C.NO_ANSWER_FROM_HOST, enhanced=("?.4.1",)),
    Rule(_C.BAD_CONNECTION, enhanced=("?.4.2",)),
    Rule(_C.DNS_FAILURE, enhanced=("?.4.3",)),
    Rule(_C.MESSAGE_EXPIRED, enhanced=("?.4.7",)),
    Rule(_C.ROUTING_ERRORS, enhanced=("?.4.*",)),
    # Outlook.com answers an unknown user with "550 5.5.0 Requested action not taken: mailbox
    # unavailable": a non-specific code (X.5.0 "other protocol status") whose text is specific.
    Rule(_C.INVALID_RECIPIENT, enhanced=("?.5.0",), text=_UNKNOWN_USER),
    Rule(_C.PROTOCOL_ERRORS, enhanced=("?.5.*",)),
    Rule(_C.CONTENT_RELATED, enhanced=("?.6.*",)),
    # RFC 3463 X.7.5 cryptographic failure, RFC 5248 X.7.10 encryption needed, RFC 4954 X.7.11
    # encryption required for AUTH: TLS could not be agreed, not a block.
    Rule(_C.BAD_CONFIGURATION, enhanced=("?.7.5", "?.7.10", "?.7.11"), reason=Reason.GENERIC),
    Rule(_C.BAD_CONFIGURATION, text=r"no supported auth mechanism", reason=Reason.GENERIC),
    Rule(
        _C.RELAY_DENIED,
        text=r"relay(?:ing)? (?:access )?denied|unable to relay|not permitted"
        r" to relay",
        reason=Reason.GENERIC,
    ),
    # RFC 3463 X.7.x, security or policy: the receiver refuses us or this message.
    Rule(_C.VIRUS_RELATED, enhanced=("?.7.*",), text=r"virus|malware|security issue"),
    Rule(_C.SPAM_BLOCK, enhanced=("?.7.*",), text=_BLOCKLIST),
    Rule(_C.SPAM_CONTENT, enhanced=("?.7.*",), text=_SPAM),
    Rule(_C.AUTHENTICATION_FAILED, enhanced=("?.7.*",), text=_AUTH),
    # Rate limiting by the receiver (Gmail 4.7.28, Outlook 4.7.500/650, Yahoo TSS04): temporary.
    Rule(_C.TRANSIENT_FAILURE, enhanced=("4.7.*",), reason=Reason.ESPBLOCK),
    Rule(_C.POLICY_RELATED, enhanced=("?.7.*",)),
    # Servers without enhanced codes (and codes whose subject says nothing more).
    Rule(_C.INACTIVE_MAILBOX, text=_INACTIVE),
    Rule(_C.INVALID_RECIPIENT, text=_UNKNOWN_USER),
    # Quota without an enhanced code, e.g. RFC 5321's "552 ... exceeded storage allocation":
    # temporary for the same reason as X.2.2.
    Rule(_C.QUOTA_ISSUES, text=_QUOTA, outcome=_T),
    Rule(_C.TOO_LARGE, text=r"too (?:large|big)|size limit|message size|exceeds? .*size"),
    Rule(_C.VIRUS_RELATED, text=r"virus|malware"),
    Rule(_C.SPAM_BLOCK, text=_BLOCKLIST),
    Rule(_C.SPAM_CONTENT, text=_SPAM),
    Rule(_C.TRANSIENT_FAILURE, text=_RATE),
    Rule(_C.BAD_DOMAIN, text=r"domain not found|host unknown|no such domain"),
)


def classify_reply(code: int | None, enhanced: str | None, text: str) -> Classification:
    """Classify one reply; ``code`` is None when no reply was received at all (temporary)."""
    reply_class = _reply_class(code, enhanced)
    if reply_class == 2:
        return Classification(Outcome.DELIVERED, None, Reason.NONE)
    natural = Outcome.PERMANENT if reply_class == 5 else Outcome.TEMPORARY
    for rule in RULES:
        if rule.matches(code, enhanced, text):
            outcome = rule.outcome or natural
            reason = rule.reason or _reason(rule.bounce_class, outcome)
            return Classification(outcome, rule.bounce_class, reason)
    return Classification(natural, BounceClass.UNCATEGORIZED, Reason.GENERIC)


def _reply_class(code: int | None, enhanced: str | None) -> int:
    # RFC 3463 2: the enhanced class refines the basic code; when they disagree (a "550 4.2.2"),
    # the enhanced code is the more specific statement. No reply at all is temporary.
    if enhanced and enhanced[0] in "245":
        return int(enhanced[0])
    if code is None or not 200 <= code < 600 or 300 <= code < 400:
        return 4  # no reply, or one that makes no sense as a final answer
    return code // 100


def _reason(bounce_class: BounceClass, outcome: Outcome) -> Reason:
    if bounce_class in _ESPBLOCK:
        return Reason.ESPBLOCK
    if bounce_class in _BOUNCE and outcome is Outcome.PERMANENT:
        return Reason.BOUNCE
    return Reason.GENERIC


def is_rate_limited(code: int | None, enhanced: str | None, text: str) -> bool:
    """The receiver asks us to slow down: a temporary reply whose text says so (``_RATE``), or
    one classified as a transient 4.7.x deferral (``espblock``: Outlook 4.7.500/650, Yahoo
    TSS04). Greylisting, "too many recipients" and our own connection failures are not."""
    verdict = classify_reply(code, enhanced, text)
    if verdict.outcome is not Outcome.TEMPORARY:
        return False
    # Gmail's 421-4.7.28 "unusual rate of unsolicited mail" classifies as spam content, but
    # its text says rate: a temporary reply that names the rate is a rate limit whatever else.
    if re.search(_RATE, text, re.IGNORECASE) is not None:
        return True
    is_transient = verdict.bounce_class is BounceClass.TRANSIENT_FAILURE
    return is_transient and verdict.reason == Reason.ESPBLOCK
