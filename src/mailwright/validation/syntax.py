"""Address syntax: RFC 5321/5322 mailboxes, RFC 6531 internationalised addresses, IDNA domains.

``parse`` starts from email-validator (quoted local parts and address literals allowed, no DNS)
and adds what a list-cleaning service needs past it: Mailgun's 512-character input limit,
rejection of whitespace and display-name forms (``Name <a@b>`` is a header, not an address), and
a separate flag for address literals, which are valid syntax but never a mailbox a list should
keep. The deviations from the RFCs are listed in the README ("Validation").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

MAX_INPUT = 512  # Mailgun: "address" is at most 512 characters

# RFC 5322 3.2.3 dot-atom with a common-case domain: the fast path skips email-validator.
_SIMPLE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
# RFC 2606 / RFC 6761 special-use names never receive Internet mail.
SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test", "example"})


@dataclass(frozen=True, slots=True)
class Address:
    local: str  # as given, without quotes when they were unnecessary
    domain: str  # lower-case A-label (punycode) form, or the literal "[...]"
    is_quoted: bool  # the local part needs a quoted-string (RFC 5321 4.1.2)
    is_literal: bool  # the domain is an address literal (RFC 5321 4.1.3)
    is_smtputf8: bool  # the local part is not ASCII (RFC 6531)

    @property
    def text(self) -> str:
        local = f'"{self.local}"' if self.is_quoted else self.local
        return f"{local}@{self.domain}"


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    detail: str


@functools.lru_cache(maxsize=65536)
def parse(address: str) -> Address | SyntaxProblem:
    if len(address) > MAX_INPUT:
        return SyntaxProblem(f"longer than {MAX_INPUT} characters")
    if address != address.strip() or "\n" in address or "\r" in address:
        return SyntaxProblem("surrounding whitespace or a line break")
    simple = _SIMPLE.fullmatch(address)
    if simple is not None:
        return _simple(address, simple.group(1).lower())
    return _full(address)


def _simple(address: str, domain: str) -> Address | SyntaxProblem:
    local = address.rpartition("@")[0]
    if len(local) > 64:
        return SyntaxProblem("the local part is longer than 64 octets (RFC 5321 4.5.3.1.1)")
    if len(local) + 1 + len(domain) > 254:
        return SyntaxProblem("longer than 254 octets (RFC 5321 4.5.3.1.3 with 3.3's <>)")
    problem = _tld_problem(domain)
    if problem is not None:
        return problem
    return Address(local, domain, is_quoted=False, is_literal=False, is_smtputf8=False)


def _full(address: str) -> Address | SyntaxProblem:
    try:
        found = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_quoted_local=True,
            allow_domain_literal=True,
            allow_display_name=False,
            allow_empty_local=False,
            globally_deliverable=True,
        )
    except EmailNotValidError as exc:
        return SyntaxProblem(str(exc))
    local = found.local_part or ""
    domain = found.ascii_domain or found.domain
    is_literal = domain.startswith("[")
    problem = None if is_literal else _tld_problem(domain.lower())
    if problem is not None:
        return problem
    is_quoted = found.normalized.startswith('"')
    if is_quoted:
        local = local.removeprefix('"').removesuffix('"')
    return Address(
        local,
        domain if is_literal else domain.lower(),
        is_quoted=is_quoted,
        is_literal=is_literal,
        is_smtputf8=not local.isascii(),
    )


def _tld_problem(domain: str) -> SyntaxProblem | None:
    tld = domain.rpartition(".")[2]
    if tld in SPECIAL_USE_TLDS:
        return SyntaxProblem(f"{domain} is a special-use domain (RFC 6761)")
    # Every delegated TLD is two or more letters, or an IDNA A-label (RFC 1123 2.1 forbids an
    # all-numeric one); email-validator accepts "a@b.c".
    if not (tld.startswith("xn--") or (len(tld) >= 2 and tld.isalpha())):
        return SyntaxProblem(f"{tld!r} is not a top-level domain")
    return None
