from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import dkim
import dns.rdatatype
import dns.resolver
import pytest
from dns.nameserver import Do53Nameserver

from mailwright.domains.dkim import DkimKey, generate_key, new_selector, sign, txt_value
from mailwright.errors import InvalidInput
from tests.support.dns import LoopbackDNS

DOMAIN = "example.test"
MESSAGE = (
    b"From: Sender <sender@example.test>\r\n"
    b"To: rcpt@example.org\r\n"
    b"Subject: Hello\r\n"
    b"Date: Mon, 06 May 2024 10:00:00 +0000\r\n"
    b"Message-ID: <20240506100000.1@example.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"List-Unsubscribe: <mailto:u@example.test>\r\n"
    b"\r\n"
    b"Hello there.\r\n"
)


@pytest.fixture(scope="module", params=[1024, 2048])
def key(request: pytest.FixtureRequest) -> DkimKey:
    return generate_key("mw202405", request.param)


@pytest.fixture
def loopback(key: DkimKey) -> Iterator[LoopbackDNS]:
    zone = f'{key.selector}._domainkey.{DOMAIN}. 300 IN TXT "{txt_value(key.public_b64)}"'
    with LoopbackDNS(zone) as server:
        yield server


@pytest.fixture
def dnsfunc(loopback: LoopbackDNS) -> Callable[..., bytes | None]:
    """dkimpy's TXT lookup, answered by a real query to the loopback server."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [Do53Nameserver(*loopback.address)]
    resolver.use_edns(0, 0, 1232)

    def lookup(name: bytes, timeout: float = 5) -> bytes | None:
        resolver.lifetime = timeout
        try:
            answer = resolver.resolve(name.decode(), dns.rdatatype.TXT, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings)

    return lookup


def test_signed_message_verifies(key: DkimKey, loopback: LoopbackDNS, dnsfunc) -> None:
    signed = sign(MESSAGE, domain=DOMAIN, selector=key.selector, private_pem=key.private_pem)

    assert signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert signed.endswith(MESSAGE)
    assert dkim.verify(signed, dnsfunc=dnsfunc)
    assert (f"{key.selector}._domainkey.{DOMAIN}", "TXT", "udp") in loopback.queries


def test_signature_covers_the_headers_recipients_see(key: DkimKey) -> None:
    signed = sign(MESSAGE, domain=DOMAIN, selector=key.selector, private_pem=key.private_pem)
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    h_tag = header.split("h=", 1)[1].split(";", 1)[0]
    signed_headers = {h.strip() for h in h_tag.replace("\r\n", "").split(":")}
    assert {"from", "to", "subject", "date", "message-id", "list-unsubscribe"} <= signed_headers


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(b"Hello there.", b"Hello thera.", id="body"),
        pytest.param(b"Subject: Hello", b"Subject: Hellp", id="subject"),
    ],
)
def test_tampered_message_fails(key: DkimKey, dnsfunc, old: bytes, new: bytes) -> None:
    signed = sign(MESSAGE, domain=DOMAIN, selector=key.selector, private_pem=key.private_pem)
    assert not dkim.verify(signed.replace(old, new), dnsfunc=dnsfunc)


def test_relaxed_canonicalisation_survives_refolding(key: DkimKey, dnsfunc) -> None:
    signed = sign(MESSAGE, domain=DOMAIN, selector=key.selector, private_pem=key.private_pem)
    refolded = signed.replace(b"Subject: Hello", b"Subject:   Hello").replace(
        b"Hello there.\r\n", b"Hello   there.  \r\n"
    )
    assert dkim.verify(refolded, dnsfunc=dnsfunc)


def test_unpublished_selector_fails(key: DkimKey, dnsfunc) -> None:
    signed = sign(MESSAGE, domain=DOMAIN, selector="unpublished", private_pem=key.private_pem)
    assert not dkim.verify(signed, dnsfunc=dnsfunc)


def test_bare_lf_message_verifies(key: DkimKey, dnsfunc) -> None:
    message = MESSAGE.replace(b"\r\n", b"\n")
    signed = sign(message, domain=DOMAIN, selector=key.selector, private_pem=key.private_pem)
    assert b"\r" not in signed
    assert dkim.verify(signed, dnsfunc=dnsfunc)


def test_generated_key_shape(key: DkimKey) -> None:
    assert key.private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert key.public_b64.startswith("MI")
    assert "PRIVATE" not in repr(key)


@pytest.mark.parametrize("bits", [512, 4096])
def test_unsupported_key_size(bits: int) -> None:
    with pytest.raises(InvalidInput):
        generate_key("mw202405", bits)


def test_new_selector() -> None:
    assert new_selector(datetime(2024, 5, 6, tzinfo=UTC)) == "mw202405"


def test_openssl_rsa_step_matches_dkimpys_own(key: DkimKey) -> None:
    """PKCS#1 v1.5 is deterministic: OpenSSL's signature equals dkimpy's pure-Python one."""
    import hashlib

    import dkim.crypto

    from mailwright.domains.dkim import _openssl_rsa_sign

    parsed = dkim.crypto.parse_pem_private_key(key.private_pem.encode())
    digest = dkim.HashThrough(hashlib.sha256())
    digest.update(b"some canonicalised headers")
    assert _openssl_rsa_sign(digest, parsed) == dkim.crypto.RSASSA_PKCS1_v1_5_sign(digest, parsed)


