"""Complaints from real-shaped ARF and JMRP reports, and telling reports apart (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

import pytest

from mailwright.inbound.arf import classify_report, parse_arf
from mailwright.inbound.reports import Bounce, Complaint, ComplaintFormat
from mailwright.messages import ReturnPathMatch, parse_return_path

FIXTURES = Path(__file__).parents[2] / "fixtures" / "inbound"
KEY = b"mailwright-fixtures-verp-key-32b"  # the key the fixtures' return paths were made with
EST = timezone(timedelta(hours=-5))
EDT = timezone(timedelta(hours=-4))


class Expected(NamedTuple):
    format: ComplaintFormat
    feedback_type: str
    recipient: str | None
    user_agent: str | None
    arrival_date: datetime | None
    source_ip: str | None
    reported_domains: tuple[str, ...]
    original_message_id: str | None
    return_path: ReturnPathMatch | None  # what Original-Mail-From or Return-Path names


EXPECTED = {
    "yahoo.eml": Expected(
        ComplaintFormat.ARF,
        "abuse",
        "mikeneko@yahoo.com",
        "Yahoo!-Mail-Feedback/2.0",
        datetime(2026, 3, 3, 18, 30, 10, tzinfo=UTC),
        None,
        ("mg.example.org",),
        "20260303183000.0a1b2c3d4e5f6a7b@mg.example.org",
        ReturnPathMatch(1004, "mikeneko@yahoo.com", "mg.example.org"),
    ),
    "aol.eml": Expected(
        ComplaintFormat.ARF,
        "abuse",
        "redacted@aol.com",  # AOL redacts; the return path still names the delivery
        "AOL SComp",
        datetime(2026, 3, 12, 21, 10, 2, tzinfo=EST),
        "203.0.113.26",
        ("news.example.org",),
        "20260313021000.7777888899990000@news.example.org",
        ReturnPathMatch(1006, "user1234@aol.com", "news.example.org"),
    ),
    "microsoft-jmrp.eml": Expected(
        ComplaintFormat.JMRP,
        "abuse",
        "subscriber@hotmail.com",  # only in X-HmXmrOriginalRecipient
        "Hotmail FBL",
        datetime(2026, 3, 14, 9, 1, 44, tzinfo=UTC),
        "203.0.113.25",
        ("mg.example.org",),
        "20260314090140.0f0e0d0c0b0a0908@mg.example.org",
        ReturnPathMatch(1008, None, "mg.example.org"),
    ),
    "microsoft-jmrp-legacy.eml": Expected(
        ComplaintFormat.JMRP,
        "abuse",
        "tabby@hotmail.com",
        None,
        datetime(2026, 3, 15, 11, 20, 30, tzinfo=UTC),
        "203.0.113.25",
        (),
        "20260315110200.abababababababab@mg.example.org",
        ReturnPathMatch(1005, "tabby@example.co.uk", "mg.example.org"),
    ),
    "rfc5965.eml": Expected(
        ComplaintFormat.ARF,
        "abuse",
        "user@example.com",
        "SomeGenerator/1.0",
        datetime(2005, 3, 8, 14, 0, tzinfo=EDT),
        "192.0.2.1",
        ("example.net",),
        "8787KJKJ3K4J3K4J3K4J3.mail@example.net",
        None,  # someone else's mail: no return path of ours
    ),
}


def load(folder: str, name: str) -> bytes:
    return (FIXTURES / folder / name).read_bytes()


def test_every_fixture_has_expectations():
    assert sorted(p.name for p in (FIXTURES / "arf").glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items(), ids=list(EXPECTED))
def test_fixture(name, expected):
    complaint = parse_arf(load("arf", name))
    assert complaint is not None
    assert complaint.format == expected.format
    assert complaint.feedback_type == expected.feedback_type
    assert complaint.recipient == expected.recipient
    assert complaint.user_agent == expected.user_agent
    assert complaint.arrival_date == expected.arrival_date
    assert complaint.source_ip == expected.source_ip
    assert complaint.reported_domains == expected.reported_domains
    assert complaint.original_message_id == expected.original_message_id
    found = parse_return_path(complaint.return_path, KEY) if complaint.return_path else None
    assert found == expected.return_path


def test_every_field_of_the_rfc_example():
    complaint = parse_arf(load("arf", "rfc5965.eml"))
    assert complaint is not None
    assert complaint.version == "1"
    assert complaint.original_mail_from == "somespammer@example.net"
    assert complaint.original_rcpt_to == ("user@example.com",)
    assert complaint.original is not None
    assert complaint.original.to == ()  # "<Undisclosed Recipients>" is no address
    assert complaint.original.subject == "Earn money"


def test_original_mail_from_is_preferred_to_the_returned_return_path():
    complaint = parse_arf(load("arf", "yahoo.eml"))
    assert complaint is not None
    assert complaint.original_mail_from == complaint.return_path
    assert complaint.original is not None
    assert complaint.original.return_path == complaint.return_path


@pytest.mark.parametrize(
    ("feedback_type", "expected"),
    [("fraud", "fraud"), ("Not-Spam", "not-spam"), ("auth-failure", "auth-failure"), ("", "abuse")],
)
def test_feedback_types(feedback_type, expected):
    raw = load("arf", "rfc5965.eml").replace(
        b"Feedback-Type: abuse", f"Feedback-Type: {feedback_type}".encode()
    )
    complaint = parse_arf(raw)
    assert complaint is not None
    assert complaint.feedback_type == expected


def test_text_rfc822_headers_serve_as_the_original():
    raw = load("arf", "yahoo.eml").replace(
        b"Content-Type: message/rfc822", b"Content-Type: text/rfc822-headers"
    )
    complaint = parse_arf(raw)
    assert complaint is not None
    assert complaint.original_message_id == "20260303183000.0a1b2c3d4e5f6a7b@mg.example.org"


def test_a_bounce_returning_a_hotmail_message_is_no_jmrp_complaint():
    legacy = load("arf", "microsoft-jmrp-legacy.eml")
    returned = legacy[legacy.index(b"X-HmXmrOriginalRecipient") :]
    dsn = load("dsn", "gmail.eml")
    dsn = dsn[: dsn.index(b"Return-Path: <bounce+")] + returned
    assert parse_arf(dsn) is None
    assert type(classify_report(dsn)) is Bounce


@pytest.mark.parametrize("name", ["dsn/gmail.eml", "dsn/qmail.eml", "other/reply.eml"])
def test_bounces_and_replies_are_no_complaints(name):
    folder, _, file = name.partition("/")
    assert parse_arf(load(folder, file)) is None


REPORTS = [
    *((f"dsn/{p.name}", Bounce) for p in sorted((FIXTURES / "dsn").glob("*.eml"))),
    *((f"arf/{p.name}", Complaint) for p in sorted((FIXTURES / "arf").glob("*.eml"))),
    *((f"other/{p.name}", type(None)) for p in sorted((FIXTURES / "other").glob("*.eml"))),
]


@pytest.mark.parametrize(("name", "kind"), REPORTS, ids=[name for name, _ in REPORTS])
def test_classify_report(name, kind):
    folder, _, file = name.partition("/")
    assert type(classify_report(load(folder, file))) is kind
