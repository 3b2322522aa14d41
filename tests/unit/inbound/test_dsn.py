"""Bounces from real-shaped DSNs of several providers, standard and plain-text (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from mailwright.inbound.dsn import parse_dsn
from mailwright.inbound.reports import Action, BounceFormat, RecipientStatus
from mailwright.messages import ReturnPathMatch, parse_return_path

FIXTURES = Path(__file__).parents[2] / "fixtures" / "inbound"
KEY = b"mailwright-fixtures-verp-key-32b"  # the key the fixtures' return paths were made with


class Expected(NamedTuple):
    format: BounceFormat
    recipient: str
    status: str
    is_permanent: bool
    is_delayed: bool
    diagnostic: str | None
    original_message_id: str | None
    return_path: ReturnPathMatch | None  # what the returned headers' Return-Path names


def verp(delivery_id: int, recipient: str | None, domain: str = "mg.example.org"):
    return ReturnPathMatch(delivery_id, recipient, domain)


EXPECTED = {
    "gmail.eml": Expected(
        BounceFormat.RFC3464,
        "kijitora@example.com",
        "5.1.1",
        True,
        False,
        "550-5.1.1 The email account that you tried to reach does not exist. Please try"
        " 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1"
        " unnecessary spaces. For more information, go to 550 5.1.1"
        " https://support.google.com/mail/?p=NoSuchUser"
        " a1-20020a05600c000100b0041234567si.123 - gsmtp",
        "20260301120000.4f3a9c2e1b7d6a58@mg.example.org",
        verp(1001, "kijitora@example.com"),
    ),
    "outlook.eml": Expected(
        BounceFormat.RFC3464,
        "nekochan@example.net",
        "5.1.10",
        True,
        False,
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "20260302091500.9b8c7d6e5f4a3b21@mg.example.org",
        None,
    ),
    "yahoo.eml": Expected(
        BounceFormat.QMAIL,
        "mikeneko@yahoo.com",
        "5.0.0",
        True,
        False,
        "554: delivery error: dd This user doesn't have a yahoo.com account"
        " (mikeneko@yahoo.com) [0] - mta4471.mail.gq1.yahoo.com",
        "20260303183000.0a1b2c3d4e5f6a7b@mg.example.org",
        verp(1004, "mikeneko@yahoo.com"),
    ),
    "postfix.eml": Expected(
        BounceFormat.RFC3464,
        "tabby@example.co.uk",
        "5.2.2",
        True,
        False,
        "552 5.2.2 <tabby@example.co.uk> Mailbox full: quota exceeded",
        "20260304100230.c0ffee00d15ea5e5@mg.example.org",
        verp(1005, "tabby@example.co.uk"),
    ),
    "postfix-delayed.eml": Expected(
        BounceFormat.RFC3464,
        "calico@example.edu",
        "4.4.1",
        False,
        True,
        "connect to store.example.edu[10.1.2.3]:25: Connection timed out",
        "20260305095800.ab12cd34ef56ab78@mg.example.org",
        verp(1007, "calico@example.edu"),
    ),
    "exim.eml": Expected(
        BounceFormat.EXIM,
        "someone-with-a-very-long-local-part-name@subdomain.example-university.edu",
        "5.1.1",
        True,
        False,
        "host mx.subdomain.example-university.edu [192.0.2.20] SMTP error from remote mail"
        " server after RCPT TO:<someone-with-a-very-long-local-part-name@subdomain"
        ".example-university.edu>: 550 5.1.1 <someone-with-a-very-long-local-part-name"
        "@subdomain.example-university.edu>: Recipient address rejected: User unknown in"
        " virtual mailbox table",
        "20260306191500.5e5e5e5e5e5e5e5e@mg.example.org",
        verp(1008, None),  # the recipient was too long to ride in the return path
    ),
    "exim-delayed.eml": Expected(
        BounceFormat.EXIM,
        "kijitora@example.com",
        "4.7.1",
        False,
        True,
        "host mx.example.com [192.0.2.99] Delay reason: SMTP error from remote mail server"
        " after RCPT TO:<kijitora@example.com>: 451 4.7.1 Greylisted, please try again later",
        None,  # Exim's delay warning returns no copy of the message
        None,
    ),
    "sendmail.eml": Expected(
        BounceFormat.RFC3464,
        "nekochan@example.net",
        "5.1.1",
        True,
        False,
        "550 5.1.1 <nekochan@example.net>... User unknown",
        "20260308211600.1d2e3f4a5b6c7d8e@mg.example.org",
        verp(1002, "nekochan@example.net"),
    ),
    "sendmail-expired.eml": Expected(
        BounceFormat.RFC3464,
        "shironeko.nyaan+news@example.jp",
        "4.4.7",  # failed, but with a transient status: a failure, not a permanent one
        False,
        False,
        "426 connection timed out",
        "20260304081020.99aa88bb77cc66dd@mg.example.org",
        verp(1003, "Shironeko.Nyaan+news@example.jp"),
    ),
    "qmail.eml": Expected(
        BounceFormat.QMAIL,
        "user1234@aol.com",
        "5.5.0",
        True,
        False,
        "Sorry, no SMTP connection got far enough; most progress was RCPT TO response;"
        " remote host 192.0.2.32 said: 550 Unknown user user1234@aol.com. (#5.5.0)"
        " (Other MXes tried: 192.0.2.40 said 550 for RCPT TO response.)",
        "20260309235959.1234567890abcdef@news.example.org",
        verp(1006, "user1234@aol.com", "news.example.org"),
    ),
    "exchange2003.eml": Expected(
        BounceFormat.EXCHANGE,
        "kijitora@example.co.jp",
        "5.0.0",
        True,
        False,
        "The recipient name is not recognized The MTS-ID of the original message is:"
        " c=us;a= ;p=example;l=EXCHANGE0303111651ZZZZZZZZ"
        " MSEXCH:IMS:EXAMPLE:CORP:EXCHANGE 0 (000C05A6) Unknown Recipient",
        "20260311215100.feedfacecafebeef@mg.example.org",
        None,
    ),
}


def load(name: str) -> bytes:
    return (FIXTURES / "dsn" / name).read_bytes()


def test_every_fixture_has_expectations():
    assert sorted(p.name for p in (FIXTURES / "dsn").glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_fixture(name, expected):
    bounce = parse_dsn(load(name))
    assert bounce is not None
    assert bounce.format == expected.format
    assert bounce.recipient == expected.recipient
    assert bounce.status == expected.status
    assert bounce.is_permanent is expected.is_permanent
    assert bounce.is_delayed is expected.is_delayed
    assert bounce.diagnostic == expected.diagnostic
    assert bounce.original_message_id == expected.original_message_id
    found = parse_return_path(bounce.return_path, KEY) if bounce.return_path else None
    assert found == expected.return_path


def test_a_multi_recipient_report_keeps_every_block():
    bounce = parse_dsn(load("sendmail.eml"))
    assert bounce is not None
    assert bounce.recipients == (
        RecipientStatus(
            recipient="nekochan@example.net",
            original_recipient=None,
            action=Action.FAILED,
            status="5.1.1",
            diagnostic="550 5.1.1 <nekochan@example.net>... User unknown",
            remote_mta="mail.example.net",
        ),
        RecipientStatus(
            recipient="tora@example.net",
            original_recipient=None,
            action=Action.DELAYED,
            status="4.4.1",
            diagnostic="421 4.4.1 mail.example.net: Connection timed out",
            remote_mta="mail.example.net",
        ),
    )
    assert bounce.reporting_mta == "relay.example.net"
    assert bounce.original is not None
    assert bounce.original.to == ("nekochan@example.net", "tora@example.net")


def test_qmail_lists_every_recipient():
    bounce = parse_dsn(load("qmail.eml"))
    assert bounce is not None
    assert [(r.recipient, r.status) for r in bounce.recipients] == [
        ("user1234@aol.com", "5.5.0"),
        ("kuroneko@example.ne.jp", "5.2.2"),
    ]


def test_exchange_reads_the_code_in_its_reason():
    bounce = parse_dsn(load("exchange2003.eml"))
    assert bounce is not None
    assert [(r.recipient, r.status) for r in bounce.recipients] == [
        ("kijitora@example.co.jp", "5.0.0"),
        ("mikeneko@example.co.jp", "5.1.1"),
    ]


def test_the_original_recipient_is_kept_beside_the_final_one():
    bounce = parse_dsn(load("sendmail-expired.eml"))
    assert bounce is not None
    assert bounce.primary.original_recipient == "Shironeko.Nyaan+news@example.jp"
    assert bounce.primary.action is Action.FAILED
    assert bounce.is_failure


def test_returned_headers_are_decoded():
    bounce = parse_dsn(load("postfix.eml"))
    assert bounce is not None
    assert bounce.original is not None
    assert bounce.original.subject == "Café news"
    assert bounce.original.sender == "hello@mg.example.org"
    assert bounce.original.header("From") == '"Café Ünïcode" <hello@mg.example.org>'  # RFC 6532
    assert (
        bounce.original.header("message-id") == "<20260304100230.c0ffee00d15ea5e5@mg.example.org>"
    )


def test_crlf_line_endings_read_the_same():
    lf = parse_dsn(load("postfix.eml"))
    crlf = parse_dsn(load("postfix.eml").replace(b"\n", b"\r\n"))
    assert crlf == lf


@pytest.mark.parametrize("name", ["autoreply.eml", "reply.eml"])
def test_mail_that_is_no_bounce(name):
    assert parse_dsn((FIXTURES / "other" / name).read_bytes()) is None


def test_a_feedback_report_is_no_bounce():
    assert parse_dsn((FIXTURES / "arf" / "yahoo.eml").read_bytes()) is None


REPORT = """\
From: MAILER-DAEMON@mx.example.net
To: bounce@mg.example.org
MIME-Version: 1.0
Content-Type: multipart/report; boundary="b"{report_type}

