"""Envelope encryption of stored secrets (``store/sealing.py``): no database, real AES-GCM."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from mailwright.store.sealing import (
    Keyring,
    MissingKey,
    SealError,
    generate_entry,
    is_sealed,
    key_id_of,
    parse_keys,
)

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
PLACE = "dkim:d1:mw2026"


def ring(*ids: str) -> Keyring:
    return Keyring({key_id: bytes([n + 1]) * 32 for n, key_id in enumerate(ids)})


def test_a_sealed_value_opens_and_shows_nothing_of_the_plaintext() -> None:
    keyring = ring("k1")
    sealed = keyring.seal(PEM, PLACE)
    assert is_sealed(sealed)
    assert key_id_of(sealed) == "k1"
    assert "PRIVATE" not in sealed
    assert "MIIEvQ" not in sealed
    assert keyring.open(sealed, PLACE) == PEM
    # A fresh data key and nonce each time: equal secrets do not look equal at rest.
    assert keyring.seal(PEM, PLACE) != sealed


def test_plaintext_from_before_sealing_reads_as_itself() -> None:
    assert ring("k1").open(PEM, PLACE) == PEM
    assert key_id_of(PEM) is None
    assert ring("k1").seal("", PLACE) == ""  # an erased key stays erased


def test_a_value_sealed_for_another_place_does_not_open() -> None:
    keyring = ring("k1")
    sealed = keyring.seal(PEM, PLACE)
    with pytest.raises(SealError, match="dkim:d2:mw2026"):
        keyring.open(sealed, "dkim:d2:mw2026")


@pytest.mark.parametrize("part", [2, 3])
def test_a_tampered_value_is_refused(part: int) -> None:
    keyring = ring("k1")
    parts = keyring.seal(PEM, PLACE).split(":")
    raw = bytearray(base64.urlsafe_b64decode(parts[part] + "=" * (-len(parts[part]) % 4)))
    raw[-1] ^= 1
    parts[part] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(SealError, match="damaged"):
        keyring.open(":".join(parts), PLACE)


def test_a_malformed_value_is_refused() -> None:
    with pytest.raises(SealError, match="well-formed"):
        ring("k1").open("mwenc1:k1:abc", PLACE)


def test_a_value_under_an_unknown_key_names_that_key() -> None:
    sealed = ring("gone").seal(PEM, PLACE)
    with pytest.raises(MissingKey, match="'gone'") as raised:
        ring("k1").open(sealed, PLACE)
    assert raised.value.key_id == "gone"
    assert "MAILWRIGHT_SECRET_KEYS" in str(raised.value)


def test_a_key_with_the_right_id_but_other_bytes_is_refused() -> None:
    sealed = Keyring({"k1": b"\x01" * 32}).seal(PEM, PLACE)
    with pytest.raises(SealError, match="damaged"):
        Keyring({"k1": b"\x02" * 32}).open(sealed, PLACE)


def test_rewrap_moves_the_data_key_to_the_current_key_only() -> None:
    old, both = ring("old"), Keyring({"new": b"\x09" * 32, "old": b"\x01" * 32})
    sealed = old.seal(PEM, PLACE)
    moved = both.rewrap(sealed, PLACE)
    assert key_id_of(moved) == "new"
    assert moved.split(":")[3] == sealed.split(":")[3]  # the ciphertext itself is untouched
    assert both.rewrap(moved, PLACE) == moved  # already current: unchanged
    new = Keyring({"new": b"\x09" * 32})
    assert new.open(moved, PLACE) == PEM
    assert key_id_of(both.rewrap(PEM, PLACE)) == "new"  # plaintext gets sealed
    with pytest.raises(SealError):
        both.rewrap(sealed, "dkim:other:mw2026")  # a misplaced value is not carried along


def test_parse_keys() -> None:
    first, second = generate_entry(), generate_entry()
    keys = parse_keys(f" {first} , {second} ")
    assert list(keys) == [first.split(":")[0], second.split(":")[0]]
    assert Keyring(keys).current_id == first.split(":")[0]
    for bad, message in [
        ("", "no keys"),
        ("nocolon", "entry 1"),
        ("bad id:" + first.split(":")[1], "entry 1"),
        ("k1:%%%", "not base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "32 bytes"),
        (f"{first},{first}", "twice"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_keys(bad)


def test_the_key_file_is_made_once_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret.key"
    made = Keyring.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    again = Keyring.from_file(path)
    assert again.current_id == made.current_id
    assert again.open(made.seal(PEM, PLACE), PLACE) == PEM
    path.write_text("k1:notakey\n")
    with pytest.raises(SealError, match=r"secret\.key"):
        Keyring.from_file(path)
