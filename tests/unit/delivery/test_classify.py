"""classify_reply over real replies from large receivers (texts as our reply parser leaves them:
enhanced code removed, lines joined with newlines)."""

import pytest

from mailwright.delivery.classify import (
    RULES,
    BounceClass,
    Classification,
    Outcome,
    Rule,
    classify_reply,
    is_rate_limited,
    reply_class,
)

C = BounceClass
OK, TEMP, PERM = Outcome.DELIVERED, Outcome.TEMPORARY, Outcome.PERMANENT

SAMPLES: list[tuple[int | None, str | None, str, Outcome, BounceClass | None, str]] = [
    # --- delivered
    (
        250,
        "2.0.0",
        "OK  1700000000 a1-20020a05600c000000b0040e000000000si1234567wmb.123 - gsmtp",
        OK,
        None,
        "",
    ),
    (250, None, "2.6.0 <id@mw.test> [InternalId=123] Queued mail for delivery", OK, None, ""),
    (251, "2.1.5", "User not local; will forward", OK, None, ""),
    # --- Gmail
    (
        550,
        "5.1.1",
        "The email account that you tried to reach does not exist. Please try\n"
        "double-checking the recipient's email address for typos or\nunnecessary spaces. "
        "Learn more at\nhttps://support.google.com/mail/?p=NoSuchUser",
        PERM,
        C.INVALID_RECIPIENT,
        "bounce",
    ),
    (
        550,
        "5.2.1",
        "The email account that you tried to reach is disabled. Learn more at\n"
        "https://support.google.com/mail/?p=DisabledUser",
        PERM,
        C.INACTIVE_MAILBOX,
        "bounce",
    ),
    (
        452,
        "4.2.2",
        "The recipient's inbox is out of storage space. Please direct the\n"
        "recipient to\nhttps://support.google.com/mail/?p=OverQuotaTemp",
        TEMP,
        C.QUOTA_ISSUES,
        "generic",
    ),
    (
        552,
        "5.2.2",
        "The recipient's inbox is out of storage space and inactive. Please direct\n"
        "the recipient to\nhttps://support.google.com/mail/?p=OverQuotaPerm",
        PERM,
        C.INACTIVE_MAILBOX,
        "bounce",
    ),
    (
        450,
        "4.2.1",
        "The user you are trying to contact is receiving mail at a rate that\n"
        "prevents additional messages from being delivered.",
        TEMP,
        C.QUOTA_ISSUES,
        "generic",
    ),
    (
        552,
        "5.2.3",
        "Your message exceeded Google's message size limits.",
        PERM,
        C.TOO_LARGE,
        "generic",
    ),
    (
        550,
        "5.7.1",
        "[192.0.2.1] Our system has detected that this message is\nlikely "
        "unsolicited mail. To reduce the amount of spam sent to Gmail,\nthis message has been "
        "blocked.",
        PERM,
        C.SPAM_CONTENT,
        "espblock",
    ),
    (
        421,
        "4.7.28",
        "[192.0.2.1] Our system has detected an unusual rate of\nunsolicited mail "
        "originating from your IP address. To protect our\nusers from spam, mail sent from your "
        "IP address has been temporarily\nrate limited.",
        TEMP,
        C.SPAM_CONTENT,
        "espblock",
    ),
    (
        550,
        "5.7.26",
        "This mail has been blocked because the sender is\nunauthenticated. Gmail "
        "requires all senders to authenticate with\neither SPF or DKIM.",
        PERM,
        C.AUTHENTICATION_FAILED,
        "espblock",
    ),
    (
        550,
        "5.7.25",
        "[192.0.2.1] The IP address sending this message does not have a\nPTR "
        "record setup, or the corresponding forward DNS entry does not\npoint to the sending IP.",
        PERM,
        C.AUTHENTICATION_FAILED,
        "espblock",
    ),
    (
        552,
        "5.7.0",
        "This message was blocked because its content presents a potential\nsecurity issue.",
        PERM,
        C.VIRUS_RELATED,
        "generic",
    ),
    (452, "4.5.3", "Your message has too many recipients.", TEMP, C.TRANSIENT_FAILURE, "generic"),
    (
        421,
        "4.3.0",
        "Temporary System Problem.  Try again later (10).",
        TEMP,
        C.TRANSIENT_FAILURE,
        "generic",
    ),
    (
        553,
        "5.1.3",
        "The recipient address <bad..dots@gmail.com> is not a valid RFC 5321\naddress.",
        PERM,
        C.INVALID_RECIPIENT,
        "bounce",
    ),
    # --- Microsoft (Outlook.com, Exchange Online)
    (
        550,
        "5.5.0",
        "Requested action not taken: mailbox unavailable (S2017062302).",
        PERM,
        C.INVALID_RECIPIENT,
        "bounce",
    ),
    (501, "5.5.4", "Invalid command arguments", PERM, C.PROTOCOL_ERRORS, "generic"),
    (
        550,
        None,
        "Requested action not taken: mailbox unavailable",
        PERM,
        C.INVALID_RECIPIENT,
        "bounce",
    ),
    (
        550,
        "5.1.10",
        "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        PERM,
        C.INVALID_RECIPIENT,
        "bounce",
    ),
    (
        550,
        "5.4.1",
        "Recipient address rejected: Access denied. AS(201806281) "
        "[DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]",
        PERM,
        C.INVALID_RECIPIENT,
        "bounce",
    ),
    (
        451,
        "4.7.500",
        "Server busy. Please try again later from [192.0.2.1]. (S77719) "
        "[AM0PR01MB1234.eurprd01.prod.exchangelabs.com]",
        TEMP,
        C.TRANSIENT_FAILURE,
        "espblock",
    ),
    (
        421,
        "4.7.650",
        "The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation.",
        TEMP,
        C.SPAM_BLOCK,
        "espblock",
    ),
    (
        550,
        "5.7.1",
        "Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your "
        "Internet service provider since part of their network is on our block list (S3150).",
        PERM,
        C.SPAM_BLOCK,
        "espblock",
    ),
    (
        550,
        "5.7.606",
        "Access denied, banned sending IP [192.0.2.1]. To request removal from this "
        "list please visit https://sender.office.com/",
        PERM,
        C.SPAM_BLOCK,
        "espblock",
    ),
    (
        550,
        "5.7.1",
        "RESOLVER.RST.AuthRequired; authentication required",
        PERM,
        C.POLICY_RELATED,
        "generic",
    ),
    (
        554,
        "5.2.2",
        "mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException."
        "MapiExceptionShutoffQuotaExceeded",
        TEMP,
        C.QUOTA_ISSUES,
        "generic",
    ),
    (
        550,
        "5.7.520",
        "Access denied, Your organization does not allow external forwarding.",
        PERM,
        C.POLICY_RELATED,
        "espblock",
    ),
    # --- Yahoo / AOL
    (
        554,
        None,
        "delivery error: dd This user doesn't have a yahoo.com account "
        "(nobody@yahoo.com) [0] - mta1234.mail.gq1.yahoo.com",
        PERM,
        C.INVALID_RECIPIENT,
        "bounce",
    ),
    (
        554,
        None,
        "delivery error: dd Sorry your message to someone@yahoo.com cannot be delivered. "
        "This mailbox is disabled (554.30). - mta4321.mail.bf1.yahoo.com",
        PERM,
        C.INACTIVE_MAILBOX,
        "bounce",
    ),
    (
        421,
        "4.7.0",
        "[TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
        "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        TEMP,
        C.TRANSIENT_FAILURE,
        "espblock",
    ),
    (
        421,
        "4.7.0",
        "[TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying "
        "will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
        PERM,
        C.SPAM_BLOCK,
        "espblock",
    ),
    (
        553,
        "5.7.1",
        "[BL21] Connections will not be accepted from 192.0.2.1, because the ip is "
        "in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
        PERM,
        C.SPAM_BLOCK,
        "espblock",
    ),
    (
        554,
        "5.7.9",
        "Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes",
        PERM,
        C.POLICY_RELATED,
        "espblock",
    ),
    (
        552,
        None,
        "1 Requested mail action aborted, mailbox not found",
        PERM,
        C.INVALID_RECIPIENT,
        "bounce",
    ),
    (451, None, "Message temporarily deferred - [160]", TEMP, C.TRANSIENT_FAILURE, "generic"),
    # --- Postfix and friends
    (
        550,
        "5.1.1",
        "<nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
        PERM,
        C.INVALID_RECIPIENT,
        "bounce",
    ),
    (
        450,
        "4.2.0",
        "<someone@example.com>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/example.com.html",
        TEMP,
        C.TRANSIENT_FAILURE,
        "generic",
    ),
    (451, "4.7.1", "Please try again later (greylisted)", TEMP, C.TRANSIENT_FAILURE, "generic"),
    (
        554,
        "5.7.1",
        "<someone@elsewhere.test>: Relay access denied",
        PERM,
        C.RELAY_DENIED,
        "generic",
    ),
    (
        554,
        "5.7.1",
        "Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
        PERM,
        C.SPAM_BLOCK,
        "espblock",
    ),
    (
        450,
        "4.7.1",
        "Client host rejected: cannot find your reverse hostname, [192.0.2.1]",
        TEMP,
        C.AUTHENTICATION_FAILED,
        "espblock",
    ),
    (
        553,
        "5.1.8",
        "<bounce@mw.test>: Sender address rejected: Domain not found",
        PERM,
        C.INVALID_SENDER,
        "generic",
    ),
    (552, "5.3.4", "Message size exceeds fixed limit", PERM, C.TOO_LARGE, "generic"),
    (
        552,
        None,
        "Requested mail action aborted: exceeded storage allocation",
        TEMP,
        C.QUOTA_ISSUES,
        "generic",
    ),
    (552, None, "Too many recipients", TEMP, C.TRANSIENT_FAILURE, "generic"),
    (554, "5.6.0", "Message contains invalid header", PERM, C.CONTENT_RELATED, "generic"),
    (554, None, "Transaction failed", PERM, C.UNCATEGORIZED, "generic"),
    (
        421,
        None,
        "mx.example.com Service not available, closing transmission channel",
        TEMP,
        C.UNCATEGORIZED,
        "generic",
    ),
    (
        550,
        "5.7.1",
        "Message rejected: virus found (Eicar-Signature)",
        PERM,
        C.VIRUS_RELATED,
        "generic",
    ),
    # A "550 4.2.2": the enhanced class wins (RFC 3463 2).
    (550, "4.2.2", "mailbox is full", TEMP, C.QUOTA_ISSUES, "generic"),
    # --- synthesized by our client and transport (delivery/replies.py, transports.py)
    (421, "4.4.1", "No answer from host", TEMP, C.NO_ANSWER_FROM_HOST, "generic"),
    (421, "4.4.2", "Bad connection", TEMP, C.BAD_CONNECTION, "generic"),
    (421, "4.7.5", "Cryptographic failure", TEMP, C.BAD_CONFIGURATION, "generic"),
    (421, "4.7.10", "Encryption needed", TEMP, C.BAD_CONFIGURATION, "generic"),
    (421, "4.7.0", "No supported AUTH mechanism offered", TEMP, C.BAD_CONFIGURATION, "generic"),
    (451, "4.4.3", "DNS lookup failed: MX example.test: timeout", TEMP, C.DNS_FAILURE, "generic"),
    (550, "5.1.10", "Recipient address has null MX", PERM, C.BAD_DOMAIN, "bounce"),
    (
        550,
        "5.1.2",
        "Domain nowhere.test has no MX and no A/AAAA records",
        PERM,
        C.BAD_DOMAIN,
        "bounce",
    ),
    (451, "4.7.5", "No MX host matches the MTA-STS policy", TEMP, C.BAD_CONFIGURATION, "generic"),
    (None, None, "connection lost before any reply", TEMP, C.UNCATEGORIZED, "generic"),
]


