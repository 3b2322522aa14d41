"""The outbound SMTP client against a real aiosmtpd sink on loopback."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from mailwright.delivery.smtp_client import (
    AttemptResult,
    RecipientOutcome,
    SmtpSession,
    Timeouts,
    TlsPolicy,
)
from tests.support.smtp import SmtpSink, tls_materials

FAST = Timeouts(
    connect=2, greeting=2, ehlo=2, starttls=2, mail=2, rcpt=2,
    data_init=2, data_block=2, data_end=2, quit=1,
)  # fmt: skip
SENDER = "bounce@sender.test"
MESSAGE = b"From: a@sender.test\r\nTo: b@rcpt.test\r\nSubject: hi\r\n\r\nHello there\r\n"


def trusting() -> TlsPolicy:
    return TlsPolicy(ssl_context=tls_materials()[2])


async def open_ok(sink: SmtpSink, **kwargs: object) -> SmtpSession:
    kwargs.setdefault("tls", TlsPolicy())
    kwargs.setdefault("timeouts", FAST)
    session = await SmtpSession.open(
        "127.0.0.1",
        sink.port,
        helo_name="mta.sender.test",
        **kwargs,  # type: ignore[arg-type]
    )
    assert isinstance(session, SmtpSession), session
    return session


async def open_failed(sink_port: int, **kwargs: object) -> AttemptResult:
    kwargs.setdefault("tls", TlsPolicy())
    kwargs.setdefault("timeouts", FAST)
    result = await SmtpSession.open(
        "127.0.0.1",
        sink_port,
        helo_name="mta.sender.test",
        **kwargs,  # type: ignore[arg-type]
    )
    assert isinstance(result, AttemptResult), "expected the session to fail"
    return result


async def deliver(sink: SmtpSink, data: bytes = MESSAGE, *rcpts: str, **kwargs: object):
    session = await open_ok(sink, **kwargs)
    try:
        return await session.send(SENDER, rcpts or ("b@rcpt.test",), data)
    finally:
        await session.close()


async def test_plain_delivery():
    with SmtpSink() as sink:
        result = await deliver(sink)
        [received] = await sink.wait_for(1)
    assert result.error is None
    assert [(o.recipient, o.reply.code) for o in result.recipients] == [("b@rcpt.test", 250)]
    assert (result.connected, result.tls, result.certificate_verified) == (True, False, False)
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ("b@rcpt.test",)
    assert received.data == MESSAGE
    assert received.helo == "mta.sender.test"
    assert not received.tls


async def test_several_recipients_share_one_transaction():
    rcpts = ("a@rcpt.test", "b@rcpt.test", "c@rcpt.test")
    with SmtpSink() as sink:
        result = await deliver(sink, MESSAGE, *rcpts)
        [received] = await sink.wait_for(1)
    assert received.rcpt_tos == rcpts
    assert [o.recipient for o in result.recipients] == list(rcpts)
    assert all(o.reply.code == 250 for o in result.recipients)


async def test_session_is_reused_for_a_second_transaction():
    with SmtpSink() as sink:
        session = await open_ok(sink)
        first = await session.send(SENDER, ["a@rcpt.test"], MESSAGE)
        second = await session.send(SENDER, ["b@rcpt.test"], MESSAGE)
        assert session.is_usable
        await session.close()
        received = await sink.wait_for(2)
        assert (sink.sessions, sink.transactions) == (1, 2)
    assert (first.error, second.error) == (None, None)
    assert [r.rcpt_tos for r in received] == [("a@rcpt.test",), ("b@rcpt.test",)]
    assert "C: EHLO" in first.transcript
    assert "C: EHLO" not in second.transcript
    assert "C: RSET" in second.transcript


async def test_envelope_is_pipelined_when_offered():
    with SmtpSink() as sink:
        result = await deliver(sink, MESSAGE, "a@rcpt.test", "b@rcpt.test")
        assert sink.pipelined == 1
    lines = result.transcript.splitlines()
    start = lines.index("C: MAIL FROM:<bounce@sender.test>")
    assert lines[start : start + 4] == [
        "C: MAIL FROM:<bounce@sender.test>",
        "C: RCPT TO:<a@rcpt.test>",
        "C: RCPT TO:<b@rcpt.test>",
        "C: DATA",
    ]


async def test_envelope_is_sent_step_by_step_without_pipelining():
    with SmtpSink(pipelining=False) as sink:
        result = await deliver(sink, MESSAGE, "a@rcpt.test", "b@rcpt.test")
        await sink.wait_for(1)
        assert sink.pipelined == 0
    lines = result.transcript.splitlines()
    start = lines.index("C: MAIL FROM:<bounce@sender.test>")
    assert lines[start + 1].startswith("S: 250")
    assert result.error is None


async def test_starttls_with_a_trusted_certificate_is_verified():
    leaf = tls_materials()[1]
    with SmtpSink(tls_cert=leaf) as sink:
        result = await deliver(sink, tls=trusting())
        [received] = await sink.wait_for(1)
    assert (result.tls, result.certificate_verified) == (True, True)
    assert received.tls
    assert "C: STARTTLS" in result.transcript
    assert result.transcript.count("C: EHLO") == 2  # RFC 3207 4.2: EHLO again after TLS


async def test_opportunistic_tls_falls_back_to_an_unverified_session():
    leaf = tls_materials()[1]
    with SmtpSink(tls_cert=leaf) as sink:
        result = await deliver(sink, tls=TlsPolicy())  # system CAs do not know the test CA
        [received] = await sink.wait_for(1)
        assert sink.sessions == 2  # the failed verified handshake, then the unverified session
    assert result.error is None
    assert (result.tls, result.certificate_verified) == (True, False)
    assert received.tls
    assert "certificate verification failed" in result.transcript


async def test_require_tls_fails_when_starttls_is_not_offered():
    with SmtpSink() as sink:
        result = await open_failed(sink.port, tls=TlsPolicy(require_tls=True))
        assert sink.transactions == 0
    assert (result.connected, result.tls) == (True, False)
    assert result.error is not None
    assert (result.error.code, result.error.enhanced) == (421, "4.7.10")
    assert result.error.is_transient


async def test_require_tls_fails_on_an_untrusted_certificate():
    leaf = tls_materials()[1]
    with SmtpSink(tls_cert=leaf) as sink:
        result = await open_failed(sink.port, tls=TlsPolicy(require_tls=True, verify=True))
        assert (sink.sessions, sink.transactions) == (1, 0)
    assert result.error is not None
    assert result.error.enhanced == "4.7.5"
    assert "certificate verification failed" in result.error.text
    assert not result.certificate_verified


async def test_require_tls_without_verification_accepts_any_certificate():
    leaf = tls_materials()[1]
    with SmtpSink(tls_cert=leaf) as sink:
        result = await deliver(sink, tls=TlsPolicy(require_tls=True, verify=False))
        await sink.wait_for(1)
    assert (result.error, result.tls, result.certificate_verified) == (None, True, False)


async def test_each_recipient_gets_its_own_outcome():
    def script(rcpt: str) -> tuple[int, str] | None:
        if rcpt.startswith("tempfail"):
            return (451, "4.7.1 try later")
        if rcpt.startswith("reject"):
            return (550, "5.1.1 no such user")
        return None

    rcpts = ("tempfail@rcpt.test", "reject@rcpt.test", "ok@rcpt.test")
    with SmtpSink(script=script) as sink:
        result = await deliver(sink, MESSAGE, *rcpts)
        [received] = await sink.wait_for(1)
    assert received.rcpt_tos == ("ok@rcpt.test",)
    assert result.error is None
    outcomes = {
        o.recipient: (o.reply.code, o.reply.enhanced, o.reply.text) for o in result.recipients
    }
    assert outcomes == {
        "tempfail@rcpt.test": (451, "4.7.1", "try later"),
        "reject@rcpt.test": (550, "5.1.1", "no such user"),
        "ok@rcpt.test": (250, "2.0.0", "OK queued"),
    }


@pytest.mark.parametrize("pipelining", [True, False])
async def test_no_message_data_when_every_recipient_is_rejected(pipelining: bool):
    with SmtpSink(script=lambda rcpt: (550, "5.1.1 unknown"), pipelining=pipelining) as sink:
        session = await open_ok(sink)
        result = await session.send(SENDER, ["a@rcpt.test", "b@rcpt.test"], MESSAGE)
        follow_up = await session.send(SENDER, ["c@rcpt.test"], MESSAGE)
        await session.close()
        assert sink.messages == []
    assert result.error is None
    assert [o.reply.code for o in result.recipients] == [550, 550]
    assert "bytes of message data" not in result.transcript
    assert session.is_usable is False  # closed
    assert follow_up.reply_for("c@rcpt.test") is not None


async def test_permanent_reply_after_data():
    with SmtpSink(data_reply=(554, "5.7.1 spam detected")) as sink:
        result = await deliver(sink, MESSAGE, "a@rcpt.test", "b@rcpt.test")
    assert result.error is not None
    assert (result.error.code, result.error.enhanced, result.error.is_permanent) == (
        554,
        "5.7.1",
        True,
    )
    assert [o.reply for o in result.recipients] == [result.error, result.error]


async def test_connection_refused_is_a_transient_reply():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    result = await open_failed(closed_port)
    assert not result.connected
    assert result.error is not None
    assert (result.error.code, result.error.enhanced) == (421, "4.4.1")
    assert "connection refused" in result.error.text
    assert result.recipients == ()


async def test_slow_server_times_out_waiting_for_the_end_of_data():
    with SmtpSink(delay=2) as sink:
        session = await open_ok(sink, timeouts=replace(FAST, data_end=0.2))
        result = await session.send(SENDER, ["b@rcpt.test"], MESSAGE)
        assert not session.is_usable
        await session.close()
    assert result.error is not None
    assert (result.error.code, result.error.enhanced) == (421, "4.4.2")
    assert "timed out during end of data" in result.error.text
    assert result.reply_for("b@rcpt.test") == result.error


@pytest.mark.parametrize("point", ["MAIL", "RCPT", "DATA"])
async def test_disconnect_mid_session_is_temporary(point: str):
    with SmtpSink(disconnect_after=point) as sink:  # type: ignore[arg-type]
        session = await open_ok(sink)
        result = await session.send(SENDER, ["b@rcpt.test"], MESSAGE)
        assert not session.is_usable
        await session.close()
        assert sink.messages == []
    assert result.error is not None
    assert result.error.is_transient
    assert result.error.enhanced == "4.4.2"
    assert result.reply_for("b@rcpt.test") == result.error


async def test_message_over_the_advertised_size_is_refused_before_mail():
    with SmtpSink(advertise_size=200) as sink:
        session = await open_ok(sink)
        big = await session.send(SENDER, ["b@rcpt.test"], MESSAGE + b"x" * 300 + b"\r\n")
        small = await session.send(SENDER, ["b@rcpt.test"], MESSAGE)
        await session.close()
        [received] = await sink.wait_for(1)
        assert sink.transactions == 1
    assert big.error is not None
    assert (big.error.code, big.error.enhanced, big.error.is_permanent) == (552, "5.3.4", True)
    assert "C: MAIL" not in big.transcript
    assert small.error is None
    assert f"SIZE={len(MESSAGE)}" in received.mail_options


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_auth_succeeds_and_is_redacted(mechanism: str):
    exclude = ("LOGIN",) if mechanism == "PLAIN" else ("PLAIN",)
    with SmtpSink(auth_users={"relay-user": "s3cret"}, auth_exclude=exclude) as sink:
        result = await deliver(sink, auth=("relay-user", "s3cret"))
        [received] = await sink.wait_for(1)
    assert result.error is None
    assert received.login == "relay-user"
    assert f"C: AUTH {mechanism}" in result.transcript
    assert "<redacted>" in result.transcript
    assert "s3cret" not in result.transcript
    assert "czNjcmV0" not in result.transcript  # base64 of the password
    assert "cmVsYXktdXNlcgBzM2NyZXQ" not in result.transcript


async def test_auth_failure_is_the_servers_reply():
    with SmtpSink(auth_users={"relay-user": "s3cret"}) as sink:
        result = await open_failed(sink.port, auth=("relay-user", "wrong"))
        assert sink.transactions == 0
    assert result.error is not None
    assert (result.error.code, result.error.enhanced) == (535, "5.7.8")


async def test_auth_failure_after_verified_tls_keeps_the_tls_facts():
    leaf = tls_materials()[1]
    with SmtpSink(tls_cert=leaf, auth_users={"u": "p"}) as sink:
        result = await open_failed(sink.port, tls=trusting(), auth=("u", "bad"))
    assert result.error is not None
    assert result.error.code == 535
    assert (result.tls, result.certificate_verified) == (True, True)


async def test_auth_after_starttls():
    leaf = tls_materials()[1]
    with SmtpSink(tls_cert=leaf, auth_users={"u": "p"}) as sink:
        result = await deliver(sink, tls=trusting(), auth=("u", "p"))
        [received] = await sink.wait_for(1)
    assert (result.tls, received.tls, received.login) == (True, True, "u")
    lines = result.transcript.splitlines()
    assert lines.index("C: STARTTLS") < lines.index("C: AUTH PLAIN <redacted>")


async def test_helo_fallback_for_a_server_without_esmtp():
    with SmtpSink(esmtp=False) as sink:
        result = await deliver(sink, MESSAGE, "a@rcpt.test", "b@rcpt.test")
        [received] = await sink.wait_for(1)
        assert sink.pipelined == 0  # no EHLO, so no extensions at all
    assert result.error is None
    assert "C: HELO mta.sender.test" in result.transcript
    assert received.mail_options == ()


async def test_a_421_reply_ends_the_session():
    def script(rcpt: str) -> tuple[int, str] | None:
        return (421, "4.7.0 too busy, closing") if rcpt.startswith("busy") else None

    with SmtpSink(script=script) as sink:
        session = await open_ok(sink)
        result = await session.send(SENDER, ["ok@rcpt.test", "busy@rcpt.test"], MESSAGE)
        assert not session.is_usable
        await session.close()
        assert sink.messages == []
    assert result.error is not None
    assert (result.error.code, result.error.enhanced) == (421, "4.7.0")
    assert [(o.recipient, o.reply) for o in result.recipients] == [
        ("ok@rcpt.test", result.error),
        ("busy@rcpt.test", result.error),
    ]


async def test_implicit_tls():
    leaf = tls_materials()[1]
    with SmtpSink(tls_cert=leaf, implicit_tls=True) as sink:
        policy = TlsPolicy(implicit_tls=True, ssl_context=tls_materials()[2])
        result = await deliver(sink, tls=policy)
        [received] = await sink.wait_for(1)
    assert (result.tls, result.certificate_verified, received.tls) == (True, True, True)
    assert "C: STARTTLS" not in result.transcript


async def test_transcript_records_the_dialogue_without_the_body():
    with SmtpSink() as sink:
        result = await deliver(sink)
    lines = result.transcript.splitlines()
    assert lines[0] == f"* connecting to 127.0.0.1:{sink.port}"
    assert lines[1].startswith("S: 220 ")
    assert "C: EHLO mta.sender.test" in lines
    assert f"C: <{len(MESSAGE) + 3} bytes of message data>" in lines  # + ".\r\n"
    assert "Hello there" not in result.transcript


async def test_eight_bit_body_is_declared():
    body = "From: a@sender.test\r\nSubject: café\r\n\r\nhéllo wörld\r\n".encode()
    with SmtpSink() as sink:
        result = await deliver(sink, body)
        [received] = await sink.wait_for(1)
    assert result.error is None
    assert "BODY=8BITMIME" in received.mail_options
    assert received.data == body


async def test_ascii_body_is_not_declared_eight_bit():
    with SmtpSink() as sink:
        await deliver(sink)
        [received] = await sink.wait_for(1)
    assert "BODY=8BITMIME" not in received.mail_options


async def test_dots_and_bare_line_feeds_arrive_intact():
    body = b"Subject: dots\n\n.leading dot\n..two dots\n.\nlast line without newline"
    with SmtpSink() as sink:
        await deliver(sink, body)
        [received] = await sink.wait_for(1)
    assert received.data == body.replace(b"\n", b"\r\n") + b"\r\n"


async def test_smtputf8_is_requested_for_non_ascii_addresses():
    with SmtpSink() as sink:
        session = await open_ok(sink)
        result = await session.send(SENDER, ["usér@rcpt.test"], MESSAGE)
        await session.close()
        [received] = await sink.wait_for(1)
    assert (result.utf8, result.error) == (True, None)
    assert "SMTPUTF8" in received.mail_options
    assert received.rcpt_tos == ("usér@rcpt.test",)


async def test_smtputf8_needed_but_not_offered_is_permanent():
    with SmtpSink(smtputf8=False) as sink:
        session = await open_ok(sink)
        result = await session.send(SENDER, ["b@rcpt.test"], MESSAGE, smtputf8=True)
        await session.close()
        assert sink.transactions == 0
    assert result.error is not None
    assert (result.error.code, result.error.enhanced) == (553, "5.6.7")
    assert result.reply_for("b@rcpt.test") == result.error


async def test_sink_works_as_an_async_context_manager():
    async with SmtpSink() as sink:
        result = await deliver(sink)
        assert [r.rcpt_tos for r in await sink.wait_for(1)] == [("b@rcpt.test",)]
    assert result.recipients == (RecipientOutcome("b@rcpt.test", result.recipients[0].reply),)


async def test_large_message_arrives_intact():
    line = b".dotted line of a large message, long enough to matter " * 2 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * 10_000  # about 1 MiB, many 64 KiB blocks
    with SmtpSink() as sink:
        result = await deliver(sink, body)
        [received] = await sink.wait_for(1)
    assert result.error is None
    assert received.data == body


async def test_connection_from_a_chosen_local_address():
    with SmtpSink() as sink:
        await deliver(sink, local_addr="127.0.0.1")
        [received] = await sink.wait_for(1)
    assert received.peer[0] == "127.0.0.1"


async def test_addresses_that_would_inject_commands_are_refused():
    with SmtpSink() as sink:
        session = await open_ok(sink)
        with pytest.raises(ValueError, match="cannot be sent"):
            await session.send(SENDER, ["a@rcpt.test>\r\nRSET"], MESSAGE)
        await session.close()
        assert sink.transactions == 0
