"""Mailbox providers' own local-part rules, as a data table (``GRAMMARS``), and ``check``.

Each row is what the provider's sign-up form accepts, from its published help pages (sources in
the README, "Validation"): length, allowed characters, first and last character, and how the
provider folds addresses onto one mailbox (ignored dots, ``+tag`` sub-addressing). A local part
outside its provider's grammar cannot be a real mailbox there ("failed custom grammar check").
``root_address`` is the one mailbox every folded spelling delivers to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Grammar:
    name: str
    domains: tuple[str, ...]  # the first one is where root addresses point
    min_length: int  # counted on the mailbox name: without the +tag, and without ignored chars
    max_length: int
    allowed: str  # a regex character class for the mailbox name
    first: str  # character class of the first character
    last: str  # character class of the last character
    ignored: str = ""  # characters the provider drops when it routes (Gmail's dots)
    tag_separator: str = "+"  # "" when the provider has no sub-addressing
    no_repeats: str = "."  # characters that may not appear twice in a row
    max_dots: int | None = None  # Yahoo: at most one dot
    # The domains are aliases of one account namespace (gmail.com = googlemail.com); otherwise
    # the same name on two of the provider's domains is two different mailboxes.
    is_one_namespace: bool = False


_LD = "a-z0-9"
_OUTLOOK = (
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "hotmail.de",
    "hotmail.it",
    "hotmail.es",
    "live.co.uk",
    "live.fr",
    "outlook.fr",
    "outlook.de",
    "outlook.es",
    "windowslive.com",
    "passport.com",
)
_YAHOO = (
    "yahoo.com",
    "ymail.com",
    "rocketmail.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "yahoo.de",
    "yahoo.it",
    "yahoo.es",
    "yahoo.ca",
    "yahoo.co.in",
    "yahoo.com.au",
    "yahoo.co.jp",
    "yahoo.com.br",
)
# fmt: off
GRAMMARS: tuple[Grammar, ...] = (
    # name, domains, min, max, allowed, first, last, options
    Grammar("gmail", ("gmail.com", "googlemail.com"), 6, 30, _LD + ".", _LD, _LD,
            ignored=".", is_one_namespace=True),
    Grammar("outlook", _OUTLOOK, 1, 64, _LD + "._-", "a-z", _LD + "_-"),
    # "-" only in Yahoo's disposable addresses (nickname-keyword); no sub-addressing.
    Grammar("yahoo", _YAHOO, 4, 32, _LD + "._-", "a-z", _LD,
            tag_separator="", no_repeats="._-", max_dots=1),
    Grammar("icloud", ("icloud.com", "me.com", "mac.com"), 3, 20, _LD + "._", "a-z", _LD),
    Grammar("aol", ("aol.com", "aim.com", "aol.co.uk", "aol.de", "aol.fr"), 3, 32, _LD + "._",
            "a-z", _LD, tag_separator=""),
    Grammar("gmx", ("gmx.net", "gmx.com", "gmx.de", "gmx.at", "gmx.ch", "gmx.us"), 3, 40,
            _LD + "._-", _LD, _LD, tag_separator=""),
    Grammar("web.de", ("web.de",), 3, 40, _LD + "._-", _LD, _LD, tag_separator=""),
    Grammar("yandex", ("yandex.ru", "yandex.com", "ya.ru", "yandex.by", "yandex.kz", "yandex.ua"),
            1, 30, _LD + ".-", "a-z", _LD, no_repeats=".-", is_one_namespace=True),
    Grammar("proton", ("proton.me", "protonmail.com", "protonmail.ch", "pm.me"), 1, 40,
            _LD + "._-", _LD, _LD, ignored="._-", no_repeats="", is_one_namespace=True),
    Grammar("zoho", ("zohomail.com", "zoho.com", "zohomail.eu", "zoho.eu"), 2, 40, _LD + "._-",
            _LD, _LD),
    Grammar("fastmail", ("fastmail.com", "fastmail.fm", "fastmail.net", "fastmail.org",
                         "fastmail.us", "sent.com", "messagingengine.com"), 3, 40, _LD + "._",
            "a-z", _LD),
    Grammar("mail.ru", ("mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru"), 4, 31,
            _LD + "._-", _LD, _LD),
    Grammar("tuta", ("tuta.com", "tutanota.com", "tutanota.de", "tutamail.com", "tuta.io",
                     "keemail.me"), 3, 64, _LD + "._-", _LD, _LD, tag_separator=""),
    Grammar("hey", ("hey.com",), 2, 40, _LD + "._-", "a-z", _LD),
)
# fmt: on
_BY_DOMAIN = {domain: grammar for grammar in GRAMMARS for domain in grammar.domains}


@dataclass(frozen=True, slots=True)
class Verdict:
    grammar: Grammar
    problem: str | None  # None: the local part fits the provider's grammar
    root_address: str  # the folded mailbox


def grammar_for(domain: str) -> Grammar | None:
    return _BY_DOMAIN.get(domain.lower())


def check(local: str, domain: str) -> Verdict | None:
    """The provider's verdict on ``local``; None when ``domain`` has no grammar in the table.

    >>> check("John.Smith+news", "googlemail.com").root_address
    'johnsmith@gmail.com'
    """
    grammar = grammar_for(domain)
    if grammar is None:
        return None
    name = local.lower()
    if grammar.tag_separator and grammar.tag_separator in name:
        name = name.partition(grammar.tag_separator)[0]
    folded = re.sub(f"[{re.escape(grammar.ignored)}]", "", name) if grammar.ignored else name
    root = f"{folded}@{grammar.domains[0] if grammar.is_one_namespace else domain.lower()}"
    return Verdict(grammar, _problem(grammar, name, folded), root)


def _problem(grammar: Grammar, name: str, folded: str) -> str | None:
    if not re.fullmatch(f"[{grammar.allowed}]+", name):
        return "characters the provider does not allow"
    if not grammar.min_length <= len(folded) <= grammar.max_length:
        return f"not {grammar.min_length}-{grammar.max_length} characters long"
    if not re.fullmatch(f"[{grammar.first}]", name[0]):
        return "the first character is not allowed"
    if not re.fullmatch(f"[{grammar.last}]", name[-1]):
        return "the last character is not allowed"
    if any(c * 2 in name for c in grammar.no_repeats):
        return "a repeated separator"
    if grammar.max_dots is not None and name.count(".") > grammar.max_dots:
        return "too many dots"
    return None