@pytest.mark.parametrize(
    ("code", "enhanced", "text", "outcome", "bounce_class", "reason"),
    SAMPLES,
    ids=[f"{s[0]}-{s[1]}-{s[2][:40]}" for s in SAMPLES],
)
def test_classify_real_replies(
    code: int | None,
    enhanced: str | None,
    text: str,
    outcome: Outcome,
    bounce_class: BounceClass | None,
    reason: str,
) -> None:
    assert classify_reply(code, enhanced, text) == Classification(outcome, bounce_class, reason)


def test_enough_real_samples() -> None:
    assert len(SAMPLES) >= 30


@pytest.mark.parametrize(
    ("code", "expected"),
    [(220, OK), (354, TEMP), (199, TEMP), (600, TEMP), (250, OK), (499, TEMP), (599, PERM)],
)
def test_outcome_from_the_basic_code(code: int, expected: Outcome) -> None:
    assert classify_reply(code, None, "").outcome is expected


@pytest.mark.parametrize(
    ("rule", "code", "enhanced", "text", "matches"),
    [
        (Rule(C.QUOTA_ISSUES, enhanced=("?.2.2",)), 552, "5.2.2", "", True),
        (Rule(C.QUOTA_ISSUES, enhanced=("?.2.2",)), 552, "5.2.22", "", False),
        (Rule(C.QUOTA_ISSUES, enhanced=("?.2.2",)), 552, None, "", False),
        (Rule(C.QUOTA_ISSUES, enhanced=("4.7.*",)), 421, "4.7.28", "", True),
        (Rule(C.QUOTA_ISSUES, codes=(552,), text="too many"), 552, None, "Too Many", True),
        (Rule(C.QUOTA_ISSUES, codes=(552,), text="too many"), 550, None, "too many", False),
        (Rule(C.QUOTA_ISSUES), 550, None, "", True),
    ],
)
def test_rule_matching(
    rule: Rule, code: int, enhanced: str | None, text: str, matches: bool
) -> None:
    assert rule.matches(code, enhanced, text) is matches


