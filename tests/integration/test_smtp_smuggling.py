"""SMTP smuggling (CVE-2023-51764 family) against both listeners, over a raw socket: smtplib
normalises line ends, an attacker does not. A message with a bare CR or LF is refused with
one 550 and nothing is stored; the "second message" hidden behind a non-standard end of
data is never stored or answered as a message of its own. Our SMTP client, in turn, never
puts a bare CR or LF on the wire."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailwright.config import Settings
from mailwright.delivery.smtp_client import SmtpSession, TlsPolicy
from mailwright.inbound.line_ends import has_bare_newline
from mailwright.inbound.replies import S550_BARE_NEWLINE
from mailwright.store import Store, schema
from tests.integration.test_inbound import Inbound, inbound_settings
from tests.integration.test_inbound import serving as serving_mx
from tests.integration.test_smtp_client import FAST
from tests.integration.test_submission import PASSWORD, Submission, tls_settings
from tests.integration.test_submission import serving as serving_submission
from tests.support.smtp import SmtpSink

# Ends of data some servers accept and RFC 5321 4.1.1.4 does not (only <CRLF>.<CRLF>).
SMUGGLING_ENDS = [b"\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\n", b"\r\n.\r"]
Reply = tuple[int, bytes]


async def _read_reply(reader: asyncio.StreamReader) -> Reply | None:
    """One (possibly multi-line) reply: its code and last line; None at the end of stream."""
    while True:
        line = await asyncio.wait_for(reader.readline(), 10)
        if not line:
            return None
        assert line.endswith(b"\r\n"), line
        if line[3:4] != b"-":
            return int(line[:3]), line.rstrip(b"\r\n")


async def converse(port: int, commands: list[bytes], data: bytes) -> list[Reply]:
    """Send each command and read its reply; then write ``data`` and ``QUIT`` in one piece,
    as a smuggler does, and read every reply until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies: list[Reply] = []
    try:
        for command in [b"", *commands]:
            if command:
                writer.write(command + b"\r\n")
            reply = await _read_reply(reader)
            assert reply is not None
            replies.append(reply)
        writer.write(data + b"QUIT\r\n")
        while (reply := await _read_reply(reader)) is not None:
            replies.append(reply)
    finally:
        writer.close()
    return replies


def smuggling(sender: str, rcpt: str, end: bytes) -> bytes:
    """A first message ended by ``end``, then a whole second transaction, then a proper end."""
    return (
        f"From: {sender}\r\nTo: {rcpt}\r\nSubject: first\r\n\r\nfirst body".encode()
        + end
        + f"MAIL FROM:<{sender}>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode()
        + f"From: {sender}\r\nTo: {rcpt}\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n".encode()
    )


def clean(sender: str, rcpt: str) -> bytes:
    return f"From: {sender}\r\nTo: {rcpt}\r\nSubject: first\r\n\r\n.dot\r\nok\r\n.\r\n".encode()


async def count(store: Store, table: object) -> int:
    async with store.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


# -- the MX listener -------------------------------------------------------------------------


@pytest.fixture
async def mx(settings: Settings, store: Store) -> AsyncIterator[Inbound]:
    async with serving_mx(inbound_settings(settings), store) as running:
        yield running


def mx_commands(rcpt: str) -> list[bytes]:
    return [
        b"EHLO sender.example.org",
        b"MAIL FROM:<a@example.org>",
        f"RCPT TO:<{rcpt}>".encode(),
        b"DATA",
    ]


async def test_mx_clean_message_over_a_raw_socket_is_stored(mx: Inbound, store: Store) -> None:
    rcpt = f"postmaster@{mx.domain}"
    replies = await converse(mx.port, mx_commands(rcpt), clean("a@example.org", rcpt))
    assert [code for code, _ in replies] == [220, 250, 250, 250, 354, 250, 221]
    assert await count(store, schema.inbound_messages) == 1


