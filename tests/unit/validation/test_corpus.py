"""The address corpus (tests/fixtures/validation/corpus.tsv): verdicts written from RFC 5321,
5322, 6531 and the providers' published rules, checked against syntax + grammar + decide."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from mailwright.validation import Address, Facts, check, decide, parse

CORPUS = Path(__file__).parents[2] / "fixtures" / "validation" / "corpus.tsv"


def _rows() -> list[dict[str, str]]:
    with CORPUS.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = _rows()


def _category(address: str) -> tuple[str, str | None]:
    parsed = parse(address)
    if not isinstance(parsed, Address):
        return "syntax", None
    if parsed.is_literal:
        return "literal", None
    grammar = check(parsed.local, parsed.domain)
    if grammar is not None and grammar.problem is not None:
        return "grammar", None
    root = decide(Facts(address=address, parsed=parsed, grammar=grammar))["root_address"]
    return "valid", root


def test_corpus_is_large_and_covers_every_category() -> None:
    assert len(ROWS) >= 300
    assert {row["expected"] for row in ROWS} == {"valid", "syntax", "grammar", "literal"}
    assert len({row["address"] for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[f"{i}:{r['address'][:40]}" for i, r in enumerate(ROWS)])
def test_corpus_verdict(row: dict[str, str]) -> None:
    category, root = _category(row["address"])
    assert category == row["expected"], row["note"]
    if category == "valid":
        assert root == (row["root_address"] or None), row["note"]


def test_decide_reports_syntax_distinctly_from_no_mx() -> None:
    body = decide(Facts(address="nope", parsed=parse("nope")))
    assert body == {
        "address": "nope",
        "did_you_mean": None,
        "is_disposable_address": False,
        "is_role_address": False,
        "reason": ["failed syntax check"],
        "result": "undeliverable",
        "risk": "high",
        "root_address": None,
    }
