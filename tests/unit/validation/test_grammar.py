"""One case per rule of each provider's grammar row (``GRAMMARS``)."""

from __future__ import annotations

import pytest

from mailwright.validation import GRAMMARS, check

OK = None


@pytest.mark.parametrize(
    ("address", "problem", "root"),
    [
        # Gmail: 6-30 counted without dots; letters, digits, dots; dots ignored; +tags
        ("abcdef@gmail.com", OK, None),
        ("abcde@gmail.com", "not 6-30 characters long", None),
        ("a.b.c.d.e@gmail.com", "not 6-30 characters long", None),
        ("a" * 31 + "@gmail.com", "not 6-30 characters long", None),
        ("john_smith@gmail.com", "characters the provider does not allow", None),
        ("John.Smith+x@gmail.com", OK, "johnsmith@gmail.com"),
        ("john.smith@googlemail.com", OK, "johnsmith@gmail.com"),
        # Outlook: first character a letter; letters digits . _ -; +tags; per-domain mailboxes
        ("1john@outlook.com", "the first character is not allowed", None),
        ("john!@outlook.com", "characters the provider does not allow", None),
        ("john.smith+x@hotmail.com", OK, "john.smith@hotmail.com"),
        # Yahoo: 4-32; one dot; no repeated separators; no +; may not end with _ or -
        ("abc@yahoo.com", "not 4-32 characters long", None),
        ("a" * 33 + "@yahoo.com", "not 4-32 characters long", None),
        ("john.s.mith@yahoo.com", "too many dots", None),
        ("john__smith@yahoo.com", "a repeated separator", None),
        ("john+x@yahoo.com", "characters the provider does not allow", None),
        ("john_@yahoo.com", "the last character is not allowed", None),
        ("john-keyword@yahoo.com", OK, "john-keyword@yahoo.com"),
        # iCloud: 3-20, starts with a letter, no hyphen
        ("ab@icloud.com", "not 3-20 characters long", None),
        ("john-smith@me.com", "characters the provider does not allow", None),
        ("john+x@icloud.com", OK, "john@icloud.com"),
        # AOL: no sub-addressing
        ("john+x@aol.com", "characters the provider does not allow", None),
        # GMX: digits may start, "-" may not end
        ("1john@gmx.net", OK, "1john@gmx.net"),
        ("john-@gmx.net", "the last character is not allowed", None),
        # Yandex: one namespace, no repeated hyphens or dots
        ("ivan+x@ya.ru", OK, "ivan@yandex.ru"),
        ("ivan--x@yandex.ru", "a repeated separator", None),
        # Proton: dots, hyphens and underscores ignored; one namespace
        ("j.o-h_n@pm.me", OK, "john@proton.me"),
        ("a" * 41 + "@proton.me", "not 1-40 characters long", None),
        # Zoho, Fastmail, Mail.ru, Tuta, HEY
        ("a@zoho.com", "not 2-40 characters long", None),
        ("abc-d@fastmail.com", "characters the provider does not allow", None),
        ("abc@mail.ru", "not 4-31 characters long", None),
        ("abc+x@tuta.com", "characters the provider does not allow", None),
        ("1ab@hey.com", "the first character is not allowed", None),
    ],
)
def test_provider_rule(address: str, problem: str | None, root: str | None) -> None:
    local, _, domain = address.rpartition("@")
    verdict = check(local, domain)
    assert verdict is not None
    assert verdict.problem == problem
    if root is not None:
        assert verdict.root_address == root


def test_unknown_domain_has_no_grammar() -> None:
    assert check("a", "example.com") is None


def test_every_domain_belongs_to_one_provider() -> None:
    domains = [d for g in GRAMMARS for d in g.domains]
    assert len(domains) == len(set(domains))
    assert {g.name for g in GRAMMARS} >= {
        "gmail",
        "outlook",
        "yahoo",
        "icloud",
        "aol",
        "gmx",
        "yandex",
        "proton",
        "zoho",
        "fastmail",
    }