--b
Content-Type: text/plain

Delivery failed.
--b
Content-Type: {status_type}

Reporting-MTA: dns; mx.example.net

{fields}
--b--
"""


def report(fields: str, *, status_type="message/delivery-status", report_type="") -> bytes:
    text = REPORT.format(fields=fields, status_type=status_type, report_type=report_type)
    return text.encode()


@pytest.mark.parametrize(
    ("fields", "recipient", "action", "status"),
    [
        # Status missing: taken from the enhanced code in the diagnostic, then the reply code.
        (
            "Final-Recipient: rfc822; a@x.net\nAction: failed\n"
            "Diagnostic-Code: smtp; 550 5.7.1 blocked",
            "a@x.net",
            Action.FAILED,
            "5.7.1",
        ),
        (
            "Final-Recipient: rfc822; a@x.net\nAction: failed\nDiagnostic-Code: smtp; 554 denied",
            "a@x.net",
            Action.FAILED,
            "5.0.0",
        ),
        ("Final-Recipient: rfc822; a@x.net\nAction: failed", "a@x.net", Action.FAILED, "5.0.0"),
        # Action missing or unknown: taken from the status class.
        ("Final-Recipient: rfc822; a@x.net\nStatus: 4.2.2", "a@x.net", Action.DELAYED, "4.2.2"),
        (
            "Final-Recipient: rfc822; a@x.net\nAction: bounced\nStatus: 5.1.1",
            "a@x.net",
            Action.FAILED,
            "5.1.1",
        ),
        # Odd casing, comments, angle brackets, and only an Original-Recipient.
        (
            "FINAL-RECIPIENT: RFC822;<A@X.NET>\nACTION: Failed (permanent)\nSTATUS: 5.1.1 (x)",
            "A@X.NET",
            Action.FAILED,
            "5.1.1",
        ),
        ("Original-Recipient: rfc822;b@y.org\nAction: delayed", "b@y.org", Action.DELAYED, "4.0.0"),
        # RFC 6533 utf-8 address type with its \\x{...} escapes.
        (
            "Final-Recipient: utf-8; j\\x{F6}rg@example.de\nAction: delivered\nStatus: 2.0.0",
            "jörg@example.de",
            Action.DELIVERED,
            "2.0.0",
        ),
    ],
)
def test_missing_and_odd_fields(fields, recipient, action, status):
    bounce = parse_dsn(report(fields))
    assert bounce is not None
    assert (bounce.recipient, bounce.primary.action, bounce.status) == (recipient, action, status)


@pytest.mark.parametrize(
    "fields",
    [
        "Action: failed\nStatus: 5.1.1",  # no recipient at all
        "Final-Recipient: rfc822; a@x.net",  # neither Action nor Status
        "Final-Recipient: rfc822; not-an-address\nAction: failed",
    ],
)
def test_blocks_without_a_recipient_or_an_outcome_are_skipped(fields):
    assert parse_dsn(report(fields)) is None


def test_gmails_original_message_id_stands_in_for_missing_headers():
    raw = load("gmail.eml")
    raw = (
        raw[: raw.index(b"Content-Type: message/rfc822")] + b"\n--000000000000a4b2c505f0123456--\n"
    )
    bounce = parse_dsn(raw)
    assert bounce is not None
    assert bounce.original_message_id == "20260301120000.4f3a9c2e1b7d6a58@mg.example.org"
    assert bounce.return_path is None


def test_global_delivery_status_with_utf8_addresses():
    raw = report(
        "Final-Recipient: rfc822; jörg@münchen.de\nAction: failed\nStatus: 5.1.1",
        status_type="message/global-delivery-status",
    )
    bounce = parse_dsn(raw)
    assert bounce is not None
    assert bounce.recipient == "jörg@münchen.de"


def test_global_delivery_status_is_read_as_text():
    raw = report(
        "Final-Recipient: rfc822; a@x.net\nAction: failed\nStatus: 5.1.1",
        status_type="message/global-delivery-status",
        report_type="; report-type=delivery-status",
    )
    bounce = parse_dsn(raw)
    assert bounce is not None
    assert (bounce.recipient, bounce.status, bounce.is_permanent) == ("a@x.net", "5.1.1", True)


def test_a_delivery_status_inside_multipart_mixed_counts():
    raw = report("Final-Recipient: rfc822; a@x.net\nAction: failed\nStatus: 5.1.1").replace(
        b"multipart/report", b"multipart/mixed"
    )
    bounce = parse_dsn(raw)
    assert bounce is not None
    assert bounce.format is BounceFormat.RFC3464


def test_a_success_dsn_is_no_failure():
    bounce = parse_dsn(report("Final-Recipient: rfc822; a@x.net\nAction: delivered\nStatus: 2.0.0"))
    assert bounce is not None
    assert not bounce.is_failure
    assert not bounce.is_permanent
    assert not bounce.is_delayed


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b"Content-Type: multipart/report; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi\n",
        b"Content-Type: multipart/report; report-type=delivery-status\n\nno boundary",
    ],
)
def test_garbage_is_no_bounce(raw):
    assert parse_dsn(raw) is None


N = 100_000
PATHOLOGICAL = {
    "qmail line of @": "Hi. This is the qmail-send program\n\n<" + "@" * N + ">:\n",
    "exim line of @": "This message was created automatically by mail delivery software.\n"
    "The following address(es) failed:\n  " + "@" * N + "\n",
    "exim words": "This message was created automatically by mail delivery software.\n"
    + "address" * (N // 7),
    "exchange words": "did not reach the following recipient(s):\n"
    + "recipient" * (N // 9)
    + "\n"
    + "a@" * (N // 2),
    "many dotted numbers": "Hi. This is the qmail-send program\n\n<a@b.c>:\n" + "5.5." * (N // 4),
}


@pytest.mark.parametrize("body", PATHOLOGICAL.values(), ids=list(PATHOLOGICAL))
def test_pathological_text_is_read_in_linear_time(body):
    raw = f"From: x@y\nContent-Type: text/plain\n\n{body}\n".encode()
    bounce = parse_dsn(raw)  # a backtracking regex would blow the test timeout here
    assert bounce is None or all(len(r.recipient) <= 254 for r in bounce.recipients)