WHITESPACE_SAMPLES = [
    b"",
    b"plain words with single spaces\r\n",
    b"two  spaces and\ttab and \t mixed   runs\r\n",
    b"trailing space \r\ntrailing tab\t\r\ntrailing mix \t \r\n",
    b" leading\r\n\tleading tab\r\n",
    b"no crlf at end   ",
    b"bare \n lf and \r cr  \r\n",
    b"\r\n\r\n   \r\n\t\r\n",
    bytes(range(256)) * 3,
    b"a\r \r\nb \r\r\nc\t \r\n \r\n",  # CRs next to the whitespace, a line of spaces
    b"x \r\n" * 3000 + b"last line keeps its spaces  ",
]


@pytest.mark.parametrize("content", WHITESPACE_SAMPLES)
def test_canonicalisation_helpers_match_dkimpys(content: bytes) -> None:
    """The faster relaxed-canonicalisation helpers give exactly dkimpy's bytes."""
    import re

    from mailwright.domains.dkim import _compress_whitespace, _strip_trailing_whitespace

    assert _compress_whitespace(content) == re.sub(b"[\t ]+", b" ", content)
    assert _strip_trailing_whitespace(content) == re.sub(b"[\t ]+\r\n", b"\r\n", content)


def test_signature_of_a_whitespace_heavy_body_verifies(key: DkimKey, dnsfunc) -> None:
    body = b"".join(WHITESPACE_SAMPLES[1:5]) + b"end\r\n"
    signed = sign(
        MESSAGE.replace(b"Hello there.\r\n", body),
        domain=DOMAIN,
        selector=key.selector,
        private_pem=key.private_pem,
    )
    assert dkim.verify(signed, dnsfunc=dnsfunc)


PARSE_SAMPLES = [
    MESSAGE,
    MESSAGE.replace(b"\r\n", b"\n"),  # bare LFs throughout
    MESSAGE.replace(b"Hello there.\r\n", b"Hello\nthere.\r\n"),  # one bare LF in the body
    b"Subject: folded\r\n  over two lines\r\n\tand a third\r\nTo: a@b.example\r\n\r\nbody\r\n",
    b"From someone@example.com Thu Nov 26 10:00:00 2026\r\nSubject: mbox\r\n\r\nbody\r\n",
    b"Subject: no body\r\n\r\n",
    b"Subject: no blank line\r\n",
    b"\r\nSubject: empty header block\r\n\r\nbody\r\n",
    b"Subject: lone CR\rin a header\r\n\r\nbody with \r lone CR\r\n\r\n\r\n",
    b"Subject: no final line end\r\n\r\nbody",
    b"Subject: x\r\n\r\n" + b"a line of a bigger body\r\n" * 5000,
]


@pytest.mark.parametrize("message", PARSE_SAMPLES)
def test_message_parser_matches_dkimpys(message: bytes) -> None:
    """The header/body split used for signing and verifying gives exactly dkimpy's result."""
    from mailwright.domains.dkim import _DKIMPY_RFC822_PARSE, _rfc822_parse

    assert _rfc822_parse(message) == _DKIMPY_RFC822_PARSE(message)


def test_message_parser_refuses_what_dkimpys_refuses() -> None:
    from mailwright.domains.dkim import _DKIMPY_RFC822_PARSE, _rfc822_parse

    bad = b"Subject: fine\r\nnot a header line\r\n\r\nbody\r\n"
    with pytest.raises(dkim.MessageFormatError):
        _DKIMPY_RFC822_PARSE(bad)
    with pytest.raises(dkim.MessageFormatError):
        _rfc822_parse(bad)
