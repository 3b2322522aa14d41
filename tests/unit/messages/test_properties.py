"""Hypothesis properties of the send path's pure parts: the fast MIME writer is byte-identical
to the stdlib ``email`` rendering, the address shortcut answers what ``getaddresses`` answers,
and ``%recipient.KEY%`` substitution follows a one-pass model. Derandomised, so CI runs the
same examples every time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email.utils import getaddresses
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mailwright.errors import InvalidInput
from mailwright.messages.form import Upload, _Addresses, _getaddresses, parse_send, validate_address
from mailwright.messages.render import render, render_with_email, substitute

NOW = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
FAST = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- strategies ------------------------------------------------------------------------------

_ATOM = st.text("abcxyzABC019_+-", min_size=1, max_size=8)
_LABEL = st.text("abcz019", min_size=1, max_size=6)
_TLD = st.sampled_from(["com", "org", "example", "de", "co"])


@st.composite
def addresses(draw: st.DrawFn) -> str:
    local = ".".join(draw(st.lists(_ATOM, min_size=1, max_size=3)))
    labels = draw(st.lists(_LABEL, min_size=1, max_size=3))
    return f"{local}@{'.'.join(labels)}.{draw(_TLD)}"


_NAME = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(' ,."<>()\\'),
    max_size=20,
)


@st.composite
def mailboxes(draw: st.DrawFn) -> str:
    """``a@b.c``, ``Name <a@b.c>`` or ``"Quoted, Name" <a@b.c>``: what API clients send."""
    address = draw(addresses())
    form = draw(st.sampled_from(["bare", "plain", "quoted"]))
    if form == "bare":
        return address
    if form == "plain":
        words = draw(st.lists(st.text("abcXYZ019", min_size=1, max_size=6), min_size=1))
        return f"{' '.join(words)} <{address}>"
    name = draw(_NAME).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{name}" <{address}>'


# Anything a client might put in an address field: near-misses of the shortcut's grammar.
_ADDRESS_NOISE = st.text(
    st.sampled_from("ab019 .,@<>\"'()\\:;[]_+-é\t") | st.characters(codec="utf-8"), max_size=30
)
_BODY = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("\r\n.\t "),
    max_size=300,
)
_ONE_LINE = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\n"),
    max_size=120,
)
_VALUE = _ONE_LINE | st.integers() | st.booleans() | st.none()


@st.composite
def sends(draw: st.DrawFn) -> tuple[list[tuple[str, str]], str]:
    to = draw(st.lists(mailboxes(), min_size=1, max_size=3))
    fields = [("from", draw(mailboxes())), *[("to", value) for value in to]]
    fields += [("subject", draw(_ONE_LINE)), ("text", draw(_BODY))]
    if draw(st.booleans()):
        fields.append(("html", draw(_BODY)))
    for key, value in draw(
        st.dictionaries(st.sampled_from(["X-A", "X-Long", "Reply-To"]), _ONE_LINE)
    ).items():
        fields.append((f"h:{key}", value))
    recipient = getaddresses([to[0]])[0][1]
    if draw(st.booleans()):
        variables = draw(st.dictionaries(st.sampled_from(["name", "n", "x"]), _VALUE, max_size=3))
        fields.append(("recipient-variables", json.dumps({recipient: variables})))
        fields.append(("subject", draw(_ONE_LINE) + " %recipient.name%"))
    return fields, recipient


# -- the MIME writer -------------------------------------------------------------------------


@settings(FAST, max_examples=80)
@given(sends(), st.sampled_from([[], [Upload("attachment", "r.txt", "text/plain", b"x\r\ny")]]))
def test_fast_writer_is_byte_identical_to_email(
    send: tuple[list[tuple[str, str]], str], uploads: list[Upload]
) -> None:
    fields, recipient = send
    try:
        request = parse_send(fields, uploads, now=NOW)
    except InvalidInput:
        assume(False)
        return
    args: dict[str, Any] = {"recipient": recipient, "message_id": "a.b@example.com", "date": NOW}
    assert render(request.spec, request.blobs, **args) == render_with_email(
        request.spec, request.blobs, **args
    )


# -- addresses -------------------------------------------------------------------------------


@FAST
@given(st.lists(mailboxes() | _ADDRESS_NOISE, min_size=1, max_size=4))
def test_address_shortcut_answers_what_getaddresses_answers(values: list[str]) -> None:
    assert _getaddresses(values) == getaddresses(values)


@FAST
@given(st.lists(mailboxes(), min_size=1, max_size=6))
def test_envelope_is_every_address_once_in_order(values: list[str]) -> None:
    parsed = _Addresses()
    pairs = parsed.parse(values, "to")
    expected: dict[str, str] = {}
    for _, address in getaddresses(values):
        normalised = validate_address(address)
        assert normalised is not None
        expected.setdefault(normalised.lower(), normalised)
    assert parsed.envelope == list(expected.values())
    assert [address for _, address in pairs] == [
        validate_address(address) for _, address in getaddresses(values)
    ]


# -- recipient-variables ---------------------------------------------------------------------

_KEY = st.text(
    st.characters(codec="utf-8", exclude_characters="% \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"),
    min_size=1,
    max_size=8,
)
_SEGMENT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="%"), max_size=10).map(
        lambda text: ("text", text)
    ),
    st.just(("recipient", "")),
    _KEY.map(lambda key: ("key", key)),
)


@FAST
@given(
    st.lists(_SEGMENT, max_size=8),
    st.dictionaries(_KEY, _VALUE, max_size=4),
    addresses(),
)
def test_substitution_is_one_pass_and_leaves_unknown_keys(
    segments: list[tuple[str, str]], variables: dict[str, Any], recipient: str
) -> None:
    text, expected = "", ""
    for kind, value in segments:
        if kind == "text":
            text, expected = text + value, expected + value
        elif kind == "recipient":
            text, expected = text + "%recipient%", expected + recipient
        else:
            placeholder = f"%recipient.{value}%"
            known = value in variables and not re.search(r"\s", value)
            text += placeholder
            expected += _as_text(variables[value]) if known else placeholder
    assert substitute(text, variables, recipient) == expected


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)