def test_rule_patterns_compile() -> None:
    import re

    for rule in RULES:
        if rule.text is not None:
            re.compile(rule.text)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (250, "2xx"),
        (421, "4xx"),
        (451, "4xx"),
        (550, "5xx"),
        (599, "5xx"),
        (None, "none"),
        (0, "none"),
        (199, "none"),
        (600, "none"),
    ],
)
def test_reply_class(code: int | None, expected: str) -> None:
    assert reply_class(code) == expected


@pytest.mark.parametrize(
    ("code", "enhanced", "text", "expected"),
    [
        (421, "4.7.0", "Try again later, closing connection", True),
        (421, "4.7.28", "Our system has detected an unusual rate of unsolicited mail", True),
        (451, "4.7.500", "Server busy. Please try again later", True),
        (421, None, "Too many connections from your IP", True),
        (451, "4.7.1", "Greylisted, try again in 5 minutes", False),
        (452, "4.5.3", "Too many recipients", False),
        (421, "4.4.1", "connection refused during connect", False),
        (550, "5.7.1", "rate limit exceeded, message rejected", False),  # permanent
        (250, "2.0.0", "OK", False),
    ],
)
def test_is_rate_limited(code: int, enhanced: str | None, text: str, expected: bool) -> None:
    assert is_rate_limited(code, enhanced, text) is expected
