"""The pure parts of the service and the bulk jobs: probe replies, engagement, CSV shape."""

from __future__ import annotations

import pytest

from mailwright.errors import InvalidInput
from mailwright.validation import Mailbox, engagement_from, mailbox_from
from mailwright.validation.bulk import check_list_id, csv_row, email_column


@pytest.mark.parametrize(
    ("codes", "mailbox"),
    [
        ([250, 550], Mailbox.ACCEPTED),
        ([250, 250], Mailbox.CATCH_ALL),
        ([251, 252], Mailbox.CATCH_ALL),  # RFC 5321 3.4: 251/252 are acceptance too
        ([550, 550], Mailbox.REJECTED),
        ([553, 250], Mailbox.REJECTED),
        ([450, 550], Mailbox.UNKNOWN),  # greylisting says nothing of the mailbox
        ([421, 421], Mailbox.UNKNOWN),
        (None, Mailbox.UNKNOWN),  # no connection
        ([250], Mailbox.UNKNOWN),
    ],
)
def test_mailbox_from_rcpt_codes(codes: list[int] | None, mailbox: Mailbox) -> None:
    assert mailbox_from(codes) is mailbox


@pytest.mark.parametrize(
    ("counts", "engagement"),
    [
        ({}, None),
        ({"opened": 3}, None),  # never delivered by us: no basis
        ({"delivered": 2}, {"engaging": False, "behavior": "disengaged", "is_bot": False}),
        ({"delivered": 2, "opened": 1}, {"engaging": True, "behavior": "opener", "is_bot": False}),
        (
            {"delivered": 1, "opened": 1, "clicked": 1},
            {"engaging": True, "behavior": "clicker", "is_bot": False},
        ),
    ],
)
def test_engagement_from_event_counts(counts: dict[str, int], engagement: object) -> None:
    assert engagement_from(counts) == engagement


@pytest.mark.parametrize(
    ("header", "index"), [(["email"], 0), (["name", " Email "], 1), (["a", "EMAIL", "email"], 1)]
)
def test_email_column(header: list[str], index: int) -> None:
    assert email_column(header) == index


def test_email_column_missing() -> None:
    with pytest.raises(InvalidInput, match="'email' column"):
        email_column(["address"])


@pytest.mark.parametrize("list_id", ["a", "my_list", "list-2026.01", "team@example.com"])
def test_good_list_ids(list_id: str) -> None:
    assert check_list_id(list_id) == list_id


@pytest.mark.parametrize("list_id", ["", ".hidden", "a/b", "a..b", "a b", "x" * 129, "bad$id"])
def test_bad_list_ids(list_id: str) -> None:
    with pytest.raises(InvalidInput, match="list id"):
        check_list_id(list_id)


def test_csv_row() -> None:
    body = {
        "address": "a@gmial.com",
        "result": "deliverable",
        "risk": "medium",
        "reason": ["mailbox_is_role_address", "x"],
        "is_disposable_address": False,
        "is_role_address": True,
        "did_you_mean": "a@gmail.com",
        "root_address": None,
    }
    assert csv_row(body) == [
        "a@gmial.com",
        "deliverable",
        "medium",
        "mailbox_is_role_address;x",
        "false",
        "true",
        "a@gmail.com",
        "",
    ]
