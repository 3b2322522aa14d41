import pytest

from mailwright.domains.spf import (
    LookupCount,
    all_qualifier,
    count_lookups,
    covers,
    is_spf,
    targets,
)

TEN_INCLUDES = {f"i{n}.test": ["v=spf1 ip4:192.0.2.1 -all"] for n in range(10)}


@pytest.mark.parametrize(
    ("record", "published", "expected"),
    [
        pytest.param("v=spf1 -all", {}, LookupCount(0), id="nothing-to-look-up"),
        pytest.param(
            "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all", {}, LookupCount(0), id="ip-free"
        ),
        pytest.param("v=spf1 a mx ptr exists:%{i}.x.test -all", {}, LookupCount(4), id="a-mx-ptr"),
        pytest.param("v=spf1 a/24 mx:mail.test/24 ~all", {}, LookupCount(2), id="cidr-suffix"),
        pytest.param(
            "v=spf1 include:a.test ~all",
            {"a.test": ["v=spf1 include:b.test a -all"], "b.test": ["v=spf1 mx mx -all"]},
            LookupCount(5),
            id="nested-includes-count",
        ),
        pytest.param(
            "v=spf1 redirect=r.test",
            {"r.test": ["v=spf1 a mx -all"]},
            LookupCount(3),
            id="redirect-counts-and-is-followed",
        ),
        pytest.param(
            "v=spf1 mx -all redirect=r.test",
            {"r.test": ["v=spf1 a mx -all"]},
            LookupCount(1),
            id="redirect-ignored-with-all",
        ),
        pytest.param(
            "v=spf1 " + " ".join(f"include:i{n}.test" for n in range(10)) + " -all",
            TEN_INCLUDES,
            LookupCount(10),
            id="exactly-ten",
        ),
        pytest.param(
            "v=spf1 mx " + " ".join(f"include:i{n}.test" for n in range(10)) + " -all",
            TEN_INCLUDES,
            LookupCount(11),
            id="eleven",
        ),
        pytest.param(
            "v=spf1 include:gone.test -all",
            {},
            LookupCount(1, missing=("gone.test",)),
            id="include-without-record",
        ),
        pytest.param(
            "v=spf1 include:two.test -all",
            {"two.test": ["v=spf1 a -all", "v=spf1 mx -all"]},
            LookupCount(1, missing=("two.test",)),
            id="include-with-two-records",
        ),
        pytest.param(
            "v=spf1 include:loop.test -all",
            {"loop.test": ["v=spf1 include:loop.test -all"]},
            LookupCount(2, loops=("loop.test",)),
            id="include-loop",
        ),
        pytest.param(
            "v=spf1 include:A.Test. -all",
            {"a.test": ["unrelated", "v=spf1 a -all"]},
            LookupCount(2),
            id="names-normalised-other-txt-ignored",
        ),
        pytest.param(
            "v=spf1 include:%{d}.macro.test -all", {}, LookupCount(1), id="macro-not-followed"
        ),
    ],
)
def test_count_lookups(record: str, published: dict, expected: LookupCount) -> None:
    assert count_lookups(record, published) == expected


def test_over_limit_is_more_than_ten() -> None:
    assert not LookupCount(10).is_over_limit
    assert LookupCount(11).is_over_limit


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("v=spf1 include:a.test include:b.test -all", ["a.test", "b.test"]),
        ("v=spf1 redirect=r.test", ["r.test"]),
        ("v=spf1 include:a.test ?all redirect=r.test", ["a.test"]),
        ("v=spf1 a mx ip4:192.0.2.1 -all", []),
    ],
)
def test_targets(record: str, expected: list[str]) -> None:
    assert targets(record) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("v=spf1 -all", True), ("V=SPF1", True), ("v=spf10 -all", False), ("spf1", False)],
)
def test_is_spf(value: str, expected: bool) -> None:
    assert is_spf(value) is expected


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        ("v=spf1 mx include:spf.mw.test ~all", True),
        ("v=spf1 +include:SPF.mw.test -all", True),
        ("v=spf1 ~include:spf.mw.test -all", False),
        ("v=spf1 include:other.test -all", False),
    ],
)
def test_covers(published: str, expected: bool) -> None:
    assert covers(published, "v=spf1 include:spf.mw.test ~all") is expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [("v=spf1 -all", "-"), ("v=spf1 all", "+"), ("v=spf1 ?all", "?"), ("v=spf1 mx", None)],
)
def test_all_qualifier(record: str, expected: str | None) -> None:
    assert all_qualifier(record) == expected
