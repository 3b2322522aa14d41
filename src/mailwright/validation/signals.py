"""Risk signals that need no network: role and disposable addresses, free providers, and typo
suggestions for the domain (``did_you_mean``).

The disposable list is the ``disposable-email-domains`` package (updated by upgrading it, see
the README); a subdomain of a listed domain is disposable too. Suggestions compare the domain
with ``POPULAR_DOMAINS`` by Damerau-Levenshtein distance where a substitution between keys that
touch on a QWERTY keyboard costs 0.5, and fix known TLD slips (``.con``, ``.cmo``) on their own.
"""

from __future__ import annotations

import functools

from disposable_email_domains import allowlist, blocklist

from mailwright.validation.grammar import GRAMMARS

# RFC 2142 mailbox names plus the common team aliases; the local part before any +tag.
ROLE_NAMES = frozenset(
    {
        "abuse",
        "admin",
        "administrator",
        "billing",
        "compliance",
        "contact",
        "contactus",
        "customercare",
        "customerservice",
        "devnull",
        "dns",
        "enquiries",
        "feedback",
        "ftp",
        "help",
        "helpdesk",
        "hostmaster",
        "hr",
        "info",
        "infos",
        "inquiries",
        "it",
        "jobs",
        "legal",
        "list",
        "list-request",
        "mail",
        "mailer-daemon",
        "marketing",
        "media",
        "news",
        "newsletter",
        "noc",
        "no-reply",
        "noreply",
        "null",
        "office",
        "orders",
        "postmaster",
        "press",
        "privacy",
        "root",
        "sales",
        "security",
        "service",
        "spam",
        "support",
        "sysadmin",
        "team",
        "tech",
        "usenet",
        "uucp",
        "webmaster",
        "www",
    }
)
FREE_PROVIDERS = frozenset(
    {d for g in GRAMMARS for d in g.domains}
    | {
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "naver.com",
        "daum.net",
        "rediffmail.com",
        "libero.it",
        "laposte.net",
        "orange.fr",
        "free.fr",
        "t-online.de",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "interia.pl",
        "mail.com",
        "email.com",
        "inbox.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "bellsouth.net",
        "btinternet.com",
        "virginmedia.com",
        "sky.com",
        "shaw.ca",
        "rogers.com",
        "bigpond.com",
        "hushmail.com",
    }
)
POPULAR_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "aol.com",
    "icloud.com",
    "live.com",
    "msn.com",
    "me.com",
    "mac.com",
    "googlemail.com",
    "ymail.com",
    "protonmail.com",
    "proton.me",
    "gmx.com",
    "gmx.net",
    "gmx.de",
    "web.de",
    "yandex.ru",
    "yandex.com",
    "mail.ru",
    "zoho.com",
    "fastmail.com",
    "comcast.net",
    "verizon.net",
    "att.net",
    "sbcglobal.net",
    "hotmail.co.uk",
    "yahoo.co.uk",
    "btinternet.com",
    "qq.com",
    "163.com",
    "naver.com",
    "orange.fr",
    "free.fr",
    "libero.it",
    "t-online.de",
    "rocketmail.com",
)
# Second-level slips of ".com" that are themselves registrable: only suggested on their own
# when the name before them is a popular provider (gmail.co is not hotmail.co's business).
TLD_TYPOS = {
    "con": "com",
    "cmo": "com",
    "ocm": "com",
    "comm": "com",
    "coom": "com",
    "cpm": "com",
    "xom": "com",
    "vom": "com",
    "om": "com",
    "c0m": "com",
    "nte": "net",
    "ent": "net",
    "nett": "net",
    "ogr": "org",
    "rog": "org",
}
_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_POSITION = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
MAX_DISTANCE = 2.0


def is_role(local: str) -> bool:
    return local.lower().partition("+")[0] in ROLE_NAMES


def is_disposable(domain: str) -> bool:
    name = domain.lower()
    if name in allowlist:
        return False
    labels = name.split(".")
    return any(".".join(labels[i:]) in blocklist for i in range(len(labels) - 1))


def is_free(domain: str) -> bool:
    return domain.lower() in FREE_PROVIDERS


def _is_adjacent(a: str, b: str) -> bool:
    pa, pb = _POSITION.get(a), _POSITION.get(b)
    return pa is not None and pb is not None and abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1


def _substitution(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return 0.5 if _is_adjacent(a, b) else 1.0


def distance(a: str, b: str) -> float:
    """Damerau-Levenshtein (optimal string alignment); a substitution by a neighbouring key
    costs 0.5, any other edit 1.

    >>> distance("gmail.com", "gmaik.com"), distance("gmail.com", "gmial.com")
    (0.5, 1.0)
    """
    rows = [[float(j) for j in range(len(b) + 1)]]
    for i in range(1, len(a) + 1):
        row = [float(i)] + [0.0] * len(b)
        for j in range(1, len(b) + 1):
            cost = _substitution(a[i - 1], b[j - 1])
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


@functools.lru_cache(maxsize=16384)
def suggest_domain(domain: str) -> str | None:
    """The popular domain ``domain`` was probably meant to be, or None."""
    name = domain.lower()
    if name in POPULAR_DOMAINS or name in FREE_PROVIDERS:
        return None
    base, _, tld = name.rpartition(".")
    fixed_tld = TLD_TYPOS.get(tld)
    if fixed_tld is not None and base and f"{base}.{fixed_tld}" in POPULAR_DOMAINS:
        return f"{base}.{fixed_tld}"
    # A short domain is one keystroke away from too many real ones to guess.
    limit = 1.0 if len(name) <= 7 else MAX_DISTANCE
    # Each insertion or deletion costs 1, so a length gap over the limit cannot be closed.
    near = [p for p in POPULAR_DOMAINS if abs(len(p) - len(name)) <= limit]
    scored = sorted((distance(name, p), p) for p in near if len(set(p) ^ set(name)) <= 4)
    if scored and scored[0][0] <= limit:
        return scored[0][1]
    if fixed_tld is not None and base:
        return f"{base}.{fixed_tld}"
    return None