@pytest.mark.parametrize("end", SMUGGLING_ENDS, ids=repr)
async def test_mx_refuses_smuggling_and_stores_nothing(
    mx: Inbound, store: Store, end: bytes
) -> None:
    rcpt = f"postmaster@{mx.domain}"
    replies = await converse(mx.port, mx_commands(rcpt), smuggling("a@example.org", rcpt, end))
    # One reply to the whole DATA: the smuggled MAIL, RCPT and DATA were never commands.
    assert [code for code, _ in replies] == [220, 250, 250, 250, 354, 550, 221]
    assert replies[5][1].decode() == S550_BARE_NEWLINE
    assert await count(store, schema.inbound_messages) == 0


@pytest.mark.parametrize("body", [b"a\nb\r\n", b"a\rb\r\n", b"a\r\r\n", b"\n\r\n"], ids=repr)
async def test_mx_refuses_any_bare_newline(mx: Inbound, store: Store, body: bytes) -> None:
    rcpt = f"postmaster@{mx.domain}"
    data = f"Subject: x\r\nTo: {rcpt}\r\n\r\n".encode() + body + b".\r\n"
    replies = await converse(mx.port, mx_commands(rcpt), data)
    assert [code for code, _ in replies][-2:] == [550, 221]
    assert await count(store, schema.inbound_messages) == 0


# -- the submission listener -----------------------------------------------------------------


@pytest.fixture
async def submission(settings: Settings, store: Store, tmp_path: Path) -> AsyncIterator[Submission]:
    async with serving_submission(tls_settings(settings, tmp_path), store) as running:
        yield running


def submission_commands(submission: Submission, rcpt: str) -> list[bytes]:
    token = base64.b64encode(f"\0{submission.login}\0{PASSWORD}".encode())
    return [
        b"EHLO client.test",
        b"AUTH PLAIN " + token,
        f"MAIL FROM:<{submission.login}>".encode(),
        f"RCPT TO:<{rcpt}>".encode(),
        b"DATA",
    ]


async def test_submission_clean_message_over_a_raw_socket_is_accepted(
    submission: Submission, store: Store
) -> None:
    commands = submission_commands(submission, "bob@example.com")
    replies = await converse(submission.port, commands, clean(submission.login, "bob@example.com"))
    assert [code for code, _ in replies] == [220, 250, 235, 250, 250, 354, 250, 221]
    assert await count(store, schema.messages) == 1


@pytest.mark.parametrize("end", SMUGGLING_ENDS, ids=repr)
async def test_submission_normalises_smuggling_into_one_message(
    submission: Submission, store: Store, end: bytes
) -> None:
    commands = submission_commands(submission, "bob@example.com")
    data = smuggling(submission.login, "bob@example.com", end)
    replies = await converse(submission.port, commands, data)
    # One 250 for one message: the smuggled "second message" never became a transaction.
    assert [code for code, _ in replies] == [220, 250, 235, 250, 250, 354, 250, 221]
    assert await count(store, schema.messages) == 1
    async with store.read() as conn:
        [blob] = (await conn.execute(select(schema.message_blobs.c.data))).scalars().all()
    assert not has_bare_newline(blob)


# -- our SMTP client -------------------------------------------------------------------------


@pytest.mark.parametrize("end", SMUGGLING_ENDS, ids=repr)
async def test_client_never_sends_a_bare_newline_or_an_early_end(end: bytes) -> None:
    """Whatever the stored bytes hold, the wire carries CRLF line ends and dot-stuffed lines,
    so a smuggled end of data cannot reach the next server."""
    data = smuggling("a@sender.test", "b@rcpt.test", end) + b".\rtrailing\n..two dots"
    with SmtpSink() as sink:
        session = await SmtpSession.open(
            "127.0.0.1", sink.port, helo_name="mta.sender.test", tls=TlsPolicy(), timeouts=FAST
        )
        assert isinstance(session, SmtpSession), session
        try:
            result = await session.send("a@sender.test", ("b@rcpt.test",), data)
        finally:
            await session.close()
        [received] = await sink.wait_for(1)
        assert (sink.sessions, sink.transactions) == (1, 1)
    assert result.error is None
    assert not has_bare_newline(received.data)
    # aiosmtpd undoes the dot-stuffing: what arrives is the message with CRLF line ends.
    expected = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    assert received.data == expected + b"\r\n"
